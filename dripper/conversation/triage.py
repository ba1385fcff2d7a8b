"""Which inbound texts are acted on in their webhook, and which are left to a worker.

Acting on a text (reading it in its conversation, pacing the course, writing the answer)
costs several times what storing it does. A webhook that stores the text, queues it for a
worker and answers at once keeps up with the bursts of replies after each day's send; the
worker acts on it a moment later (``conversation.tasks.handle_inbound``), and the inbound
sweep takes any text that could not be queued.

Some texts must not wait for a worker, which may be busy or down (docs/RELIABILITY.md):
every exact keyword but JOIN (STOP's confirmation and HELP are owed at once, and PAUSE,
MORE or TIME change what the next send does), and any reply that, as the answer to some
question, could be a crisis, a worry for the team, an opt-out or a pause
(``readiness.service.is_urgent``). Those are acted on in the webhook, as before.
"""

from __future__ import annotations

from dripper.keywords import Keyword, parse_command
from dripper.readiness.service import is_urgent

#: Keywords a worker may act on: a signup's welcome can take a moment.
LEFT_TO_WORKER = frozenset({Keyword.JOIN})


def acted_on_at_once(body: str) -> bool:
    """Whether an inbound text is acted on in its webhook rather than left to a worker."""
    # Without the courses' own JOIN words: read as free text, they are not urgent (or, if
    # they were, acting on one at once is only earlier, never wrong).
    command = parse_command(body)
    if command is not None:
        return command.keyword not in LEFT_TO_WORKER
    return is_urgent(body)
