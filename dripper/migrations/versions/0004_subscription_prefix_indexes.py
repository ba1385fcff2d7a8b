"""drop the two subscription indexes that others already begin with

``ix_subscription_subscriber_id`` is the first column of the unique
(subscriber_id, course_id) constraint's index, and ``ix_subscription_course_id`` the
first column of ``ix_subscription_course_state_id``: every lookup they served is served
as well by those. Each index costs every write of a subscription row (the tick claims
every due row once a day): two fewer make a claim batch about a fifth cheaper on
PostgreSQL (docs/BENCHMARKS.md).

Revision ID: 0004_subscription_prefix_indexes
Revises: 0002_attempt_outcome
"""

from alembic import op

revision = "0004_subscription_prefix_indexes"
down_revision = "0002_attempt_outcome"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_subscriber_id")
        batch_op.drop_index("ix_subscription_course_id")


def downgrade():
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index("ix_subscription_course_id", ["course_id"], unique=False)
        batch_op.create_index("ix_subscription_subscriber_id", ["subscriber_id"], unique=False)
