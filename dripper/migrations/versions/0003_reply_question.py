"""replies remember the question they answer

Revision ID: 0003_reply_question
Revises: 0002_admin_role
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_reply_question"
down_revision = "0002_admin_role"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("answers_message_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_message_answers_message_id_message"), "message", ["answers_message_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("message") as batch:
        batch.drop_constraint(op.f("fk_message_answers_message_id_message"), type_="foreignkey")
        batch.drop_column("answers_message_id")
