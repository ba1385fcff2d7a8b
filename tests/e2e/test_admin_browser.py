"""The console in a real browser: sign in, drag a lesson, fix a curly quote, publish,
and pause a subscriber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures_browser import screenshot

from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Course,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SubscriptionState,
)
from dripper_testkit.builders import PASSWORD, add_person, make_admin


@pytest.fixture
def app_config(database_url: str, tmp_path: Any) -> dict[str, Any]:
    from conftest import make_config

    return make_config(database_url, tmp_path, WTF_CSRF_ENABLED=True)


@pytest.mark.database("sqlite")
def test_an_editor_reorders_fixes_a_quote_publishes_and_pauses_someone(
    app: Any, course: Course, live_server: Any, browser: Any
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    person = add_person(course, "+12025550123")
    lesson = course.lessons[0]
    when = datetime(2026, 3, 2, 14, tzinfo=UTC)
    conversation = [
        (Direction.OUTBOUND, MessageKind.LESSON, lesson.text, MessageStatus.DELIVERED, None, None),
        (Direction.OUTBOUND, MessageKind.QUESTION, lesson.question, MessageStatus.DELIVERED, None, None),
        (Direction.INBOUND, MessageKind.REPLY, "That's my brother exactly. I'll try it.",
         MessageStatus.RECEIVED, ReplyLabel.ENGAGED, 0.86),
        (Direction.INBOUND, MessageKind.REPLY, "<b>not sure</b> this works for us",
         MessageStatus.RECEIVED, ReplyLabel.AMBIVALENT, 0.44),
    ]  # fmt: skip
    for n, (direction, kind, body, status, label, confidence) in enumerate(conversation):
        db.session.add(
            Message(direction=direction, kind=kind, phone=person.subscriber.phone,
                    subscriber_id=person.subscriber_id, subscription_id=person.id,
                    lesson_id=lesson.id if direction is Direction.OUTBOUND else None, body=body,
                    status=status, label=label, confidence=confidence,
                    needs_review=confidence is not None and confidence < 0.5,
                    created_at=when + timedelta(hours=3 * n))
        )  # fmt: skip
    db.session.commit()
    make_admin()
    wait = WebDriverWait(browser, 10)
    first_keys = [lesson.key for lesson in course.lessons[:2]]
    subscriber_id, subscription_id, slug = person.subscriber_id, person.id, course.slug
    db.session.remove()  # the server thread has its own session

    browser.get(live_server.url + "/admin/login")
    browser.find_element(By.ID, "email").send_keys("owner@example.org")
    browser.find_element(By.ID, "password").send_keys(PASSWORD + "\n")
    wait.until(ec.url_contains("/admin/dashboard"))

    # Drag the second lesson above the first (HTML5 drag and drop, simulated in-page
    # because chromedriver's mouse actions do not fire DnD events).
    browser.get(live_server.url + f"/admin/courses/{slug}")
    source = browser.find_element(By.ID, f"lesson-{first_keys[1]}")
    target = browser.find_element(By.ID, f"lesson-{first_keys[0]}")
    browser.execute_script(
        """
        const [src, dst] = arguments; const data = new DataTransfer();
        const fire = (el, type, y) => el.dispatchEvent(new DragEvent(type,
          {bubbles: true, cancelable: true, dataTransfer: data, clientY: y}));
        const box = dst.getBoundingClientRect();
        fire(src, 'dragstart', 0); fire(dst, 'dragover', box.top + 2);
        fire(dst, 'drop', box.top + 2); fire(src, 'dragend', 0);
        """,
        source,
        target,
    )
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#draft-state.notice")))
    keys = [
        li.get_attribute("data-key") for li in browser.find_elements(By.CSS_SELECTOR, "li.lesson")
    ]
    assert keys[:2] == [first_keys[1], first_keys[0]]
    ActionChains(browser).reset_actions()

    # Type a curly quote: the counter turns UCS-2; replace it in one click.
    browser.find_element(
        By.LINK_TEXT, browser.find_element(By.CSS_SELECTOR, "li.lesson .lesson-title").text
    ).click()
    text = wait.until(ec.presence_of_element_located((By.ID, "text")))
    counter = browser.find_element(By.ID, "text-count")
    assert counter.get_attribute("data-encoding") == "GSM-7"
    text.send_keys(" It’s yours.")
    assert counter.get_attribute("data-encoding") == "UCS-2"
    screenshot(browser, "admin-editor")
    browser.find_element(By.CSS_SELECTOR, ".offenders[data-for=text] button.replace").click()
    assert counter.get_attribute("data-encoding") == "GSM-7"
    assert "It's yours." in text.get_attribute("value")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.until(ec.url_contains(f"/admin/courses/{slug}#"))

    # Publish, reload, and the change is live.
    browser.get(live_server.url + f"/admin/courses/{slug}/publish")
    browser.find_element(By.ID, "publish").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.muted#draft-state")))
    browser.refresh()
    keys = [
        li.get_attribute("data-key") for li in browser.find_elements(By.CSS_SELECTOR, "li.lesson")
    ]
    assert keys[:2] == [first_keys[1], first_keys[0]]
    live = db.session.scalar(db.select(Course).where(Course.slug == slug))
    assert live is not None and live.lessons[0].key == first_keys[1]
    assert live.lessons[0].text.endswith("It's yours.")

    # A subscriber's page: pause them.
    browser.get(live_server.url + f"/admin/subscribers/{subscriber_id}")
    pause = browser.find_element(By.ID, f"pause-{subscription_id}")
    pause.click()
    # The form posts and the page reloads: read the state from the new page, not the old
    # one as it is torn down (Chrome then refuses the lookup outright).
    wait.until(ec.staleness_of(pause))
    wait.until(ec.text_to_be_present_in_element((By.ID, f"state-{subscription_id}"), "paused"))
    # A reply's HTML shows as text.
    assert (
        "<b>not sure</b>"
        in browser.find_element(By.CSS_SELECTOR, ".msg.inbound:last-child .body").text
    )
    screenshot(browser, "admin-subscriber")
    db.session.remove()
    from dripper.models import Subscription

    assert db.session.get(Subscription, subscription_id).state is SubscriptionState.PAUSED  # type: ignore[union-attr]


@pytest.mark.database("sqlite")
def test_every_page_fits_a_phone_and_the_lessons_move_by_keyboard(
    app: Any, course: Course, live_server: Any, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    person = add_person(course, "+12025550123")
    db.session.commit()
    make_admin()
    slug, subscriber_id = course.slug, person.subscriber_id
    first, second = (lesson.key for lesson in course.lessons[:2])
    db.session.remove()
    browser.set_window_size(390, 844)
    wait = WebDriverWait(browser, 10)
    browser.get(live_server.url + "/admin/login")
    browser.find_element(By.ID, "email").send_keys("owner@example.org")
    browser.find_element(By.ID, "password").send_keys(PASSWORD + "\n")
    wait.until(ec.url_contains("/admin/dashboard"))
    for path in ("/admin/dashboard", "/admin/courses", f"/admin/courses/{slug}",
                 f"/admin/courses/{slug}/settings", f"/admin/courses/{slug}/lessons/{first}",
                 "/admin/subscribers", f"/admin/subscribers/{subscriber_id}", "/admin/review"):  # fmt: skip
        browser.get(live_server.url + path)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1, (path, overflow)
    # Keyboard only: tab to the second lesson's Up button and press Enter.
    browser.get(live_server.url + f"/admin/courses/{slug}")
    up = browser.find_element(By.CSS_SELECTOR, f"#lesson-{second} button[value=up]")
    browser.execute_script("arguments[0].focus()", up)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#draft-state.notice")))
    keys = [
        li.get_attribute("data-key") for li in browser.find_elements(By.CSS_SELECTOR, "li.lesson")
    ]
    assert keys[:2] == [second, first]
    screenshot(browser, "admin-phone-lessons")
