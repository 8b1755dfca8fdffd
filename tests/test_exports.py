"""Cells that spreadsheets would run as formulas are written as text, in every export."""

import csv
import io

import pytest

from app import audit, exports
from app.extensions import db


@pytest.mark.parametrize("typed", ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0",
                                   "-2+3", "@SUM(A1:A9)", "\tx", "\rx", "＝1+1"])
def test_formula_like_cells_become_text(typed):
    """Each formula start gets Excel's text mark; ordinary text is left alone."""
    assert exports.safe_cell(typed) == "'" + typed
    assert exports.safe_cell("刘某英") == "刘某英" and exports.safe_cell(None) == ""


def test_the_audit_export_neutralises_a_typed_login_name(app, users, login_as):
    """A failed sign-in with a formula as its name is exported as text."""
    with app.test_request_context():
        audit.record("login_failed", "ab_user", username="=HYPERLINK(\"http://evil\")",
                     outcome="failure")
    db.session.commit()
    client = login_as("auditor")
    response = client.get("/auditlogmodelview/export/")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [cell for row in rows for cell in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
