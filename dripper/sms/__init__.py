"""The sending side: senders (Twilio, console), delivery, rate limit, status callbacks.

A message's path: ``outbox.queue_message`` stores it, ``tasks.deliver`` sends it once,
``status.apply_status`` follows what the carrier did with it.
"""
