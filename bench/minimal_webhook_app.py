"""The floor for webhook_bench.py: a Flask app that validates Twilio's signature and stores one row.

Served by the same gunicorn command as dripper (``gunicorn ... minimal_webhook_app:app``);
reads DATABASE_URL, TWILIO_AUTH_TOKEN and PUBLIC_URL from the environment like dripper does.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

app = Flask(__name__)
engine = sa.create_engine(os.environ["DATABASE_URL"], pool_pre_ping=False)
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
public_url = os.environ["PUBLIC_URL"].rstrip("/")
rows = sa.table("minimal_inbound", sa.column("sid"), sa.column("phone"), sa.column("body"))


@app.post("/sms/inbound")
def inbound() -> Response:
    """Validate the signature, store the message once, answer an empty TwiML."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not validator.validate(public_url + request.path, request.form.to_dict(), signature):
        return Response("forbidden\n", status=403)
    with engine.begin() as connection:
        connection.execute(
            rows.insert().values(
                sid=request.form["MessageSid"],
                phone=request.form["From"],
                body=request.form.get("Body", ""),
            )
        )
    return Response("<?xml version='1.0' encoding='UTF-8'?><Response />", mimetype="text/xml")
