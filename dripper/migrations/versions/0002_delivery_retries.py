"""delivery retries over hours, sending windows on messages, parked subscriptions

Revision ID: 0002_delivery_retries
Revises: 0002_inbound_handled
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery_retries"
down_revision = "0002_inbound_handled"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_window", sa.JSON(), nullable=True))
        batch_op.create_index("ix_message_retry_at", ["retry_at"], unique=False)
    # The new subscription state "parked" needs no change: states are stored as strings.
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failure_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("parked_reason", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("parked_reason")
        batch_op.drop_column("parked_at")
        batch_op.drop_column("failure_count")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_retry_at")
        batch_op.drop_column("send_window")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("retry_at")
