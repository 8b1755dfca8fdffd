"""case events: "import", the step of a historic case brought in from a spreadsheet

Revision ID: b2c3d4e5f6a8
Revises: a1b2c3d4e5f7
Create Date: 2026-12-02 06:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b2c3d4e5f6a8'
down_revision = 'a1b2c3d4e5f7'
branch_labels = None
depends_on = None

BEFORE = ("register", "accept", "decline", "refer", "report_in", "answer", "return", "mediate",
          "conclude", "feedback", "reopen", "note", "extend", "book", "follow_up")


def _actions(codes):
    return "action IN (" + ", ".join(f"'{code}'" for code in codes) + ")"


def _replace_check(table, condition):
    """Swap a table's action CHECK constraint (SQLite rebuilds the table; the others alter
    it)."""
    with op.batch_alter_table(table, recreate="auto") as batch_op:
        batch_op.drop_constraint(f'ck_{table}_action', type_="check")
        batch_op.create_check_constraint(f'ck_{table}_action', condition)


def upgrade():
    _replace_check('case_event', _actions(BEFORE + ("import",)))


def downgrade():
    op.execute("DELETE FROM case_event WHERE action = 'import'")
    _replace_check('case_event', _actions(BEFORE))

