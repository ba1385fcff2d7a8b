"""What silence does to the pace: after unanswered questions, lessons come less often,
and after enough of them a single check-in replaces the next lesson.

The drip asks these after a question goes out or is skipped; a course's pacing settings
(``silent_slowdown_after``, ``silent_check_in_after``) set the thresholds.
"""

from __future__ import annotations

from dripper.models import Subscription
from dripper.subscriptions import schedule


def gap_after_question(subscription: Subscription) -> int:
    """Days from a lesson to the next when nothing else decided: silence slows the pace."""
    slowdown_after = schedule.pacing_count(subscription.course, "silent_slowdown_after")
    if (subscription.unanswered_questions or 0) >= slowdown_after:
        return 2
    return 1


def silent_too_long(subscription: Subscription) -> bool:
    """Enough unanswered questions in a row that the next step is a check-in, not a lesson."""
    check_in_after = schedule.pacing_count(subscription.course, "silent_check_in_after")
    return (subscription.unanswered_questions or 0) >= check_in_after
