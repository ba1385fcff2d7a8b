"""The console's forms (Flask-WTF: every one carries the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from dripper.courses.spec import SLUG


class PlainForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class LessonForm(FlaskForm):
    key = StringField(
        "Key (stays with the lesson for good)",
        validators=[DataRequired(), Regexp(SLUG, message="lowercase words joined by hyphens")],
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    text = TextAreaField("Lesson text", validators=[DataRequired()])
    question = TextAreaField("Reflection question", validators=[DataRequired()])


class OrderForm(FlaskForm):
    order = HiddenField(validators=[InputRequired()])  # lesson keys, comma-separated


class NewCourseForm(FlaskForm):
    slug = StringField(
        "Slug",
        validators=[DataRequired(), Regexp(SLUG, message="lowercase words joined by hyphens")],
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    keyword = StringField("Keyword", validators=[DataRequired(), Length(max=20)])
    contact = StringField("Support contact", validators=[DataRequired(), Length(max=200)])
    template = SelectField("Start the system messages from", choices=[])


class ImportForm(FlaskForm):
    file = FileField("Course file (YAML)", validators=[FileRequired()])


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])


class TimeForm(FlaskForm):
    send_time = StringField(
        "Daily time (24-hour, local)",
        validators=[DataRequired(), Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message="like 19:30")],
    )
