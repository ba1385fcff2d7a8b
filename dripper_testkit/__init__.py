"""What the tests and the benchmarks share: never imported by dripper itself.

- ``builders``: subscribers, subscriptions, courses, messages and admins to start from.
- ``twilio_fake``: a local Twilio-compatible Messaging API the real client talks to.
- ``workers``: real Celery workers (``drip_worker``) on a broker space of their own.
"""
