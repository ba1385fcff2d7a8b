"""The sending side: senders (Twilio, console), delivery, rate limit, status callbacks.

A message's path: ``outbox.queue_message`` stores it, ``tasks.deliver`` sends it once
(``tasks.deliver_batch`` a chunk of the drip's messages, handing anything that needs a
retry or a lookup back to ``deliver``), ``status.apply_status`` follows what the carrier
did with it. What a refusal says about the person (opted out, unreachable) is named here
(``errors.Refusal``) and acted on by the handler the app registers (``errors.on_refusal``).
"""
