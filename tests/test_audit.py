"""The audit trail: a record per event, personal data redacted, append-only in the database."""

import datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app import models
from app.extensions import db
from seeds import demo
from tests.conftest import PASSWORD


@pytest.fixture
def since():
    """The records written after this point of the test."""
    marker = db.session.scalar(select(models.AuditLog.id).order_by(models.AuditLog.id.desc())
                               .limit(1)) or 0

    def records(**match):
        # End the test session's transaction: on MariaDB (repeatable read) it would not see rows
        # that the app wrote in transactions of its own.
        db.session.rollback()
        rows = db.session.scalars(select(models.AuditLog).where(models.AuditLog.id > marker)
                                  .order_by(models.AuditLog.id)).all()
        return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]

    return records


def test_sign_in_events(app, client, users, since):
    """Login, failed login, lockout and logout each leave a record with user and address."""
    client.post("/login/", data={"username": "staff", "password": PASSWORD})
    client.post("/logout/")
    for _ in range(5):
        client.post("/login/", data={"username": "leader", "password": "wrong"})
    assert since(action="login", username="staff")[0].ip == "127.0.0.1"
    assert since(action="logout", username="staff")
    assert len(since(action="login_failed", username="leader")) == 5
    assert since(action="lockout", username="leader")


def test_data_changes_are_recorded_with_fields_and_redaction(app, client, since):
    """Create, update (changed fields, personal data hidden) and delete through the screens."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    case = db.session.scalar(select(models.Dispute).filter_by(case_no="652701-2025-00001"))
    case.status = "accepted"  # parties of a concluded case are fixed; take one in hand
    db.session.commit()
    client.post("/partymodelview/add", data={"dispute": case.id, "role": "third_party",
                                             "name": "王某", "phone": "13912345678"})
    party = db.session.scalar(select(models.Party).filter_by(name="王某"))
    created = since(action="create", object_type="party")
    assert created and created[0].object_id == str(party.id)
    client.post(f"/partymodelview/edit/{party.id}", data={
        "dispute": case.id, "role": "third_party", "name": "王某某", "phone": "13987654321"})
    updated = since(action="update", object_type="party")[0]
    assert "王某某" in updated.detail and "name" in updated.detail
    assert "13987654321" not in updated.detail and "13912345678" not in updated.detail
    client.post(f"/partymodelview/delete/{party.id}")
    assert since(action="delete", object_type="party", object_id=str(party.id))


def test_role_changes_are_named(app, client, users, since):
    """Giving a user another role is recorded as a role change, with the roles before and
    after (not only the one added)."""
    import json

    client.post("/login/", data={"username": "admin", "password": PASSWORD})
    user = app.appbuilder.sm.find_user("leader")
    roles = [app.appbuilder.sm.find_role(name) for name in ("leader", "staff")]
    response = client.post(f"/users/edit/{user.id}", data={
        "first_name": "leader", "last_name": "test", "username": "leader",
        "email": "leader@example.org", "active": "y", "roles": [str(r.id) for r in roles]})
    assert response.status_code == 302
    record = since(action="role_change", object_type="ab_user", object_id=str(user.id))[0]
    old, new = json.loads(record.detail)["roles"]
    assert old == ["leader"] and sorted(new) == ["leader", "staff"]


def test_denied_access_is_recorded(app, client, users, world, since):
    """A refused screen and a record outside the scope both leave a 'denied' record."""
    client.post("/login/", data={"username": "auditor", "password": PASSWORD})
    client.get("/disputemodelview/list/")
    client.get("/disputemodelview/show/999999")
    denied = since(action="access_denied", username="auditor")
    assert len(denied) >= 2 and all(r.outcome == "denied" for r in denied)


def test_the_auditor_reads_and_exports_and_the_admin_cannot(app, client, users, since):
    """Only the auditor opens the trail; its export is itself recorded."""
    client.post("/login/", data={"username": "admin", "password": PASSWORD})
    assert client.get("/auditlogmodelview/list/").status_code in (302, 403)
    client.post("/logout/")
    client.post("/login/", data={"username": "auditor", "password": PASSWORD})
    assert client.get("/auditlogmodelview/list/").status_code == 200
    response = client.get("/auditlogmodelview/export/?_flt_0_action=login")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert body.startswith("\ufeff时间") and "登录" in body
    assert since(action="export", username="auditor")


def test_the_trail_is_append_only_in_the_database(app, since):
    """UPDATE and an early DELETE are refused by the database itself; old records may go."""
    from app import audit

    with app.test_request_context():
        audit.record("export", "audit_log", detail={"probe": True})
    row = since(action="export")[-1]
    for sql in (f"UPDATE audit_log SET action = 'login' WHERE id = {row.id}",
                f"DELETE FROM audit_log WHERE id = {row.id}"):
        with pytest.raises(DBAPIError):
            with db.engine.begin() as conn:
                conn.execute(text(sql))
    old = (datetime.datetime.now() - datetime.timedelta(days=200)).replace(microsecond=0)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (at, action, outcome) VALUES (:at, 'login', 'success')"),
                     {"at": old})
        removed = conn.execute(text("DELETE FROM audit_log WHERE at = :at"), {"at": old}).rowcount
    assert removed == 1


def test_sqlite_refuses_replacing_an_audit_record(app, users):
    """INSERT OR REPLACE of an existing record is refused, as UPDATE is."""
    import pytest
    from sqlalchemy.exc import DatabaseError

    from app import audit, models

    if db.engine.dialect.name != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    with app.test_request_context():
        audit.record("login_failed", "ab_user", username="someone", outcome="failure")
    key = db.session.scalar(select(func.max(models.AuditLog.id)))
    with pytest.raises(DatabaseError):
        with db.engine.begin() as conn:
            conn.execute(text("INSERT OR REPLACE INTO audit_log (id, at, action, outcome) "
                              "VALUES (:id, '2026-01-01 00:00:00', 'login', 'success')"),
                         {"id": key})
    db.session.expire_all()
    assert db.session.get(models.AuditLog, key).username == "someone"
