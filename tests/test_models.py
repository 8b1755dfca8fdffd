"""Integrity lives in the database: raw rows that break the rules are refused by the engine itself."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db

GOOD_DISPUTE = {
    "case_no": "'T-1'", "centre_id": ":centre", "category_id": ":category", "title": "'t'",
    "description": "'d'", "source": "'window'", "level": "'village'", "risk": "'low'",
    "status": "'registered'", "registered_at": "'2025-03-07 10:00:00'", "version": "1",
}


def insert_dispute(**overrides):
    """Insert a dispute row with raw SQL, some columns replaced."""
    columns = {**GOOD_DISPUTE, **overrides}
    columns = {k: v for k, v in columns.items() if v is not None}
    centre = db.session.execute(text("SELECT id FROM centre ORDER BY id LIMIT 1")).scalar()
    category = db.session.execute(text("SELECT id FROM category ORDER BY id LIMIT 1")).scalar()
    sql = f"INSERT INTO dispute ({', '.join(columns)}) VALUES ({', '.join(columns.values())})"
    db.session.execute(text(sql), {"centre": centre, "category": category})
    db.session.commit()


def test_a_valid_raw_row_is_accepted(world):
    """The baseline row is good, so each refusal below is due to its one change."""
    insert_dispute()
    assert db.session.execute(text("SELECT count(*) FROM dispute")).scalar() == 1


@pytest.mark.parametrize("change", [
    {"amount": "-1"},
    {"status": "'lost'"},
    {"source": "'rumour'"},
    {"level": "'planet'"},
    {"title": None},
    {"centre_id": "999999"},
    {"status": "'concluded'"},  # concluded without an outcome
    {"concluded_at": "'2025-03-01 00:00:00'"},  # concluded before registered
])
def test_database_refuses_bad_dispute_rows(world, change):
    """CHECK, NOT NULL and foreign-key constraints hold even for raw SQL."""
    with pytest.raises((IntegrityError, OperationalError)):
        insert_dispute(**change)
    db.session.rollback()


def test_case_numbers_are_unique(world):
    """Two cases cannot share a number."""
    insert_dispute()
    with pytest.raises(IntegrityError):
        insert_dispute()
    db.session.rollback()


@pytest.mark.parametrize("sql", [
    "INSERT INTO feedback (dispute_id, satisfaction, channel, collected_at) "
    "VALUES ((SELECT min(id) FROM dispute), 5, 'phone', '2025-03-11 09:00:00')",
    "INSERT INTO feedback (dispute_id, satisfaction, channel, collected_at) "
    "VALUES ((SELECT min(id) FROM dispute), 3, 'pigeon', '2025-03-11 09:00:00')",
    "INSERT INTO party (dispute_id, role, name) VALUES (424242, 'applicant', 'x')",
    "INSERT INTO service_record (centre_id, kind, count, period_start, period_end) "
    "VALUES ((SELECT min(id) FROM centre), 'visitor', -3, '2025-01-01', '2025-01-31')",
    "INSERT INTO stationed_unit (centre_id, department_id, mode, active) "
    "VALUES ((SELECT min(id) FROM centre), (SELECT min(id) FROM department), 'sometimes', TRUE)",
    "INSERT INTO rota_slot (unit_id, weekday) VALUES ((SELECT min(id) FROM stationed_unit), 9)",
])
def test_database_refuses_other_bad_rows(world, sql):
    """Satisfaction, channels, parents, counts, modes and weekdays are checked by the database."""
    insert_dispute()
    with pytest.raises((IntegrityError, OperationalError)):
        db.session.execute(text(sql))
        db.session.commit()
    db.session.rollback()


def test_deleting_a_case_removes_its_parties_and_timeline(world):
    """Children of a dispute go with it (ON DELETE CASCADE), on every engine."""
    insert_dispute()
    db.session.execute(text(
        "INSERT INTO party (dispute_id, role, name) VALUES ((SELECT min(id) FROM dispute), 'applicant', '刘某英')"))
    db.session.commit()
    db.session.execute(text("DELETE FROM dispute"))
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM party")).scalar() == 0
