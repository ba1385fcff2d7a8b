"""The dev phone in a real browser: a person lives through the first days of the course
on two pretend phones, one engaged and one resistant, and sees the pace follow them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import make_config
from fixtures_browser import screenshot
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.phones import time_zones_for

WAIT = 30  # seconds a page may take to show what it must (a slow, shared machine)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return make_config(
        database_url, tmp_path, SANDBOX_AUTH_TOKEN="browser-sandbox-token", SEND_RATE=1000.0
    )


class DevPhone:
    """One phone column of the page, driven as a person would: keyboard and buttons."""

    def __init__(self, driver: Any, node: Any) -> None:
        self.driver = driver
        self.node = node
        self.phone: str = node.get_attribute("data-phone")

    def _wait(self, condition: Any, what: str) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, WAIT, ignored_exceptions=[StaleElementReferenceException])
        return wait.until(lambda _: condition(), message=what)

    def idle(self) -> None:
        self._wait(lambda: self.node.get_attribute("aria-busy") != "true", "the phone is busy")

    def type(self, body: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        field = self.node.find_element(By.CSS_SELECTOR, ".compose input")
        field.click()
        field.send_keys(body, Keys.ENTER)
        self.idle()
        self._wait(lambda: body in [b["text"] for b in self.bubbles("in")], f"{body!r} sent")

    def press(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        self.node.find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()
        self.idle()

    def bubbles(self, side: str) -> list[dict[str, str]]:
        """The thread's bubbles on one side, read at one instant (the page redraws them)."""
        return list(
            self.driver.execute_script(
                """
                return Array.from(arguments[0].querySelectorAll(".thread li." + arguments[1]))
                  .map(li => ({kind: li.dataset.kind,
                               text: li.querySelector(".bubble").textContent,
                               meta: li.querySelector(".meta").textContent,
                               label: (li.querySelector(".label") || {}).textContent || ""}));
                """,
                self.node,
                side,
            )
        )

    def kinds(self) -> list[str]:
        return [b["kind"] for b in self.bubbles("out")]

    def wait_for_kinds(self, *kinds: str) -> None:
        self._wait(lambda: self.kinds()[-len(kinds) :] == list(kinds), f"texts {kinds}")

    def wait_for_lessons(self, count: int) -> None:
        self._wait(lambda: self.kinds().count("lesson") == count, f"{count} lessons")

    def label_of_last_reply(self) -> str:
        self._wait(lambda: self.bubbles("in")[-1]["label"], "the classifier's label under it")
        return self.bubbles("in")[-1]["label"]

    def schedule(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.node.find_element(By.CSS_SELECTOR, ".schedule").text)

    def wait_schedule(self, *words: str) -> str:
        self._wait(lambda: all(w in self.schedule() for w in words), f"schedule says {words}")
        return self.schedule()


def _new_phone(driver: Any, country: str) -> DevPhone:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    before = len(driver.find_elements(By.CSS_SELECTOR, "section.phone"))
    Select(driver.find_element(By.ID, "country")).select_by_value(country)
    driver.find_element(By.ID, "add-phone").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.phone")) == before + 1
    )
    return DevPhone(driver, driver.find_elements(By.CSS_SELECTOR, "section.phone")[-1])


def test_two_pretend_phones_live_through_the_course_at_their_own_pace(
    app: Flask, live_server: Any, browser: Any, course: Any
) -> None:
    browser.set_window_size(1280, 900)  # two phones side by side
    browser.implicitly_wait(0)  # the test waits for what it expects itself
    browser.get(f"{live_server.url}/sandbox/phone?course={course.slug}")
    engaged = _new_phone(browser, "US")
    zone = ZoneInfo(time_zones_for(engaged.phone)[0])
    # Monday 7:00 at the number: today's 9:00 lesson slot is still ahead.
    sandbox_clock().set(datetime(2026, 3, 2, 7, 0, tzinfo=zone))

    engaged.type("JOIN")
    engaged.wait_for_kinds("confirmation_request")
    engaged.type("YES")
    engaged.wait_for_kinds("confirmation_request", "welcome")
    engaged.wait_schedule("next lesson 1 of", "Mon 09:00")

    engaged.press("+1 day")
    engaged.wait_for_kinds("lesson", "question")
    assert "sent" in engaged.bubbles("out")[-1]["meta"]  # its delivery status
    engaged.type("Yes! I tried asking my sister what worried her instead of arguing. It helped")
    assert "engaged" in engaged.label_of_last_reply()
    engaged_plan = engaged.wait_schedule("lesson 2 of", "one day after the last lesson", "engaged")

    resistant = _new_phone(browser, "GB")
    resistant.press(course.keyword)  # the quick reply that joins the picked course
    resistant.wait_for_kinds("confirmation_request")
    resistant.type("YES")
    resistant.press("Next send")
    resistant.wait_for_kinds("welcome", "lesson")
    resistant.press("Next send")
    resistant.wait_for_kinds("lesson", "question")
    resistant.type("not for me, this won't work on my dad")
    assert "resistant" in resistant.label_of_last_reply()
    resistant_plan = resistant.wait_schedule(
        "lesson 2 of", "two days after the last lesson", "resistant"
    )
    # Meanwhile the engaged phone lived through its next lesson on the shared clock.
    engaged.wait_for_lessons(2)
    screenshot(browser, "dev-phone")

    # A day on, the resistant phone still waits; the day after, its lesson comes.
    resistant.press("+1 day")
    assert resistant.kinds().count("lesson") == 1
    resistant.press("+1 day")
    resistant.wait_for_lessons(2)
    print(f"\nengaged: {engaged_plan}\nresistant: {resistant_plan}")

    # At phone width the page still fits: one phone across, nothing off screen.
    browser.set_window_size(390, 844)
    width = browser.execute_script("return document.documentElement.clientWidth")
    box = engaged.node.rect
    assert box["width"] <= width
    screenshot(browser, "dev-phone-narrow")
