"""The web process: ``flask --app web run`` in development, ``gunicorn web:app`` in production."""

from dripper import create_app

app = create_app()
