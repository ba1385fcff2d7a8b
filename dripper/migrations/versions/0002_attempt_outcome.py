"""whether an outbound message's latest attempt had an unknown outcome

Revision ID: 0002_attempt_outcome
Revises: 0003_reply_question
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_attempt_outcome"
down_revision = "0003_reply_question"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outcome_unknown", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Rows written before: an attempt started and never answered left no error code.
    op.execute(
        "UPDATE message SET outcome_unknown = TRUE WHERE direction = 'outbound' "
        "AND status = 'pending' AND provider_sid IS NULL AND attempts > 0 "
        "AND error_code IS NULL"
    )


def downgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("outcome_unknown")
