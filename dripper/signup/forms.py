"""The signup form: a mobile number, a daily time, and an explicit, unticked consent box."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SubmitField, TelField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from dripper.models import Course
from dripper.phones import Phone, PhoneError, parse_phone, region_of
from dripper.signup.service import country_names, signup_countries
from dripper.subscriptions import schedule

STEP = timedelta(minutes=30)


def send_time_choices(course: Course) -> list[tuple[str, str]]:
    """Every half hour inside the course's sending window, as (``HH:MM``, ``9:00 AM``)."""
    opens, closes = schedule.window(course)
    day = datetime(2000, 1, 1)
    at, end = datetime.combine(day, opens), datetime.combine(day, closes)
    choices = []
    while at < end:
        choices.append((f"{at:%H:%M}", schedule.describe_time(at.time())))
        at += STEP
    return choices


def default_send_time(course: Course) -> str:
    value = str(schedule.pacing(course, "send_time"))
    return f"{schedule.parse_clock(value):%H:%M}"


class SignupForm(FlaskForm):
    course = SelectField("Course", coerce=int, validators=[InputRequired()])
    phone = TelField(
        "Mobile number",
        validators=[DataRequired(message="Please enter your mobile number.")],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    send_time = SelectField("What time of day would you like your lesson?")
    consent = BooleanField(
        validators=[DataRequired(message="Please tick the box to agree to get the texts.")],
        default=False,
    )
    submit = SubmitField("Text me to confirm")

    def __init__(self, courses: list[Course], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.courses = {course.id: course for course in courses}
        self.course.choices = [(course.id, course.title) for course in courses]
        # One set of times for the page: the first course's window (there is usually one).
        self.send_time.choices = send_time_choices(courses[0]) if courses else []
        if not self.is_submitted() and courses:
            self.course.data = courses[0].id
            self.send_time.data = default_send_time(courses[0])
        self.parsed_phone: Phone | None = None

    @property
    def chosen_course(self) -> Course:
        return self.courses[self.course.data]

    @property
    def chosen_time(self) -> time:
        return schedule.parse_clock(self.send_time.data)

    def validate_course(self, field: SelectField) -> None:
        if field.data not in self.courses:
            raise ValidationError("Please choose a course.")

    def validate_phone(self, field: TelField) -> None:
        try:
            phone = parse_phone(field.data or "")
        except PhoneError as error:
            raise ValidationError(str(error)) from None
        course = self.courses.get(self.course.data)
        if course is not None:
            countries = signup_countries(course)
            if (phone.region or region_of(phone.e164)) not in countries:
                raise ValidationError(
                    f"Sorry, we can only text numbers in {country_names(countries)} for now."
                )
        self.parsed_phone = phone

    def validate_send_time(self, field: SelectField) -> None:
        course = self.courses.get(self.course.data)
        if course is None:
            return
        if field.data not in {value for value, _ in send_time_choices(course)}:
            raise ValidationError("Please choose a time from the list.")
