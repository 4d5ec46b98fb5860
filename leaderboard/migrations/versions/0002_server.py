"""The leaderboard server: tokens, verifications, and the columns its pages sort and group by.

- ``tokens``: submission tokens, stored as SHA-256 hashes, with the state of their rate limit;
- ``verifications``: test-seed re-evaluations of a submission (appended, never updated);
- ``submissions`` gains ``agent_label``, ``scored_hash`` (the entries scored), ``success_rate``,
  ``token_id`` (who submitted it) and ``seed_set_id`` (``dev`` or the test set's id, which keeps dev
  and test rows apart), filled in here for the rows already stored from their results files.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from leaderboard.results import MAX_LABEL_LENGTH, ResultsFile, agent_label

#: The columns this revision adds to submissions, in their order (before results_json).
NEW_COLUMNS = ("agent_label", "scored_hash", "success_rate", "token_id", "seed_set_id")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("window_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_tokens_name", "tokens", ["name"], unique=True)
    op.create_index("ix_tokens_token_hash", "tokens", ["token_hash"], unique=True)
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("iqm", sa.Float(), nullable=False),
        sa.Column("iqm_low", sa.Float(), nullable=False),
        sa.Column("iqm_high", sa.Float(), nullable=False),
        sa.Column("results_json", sa.Text(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_verifications_submission_id", "verifications", ["submission_id"])

    # SQLite cannot add a foreign key or make a column NOT NULL in place: batch mode copies the
    # table there (and alters it in place on PostgreSQL). The copy also moves results_json back to
    # the end: SQLite reads a row's columns in order, and every column after a results file (up to
    # megabytes, in overflow pages) would cost a walk through it on each leaderboard query.
    sqlite = op.get_bind().dialect.name == "sqlite"
    reorder = {"recreate": "always", "partial_reordering": [(*NEW_COLUMNS, "results_json")]} if sqlite else {}
    with op.batch_alter_table("submissions", **reorder) as batch:
        batch.add_column(sa.Column("agent_label", sa.String(MAX_LABEL_LENGTH), nullable=True))
        batch.add_column(sa.Column("scored_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("success_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("seed_set_id", sa.String(16), nullable=True))
        batch.create_foreign_key("fk_submissions_token_id_tokens", "tokens", ["token_id"], ["id"])
        batch.create_index("ix_submissions_token_id", ["token_id"])
        # The leaderboard groups each suite's rows by seed set, agent, config and entries scored.
        batch.create_index(
            "ix_submissions_leaderboard",
            ["suite", "seed_set_id", "agent_reference", "config_hash", "scored_hash"],
        )
    _fill_new_columns()
    with op.batch_alter_table("submissions") as batch:
        batch.alter_column("agent_label", existing_type=sa.String(MAX_LABEL_LENGTH), nullable=False)
        batch.alter_column("scored_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("seed_set_id", existing_type=sa.String(16), nullable=False)


def _fill_new_columns() -> None:
    connection = op.get_bind()
    submissions = sa.table(
        "submissions",
        sa.column("id", sa.Integer()),
        sa.column("results_json", sa.Text()),
        sa.column("agent_label", sa.String()),
        sa.column("scored_hash", sa.String()),
        sa.column("success_rate", sa.Float()),
        sa.column("seed_set_id", sa.String()),
    )
    ids = connection.execute(sa.select(submissions.c.id).order_by(submissions.c.id)).scalars().all()
    for submission_id in ids:  # one row at a time: a results file can be megabytes
        stored = connection.execute(
            sa.select(submissions.c.results_json).where(submissions.c.id == submission_id)
        ).scalar_one()
        results = ResultsFile.model_validate_json(stored)
        connection.execute(
            submissions.update()
            .where(submissions.c.id == submission_id)
            .values(
                agent_label=agent_label(results, MAX_LABEL_LENGTH),
                scored_hash=results.scored_hash,
                success_rate=results.success_rate,
                seed_set_id=results.seed_set_id,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_leaderboard")
        batch.drop_index("ix_submissions_token_id")
        batch.drop_constraint("fk_submissions_token_id_tokens", type_="foreignkey")
        for column in ("seed_set_id", "token_id", "success_rate", "scored_hash", "agent_label"):
            batch.drop_column(column)
    op.drop_table("verifications")
    op.drop_table("tokens")
