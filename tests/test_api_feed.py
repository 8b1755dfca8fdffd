"""The JSON API for other systems: the case list by keyset pages and filters, and the event
feed from the outbox, each inside the caller's scope."""

import threading

from sqlalchemy import func, select

from app import models, outbox
from app.extensions import db
from tests.conftest import PASSWORD
from tests.test_workflow import new_case, people  # noqa: F401  (a fixture)


def test_the_case_list_pages_by_cursor_and_filters_within_scope(app, client, people):
    """Every case of the county once, newest first, across pages; filters narrow it; another
    county's clerk sees none of them; bad arguments get 400 with a reason."""
    made = [new_case(people["bole"], at=models.now()) for _ in range(7)]
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    seen, after = [], None
    while True:
        page = client.get("/api/v1/cases", query_string={"limit": 3, **(
            {"after": after} if after else {})})
        assert page.status_code == 200
        body = page.get_json()
        seen += [item["id"] for item in body["items"]]
        after = body["next"]
        if after is None:
            break
    mine = {case.id for case in made}
    assert mine <= set(seen) and len(seen) == len(set(seen))
    ordered = [(item["registered_at"], item["id"]) for item in client.get(
        "/api/v1/cases", query_string={"limit": 100}).get_json()["items"]]
    assert ordered == sorted(ordered, reverse=True)
    registered = client.get("/api/v1/cases", query_string={
        "status": "accepted", "limit": 100}).get_json()["items"]
    assert all(item["status"] == "accepted" for item in registered)
    assert not mine & {item["id"] for item in registered}
    for bad in ({"limit": 0}, {"limit": "x"}, {"after": "nonsense"}, {"status": "flying"},
                {"registered_from": "2025-13-01"}, {"centre": "-1"}):
        answer = client.get("/api/v1/cases", query_string=bad)
        assert answer.status_code == 400 and answer.get_json()["code"] == "bad_request"
    client.post("/logout/")
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    theirs = client.get("/api/v1/cases", query_string={"limit": 100}).get_json()["items"]
    assert not mine & {item["id"] for item in theirs}


def test_every_step_reaches_the_feed_once_in_order(app, client, people):
    """A case event is in the outbox with its step (same transaction); the feed gives each
    event once, in order, by cursor, and only inside the reader's scope."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    start = client.get("/api/v1/events", query_string={"after": 0, "limit": 100})
    assert start.status_code == 200
    cursor = start.get_json()["next"]
    while True:
        body = client.get("/api/v1/events", query_string={"after": cursor}).get_json()
        if not body["events"]:
            break
        cursor = body["next"]
    case = new_case(people["bole"], at=models.now())
    version = client.get(f"/api/v1/cases/{case.id}").get_json()["version"]
    assert client.post(f"/api/v1/cases/{case.id}/steps/accept",
                       json={"version": version}).status_code == 200
    events = db.session.scalars(select(models.CaseEvent.id).where(
        models.CaseEvent.dispute_id == case.id)).all()
    assert db.session.scalar(select(func.count()).select_from(models.OutboxEvent).where(
        models.OutboxEvent.event_id.in_(events))) == len(events) == 2
    got = []
    while True:
        body = client.get("/api/v1/events", query_string={"after": cursor, "limit": 1}).get_json()
        if not body["events"]:
            break
        got += body["events"]
        cursor = body["next"]
    assert [e["event"] for e in got if e["case"] == case.id] == sorted(events)
    assert [e["action"] for e in got if e["case"] == case.id] == ["register", "accept"]
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(set(seqs))
    client.post("/logout/")
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    theirs = client.get("/api/v1/events", query_string={"after": 0, "limit": 100}).get_json()
    assert case.id not in {e["case"] for e in theirs["events"]}
    assert client.get("/api/v1/events", query_string={"after": "x"}).status_code == 400


def test_publishers_at_once_give_each_event_one_place(app, people):
    """Four publishers racing over the same unpublished events number each exactly once, with
    no gaps (on PostgreSQL and MariaDB the cursor row's lock orders them)."""
    for _ in range(12):
        new_case(people["bole"], at=models.now())
    errors = []

    def publish():
        with app.app_context():
            try:
                outbox.publish(db.session)
            except Exception as error:  # noqa: BLE001 — reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    db.session.expire_all()
    seqs = db.session.scalars(select(models.OutboxEvent.seq)).all()
    assert None not in seqs and sorted(seqs) == list(range(1, len(seqs) + 1))
    assert db.session.scalar(select(models.OutboxCursor.last)) == len(seqs)
