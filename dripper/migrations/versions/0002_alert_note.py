"""alerts: a resolution note and actor; notification attempts and the sweep's next try

Revision ID: 0002_alert_note
Revises: 0001
Create Date: 2026-11-27 03:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_alert_note"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("notify_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("next_notify_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("next_notify_at")
        batch_op.drop_column("notify_attempts")
        batch_op.drop_column("note")
        batch_op.drop_column("resolved_by")
