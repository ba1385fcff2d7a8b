"""inbound messages: handled_at, set in the transaction that acted on them

Revision ID: 0002_inbound_handled
Revises: 0002_suppression
Create Date: 2026-11-27 03:45:00

Existing inbound messages count as handled (at their arrival time), except those the
old code marked "not handled" (error_message), which the inbound sweep now handles.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_inbound_handled"
down_revision = "0002_suppression"
branch_labels = None
depends_on = None

#: What the code before this revision wrote on an inbound message whose handling failed.
OLD_NOT_HANDLED = "not handled"


def upgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_message_direction_handled", ["direction", "handled_at"], unique=False
        )
    op.execute(
        "UPDATE message SET handled_at = created_at WHERE direction = 'inbound' "
        f"AND (error_message IS NULL OR error_message <> '{OLD_NOT_HANDLED}')"
    )
    op.execute(
        "UPDATE message SET error_message = NULL WHERE direction = 'inbound' "
        f"AND error_message = '{OLD_NOT_HANDLED}'"
    )


def downgrade():
    op.execute(
        f"UPDATE message SET error_message = '{OLD_NOT_HANDLED}' "
        "WHERE direction = 'inbound' AND handled_at IS NULL"
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_direction_handled")
        batch_op.drop_column("handled_at")
