"""Smoke: every console page renders for an owner."""

from admin_support import sign_in

from dripper_testkit.builders import add_person, make_admin


def test_every_page_renders_for_an_owner(app, client, course):
    make_admin()
    assert sign_in(client, "owner@example.org") == 303
    person = add_person(course, "+12025550123")
    from dripper.extensions import db

    db.session.commit()
    for url in [
        "/admin/",
        "/admin/courses",
        f"/admin/courses/{course.slug}",
        f"/admin/courses/{course.slug}/settings",
        f"/admin/courses/{course.slug}/history",
        f"/admin/courses/{course.slug}/lessons/new",
        f"/admin/courses/{course.slug}/lessons/{course.lessons[0].key}",
        f"/admin/courses/{course.slug}/export.yaml",
        "/admin/courses/new",
        "/admin/subscribers",
        f"/admin/subscribers/{person.subscriber_id}",
        "/admin/review",
        "/admin/dashboard",
        "/admin/audit",
        "/admin/admins",
    ]:
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:2000])
