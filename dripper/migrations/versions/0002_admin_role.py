"""admin console: admin roles, course drafts and versions, lesson skips, list indexes

Revision ID: 0002_admin_role
Revises: 0002_delivery_retries
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_admin_role"
down_revision = "0002_delivery_retries"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="editor")
        )
    with op.batch_alter_table("course") as batch:
        batch.add_column(sa.Column("draft", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("draft_updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "course_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], name=op.f("fk_course_version_course_id_course")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_version")),
        sa.UniqueConstraint("course_id", "number", name=op.f("uq_course_version_course_id")),
    )
    op.create_index(op.f("ix_course_version_course_id"), "course_version", ["course_id"])
    op.create_table(
        "lesson_skip",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["lesson_id"], ["lesson.id"], name=op.f("fk_lesson_skip_lesson_id_lesson")),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscription.id"], name=op.f("fk_lesson_skip_subscription_id_subscription")),
        sa.PrimaryKeyConstraint("subscription_id", "lesson_id", name=op.f("pk_lesson_skip")),
    )
    op.create_index(
        "ix_subscriber_phone_pattern", "subscriber", ["phone"],
        postgresql_ops={"phone": "varchar_pattern_ops"},
    )
    op.create_index("ix_subscription_course_state_id", "subscription", ["course_id", "state", "id"])
    op.create_index("ix_subscription_state_id", "subscription", ["state", "id"])
    op.create_index("ix_subscription_last_lesson_state", "subscription", ["last_lesson_id", "state"])
    op.create_index("ix_message_lesson_kind_status", "message", ["lesson_id", "kind", "status"])
    op.create_index("ix_message_error_code", "message", ["error_code"])
    op.create_index("ix_message_direction_created", "message", ["direction", "created_at", "label"])
    op.create_index("ix_message_needs_review", "message", ["needs_review", "id"])


def downgrade():
    for name, table in (
        ("ix_message_needs_review", "message"),
        ("ix_message_direction_created", "message"),
        ("ix_message_error_code", "message"),
        ("ix_message_lesson_kind_status", "message"),
        ("ix_subscription_last_lesson_state", "subscription"),
        ("ix_subscription_state_id", "subscription"),
        ("ix_subscription_course_state_id", "subscription"),
        ("ix_subscriber_phone_pattern", "subscriber"),
    ):
        op.drop_index(name, table_name=table)
    op.drop_table("lesson_skip")
    op.drop_index(op.f("ix_course_version_course_id"), table_name="course_version")
    op.drop_table("course_version")
    with op.batch_alter_table("course") as batch:
        batch.drop_column("draft_updated_at")
        batch.drop_column("draft")
    with op.batch_alter_table("admin") as batch:
        batch.drop_column("role")
