"""Failures answered honestly: a stale version or a database that cannot write gives a Chinese
message with what was typed kept, the API answers JSON, /health tells a database that cannot
take writes, and a committed step is never followed by anything that could fail."""

import re

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app import models, transactions, workflow
from app.extensions import db
from tests.conftest import PASSWORD

RAW = re.compile(r"sqlite3|psycopg|pymysql|OperationalError|INSERT INTO|UPDATE \w+ SET|"
                 r"SELECT .* FROM|sqlalche\.me|Traceback|readonly database")


def _bole():
    """The Bole centre and the private-lending category."""
    centre = db.session.scalar(select(models.Centre).join(models.Region)
                               .where(models.Region.code == "652701"))
    return centre, db.session.scalar(select(models.Category).filter_by(code="private_lending"))


def _case():
    """A registered Bole case, committed."""
    centre, category = _bole()
    case = models.Dispute(centre=centre, category=category, title="原标题", description="借款未还",
                          source="window", level="county", risk="low")
    db.session.add(case)
    workflow.register(db.session, case, None)
    db.session.commit()
    return case


def test_database_failures_are_told_in_words_for_people(app):
    """Disk full, read-only, busy and constraint failures each get their Chinese sentence,
    naming no SQL, value or library."""
    def failure(text, kind=OperationalError):
        return kind("INSERT INTO dispute (title) VALUES (?)", ("刘某英",), Exception(text))

    with app.test_request_context():
        told = {text: transactions.explain(failure(text)) for text in (
            "database or disk is full", "attempt to write a readonly database",
            "database is locked")}
        told["unique"] = transactions.explain(failure("UNIQUE constraint failed", IntegrityError))
    assert "已满" in told["database or disk is full"]
    assert "只读" in told["attempt to write a readonly database"]
    assert "繁忙" in told["database is locked"]
    assert "冲突" in told["unique"]
    assert not any(RAW.search(message) or "刘某英" in message for message in told.values())


def test_a_stale_edit_keeps_what_was_typed(world, login_as):
    """An edit saved from an out-of-date copy is refused with the stale message, on the form,
    with the person's new title still in it; nothing is changed."""
    client = login_as("admin")
    case = _case()
    version = case.version
    case.description = "另一位工作人员改过"
    db.session.commit()
    response = client.post(f"/disputemodelview/edit/{case.id}", data={
        "category": case.category_id, "title": "我改的标题", "description": "我改的描述",
        "source": "window", "level": "county", "risk": "low", "version": version})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "您打开后该记录已被他人保存" in page and "刷新" not in page  # not "reload"
    assert 'value="我改的标题"' in page and "我改的描述" in page
    # Beside the field: what the other person saved; the form now carries their version.
    assert "他人已保存为：另一位工作人员改过" in page
    assert f'name="version" type="hidden" value="{version + 1}"' in page or \
        f'value="{version + 1}"' in page
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).title == "原标题"
    # Saving again, deliberately, puts the person's values over the other's.
    again = client.post(f"/disputemodelview/edit/{case.id}", data={
        "category": case.category_id, "title": "我改的标题", "description": "我改的描述",
        "source": "window", "level": "county", "risk": "low", "version": version + 1})
    assert again.status_code == 302
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).description == "我改的描述"


def test_the_api_answers_json_errors(world, login_as):
    """Unknown cases, unknown steps, wrong methods and stale versions: JSON with a stable code,
    never an HTML page."""
    client = login_as("admin")
    case = _case()
    for method, path, status in (("get", "/api/v1/cases/99999999", 404),
                                 ("get", "/api/v1/nothing-here", 404),
                                 ("delete", f"/api/v1/cases/{case.id}", 405),
                                 ("post", f"/api/v1/cases/{case.id}/steps/fly", 404)):
        response = getattr(client, method)(path, json={})
        assert response.status_code == status, path
        assert response.is_json and response.get_json()["code"], path
    stale = client.post(f"/api/v1/cases/{case.id}/steps/accept", json={"version": 0})
    assert stale.status_code == 409 and stale.get_json()["code"] == "stale_version"


def test_nothing_runs_against_the_database_after_a_steps_commit(world, login_as):
    """The API step's answer is built before its commit: a connection lost after a commit
    cannot turn a saved step into an error (and so into a duplicated retry)."""
    client = login_as("admin")
    case = _case()
    seen = []
    engine = db.engine

    def statement(conn, cursor, text, parameters, context, executemany):
        seen.append("sql")

    def committed(conn):
        seen.append("commit")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        response = client.post(f"/api/v1/cases/{case.id}/steps/accept",
                               json={"version": case.version})
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)
    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
    assert seen[-1] == "commit"


@pytest.fixture
def read_only(app, world, users, tmp_path):
    """A second app on a copy of nothing but SQLite opened read-only, sharing the session
    cookie secret: signed in through the writable app first."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a read-only database file is a SQLite set-up")
    from app import create_app

    path = db.engine.url.database
    writable = app.test_client()
    writable.post("/login/", data={"username": "admin", "password": PASSWORD})
    frozen = create_app("config.TestConfig",
                        SQLALCHEMY_DATABASE_URI=f"sqlite:///file:{path}?mode=ro&uri=true",
                        CACHE_TYPE="NullCache")
    client = frozen.test_client()
    client._cookies = writable._cookies  # the same signed-in browser
    return frozen, client, writable


def test_a_read_only_database_is_told_and_loses_nothing(app, read_only):
    """Registering on a database that cannot take writes: the form comes back with every value
    typed and a Chinese message; /health answers 503 there and 200 on the writable one."""
    frozen, client, writable = read_only
    with frozen.app_context():
        centre, category = _bole()
        centre_id, category_id = centre.id, category.id
    response = client.post("/disputemodelview/add", data={
        "applicant_name": "甲", "respondent_name": "乙",
        "centre": centre_id, "category": category_id, "title": "只读时登记的案件",
        "description": "借款7.8万元未还。", "amount": "78000", "source": "window",
        "level": "county", "risk": "medium"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "只读" in page and 'value="只读时登记的案件"' in page and "借款7.8万元未还。" in page
    assert not RAW.search(re.sub(r"<script.*?</script>", "", page, flags=re.S))
    assert client.get("/health").status_code == 503
    assert client.get("/health?deep=1").status_code == 503
    assert writable.get("/health").status_code == 200
    assert writable.get("/health?deep=1").get_json()["checked"] == "commit"
    assert db.session.scalar(select(func.count()).select_from(models.Dispute)) == 0
