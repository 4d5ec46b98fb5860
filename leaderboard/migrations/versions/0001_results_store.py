"""The first results store: submissions and their per-entry scores.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("agent_reference", sa.String(500), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("iqm", sa.Float(), nullable=False),
        sa.Column("iqm_low", sa.Float(), nullable=False),
        sa.Column("iqm_high", sa.Float(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("results_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_submissions_suite", "submissions", ["suite"])
    op.create_index("ix_submissions_agent_reference", "submissions", ["agent_reference"])
    op.create_index("ix_submissions_content_hash", "submissions", ["content_hash"], unique=True)
    op.create_table(
        "entry_scores",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("env_id", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("mean_return", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_low", sa.Float(), nullable=False),
        sa.Column("score_high", sa.Float(), nullable=False),
    )
    op.create_index("ix_entry_scores_submission_id", "entry_scores", ["submission_id"])


def downgrade() -> None:
    op.drop_table("entry_scores")
    op.drop_table("submissions")
