"""suppression: keyed hashes of forgotten numbers that had opted out

Revision ID: 0002_suppression
Revises: 0002_alert_note
Create Date: 2026-11-27 03:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_suppression"
# Chained after this branch's other migration so that the branch has one head; the
# merge into main chains the parallel 0002 migrations (each written against 0001).
down_revision = "0002_alert_note"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_suppression_phone_hash")),
    )


def downgrade():
    op.drop_table("suppression")
