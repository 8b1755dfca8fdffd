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


def test_every_resource_lists_by_cursor_within_scope_and_masks(app, client, people):
    """Each resource's list pages by id without a repeat, filters, keeps to the scope (a
    Korla clerk sees no Bole party) and masks personal data; a row outside the scope is 404;
    the statistics report answers for the caller's area and refuses another's."""
    case = new_case(people["bole"], at=models.now())
    db.session.add_all([models.Party(dispute=case, role="applicant", name=f"当事人{n}",
                                     phone="13912345678", id_number=None) for n in range(5)])
    db.session.commit()
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    seen, after = [], None
    while True:
        body = client.get("/api/v1/parties", query_string={
            "case": case.id, "limit": 2, **({"after": after} if after else {})}).get_json()
        seen += body["items"]
        after = body["next"]
        if after is None:
            break
    assert len(seen) == len({p["id"] for p in seen}) == 5
    assert all(p["phone"] == "139****5678" for p in seen)
    oldest = client.get("/api/v1/parties", query_string={"order": "asc", "limit": 1}).get_json()
    assert oldest["items"][0]["id"] == min(p["id"] for p in seen)
    for path in ("/api/v1/units", "/api/v1/staff", "/api/v1/experts", "/api/v1/referrals",
                 "/api/v1/sessions", "/api/v1/feedback", "/api/v1/service-records"):
        answer = client.get(path, query_string={"limit": 100})
        assert answer.status_code in (200, 403), path
    units = client.get("/api/v1/units", query_string={"limit": 100}).get_json()["items"]
    bole_centre = case.centre_id
    assert units and all(u["centre_id"] == bole_centre for u in units)
    assert client.get("/api/v1/units?active=maybe").status_code == 400
    assert client.get("/api/v1/parties?order=sideways").status_code == 400
    client.post("/logout/")
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    theirs = client.get("/api/v1/parties", query_string={"limit": 100}).get_json()["items"]
    assert not {p["id"] for p in seen} & {p["id"] for p in theirs}
    assert client.get(f"/api/v1/parties/{seen[0]['id']}").status_code == 404
    client.post("/logout/")
    client.post("/login/", data={"username": "leader", "password": PASSWORD})
    report = client.get("/api/v1/statistics", query_string={"period": "2026"})
    assert report.status_code == 200 and "kpi" in report.get_json()
    assert client.get("/api/v1/statistics?period=never").status_code == 400
    assert client.get("/api/v1/statistics?area=999999").status_code == 404


def test_a_case_registered_and_changed_through_the_api(app, client, people):
    """POST registers a case with its parties (bad fields: 422 naming each, nothing saved);
    PATCH needs the version seen (428 without), changes it with If-Match and answers the new
    ETag; a stale If-Match is 409; a party is added through POST /parties."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    centre = db.session.scalar(select(models.Centre.id).join(models.Region).where(
        models.Region.code == "652701"))
    korla = db.session.scalar(select(models.Centre.id).join(models.Region).where(
        models.Region.code == "652801"))
    category = db.session.scalar(select(models.Category.id).filter_by(code="private_lending"))
    body = {"centre": centre, "category": category, "title": "刘某诉张某借款纠纷",
            "description": "借款两万元到期未还", "amount": "20000", "source": "hotline",
            "level": "county", "parties": [
                {"role": "applicant", "name": "刘某", "phone": "13912345678"},
                {"role": "respondent", "name": "张某"}]}
    before = db.session.scalar(select(func.count()).select_from(models.Dispute))
    bad = client.post("/api/v1/cases", json={**body, "centre": korla, "amount": -5,
                                             "parties": [{"role": "applicant", "name": "刘某",
                                                          "id_number": "123"}]})
    assert bad.status_code == 422
    assert {"centre", "amount", "parties[0].id_number"} <= set(bad.get_json()["fields"])
    assert db.session.scalar(select(func.count()).select_from(models.Dispute)) == before
    made = client.post("/api/v1/cases", json=body)
    assert made.status_code == 201, made.get_json()
    case = made.get_json()
    assert case["status"] == "registered" and len(case["parties"]) == 2
    assert made.headers["ETag"] == f'"{case["version"]}"'
    assert made.headers["Location"].endswith(f"/api/v1/cases/{case['id']}")
    path = f"/api/v1/cases/{case['id']}"
    assert client.patch(path, json={"title": "新标题"}).status_code == 428
    tag = client.get(path).headers["ETag"]
    changed = client.patch(path, json={"title": "刘某诉张某民间借贷纠纷"},
                           headers={"If-Match": tag})
    assert changed.status_code == 200 and changed.get_json()["title"] == "刘某诉张某民间借贷纠纷"
    assert changed.headers["ETag"] != tag
    stale = client.patch(path, json={"title": "又改"}, headers={"If-Match": tag})
    assert stale.status_code == 409 and stale.get_json()["code"] == "stale_version"
    assert client.patch(path, json={"status": "closed"}, headers={
        "If-Match": changed.headers["ETag"]}).status_code == 422
    accepted = client.post(f"{path}/steps/accept", json={},
                           headers={"If-Match": changed.headers["ETag"]})
    assert accepted.status_code == 200 and accepted.headers["ETag"] != changed.headers["ETag"]
    party = client.post("/api/v1/parties", json={"case": case["id"], "role": "third_party",
                                                 "name": "王某"})
    assert party.status_code == 201 and party.get_json()["dispute_id"] == case["id"]
    assert party.get_json()["name"] == "王某"
    assert {p["name"] for p in client.get(path).get_json()["parties"]} == {"刘某", "张某", "王某"}
    assert client.post("/api/v1/parties", json={"case": case["id"], "role": "judge",
                                                "name": ""}).status_code == 422


def test_the_case_list_pages_oldest_first_too(app, client, people):
    """order=asc walks the same cases oldest first, by the same kind of cursor."""
    made = [new_case(people["bole"], at=models.now()) for _ in range(5)]
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    seen, after = [], None
    while True:
        body = client.get("/api/v1/cases", query_string={
            "order": "asc", "limit": 2, **({"after": after} if after else {})}).get_json()
        seen += [(item["registered_at"], item["id"]) for item in body["items"]]
        after = body["next"]
        if after is None:
            break
    assert seen == sorted(seen) and {c.id for c in made} <= {pk for _at, pk in seen}
    assert client.get("/api/v1/cases?order=up").status_code == 400


def test_the_setup_resources_are_added_where_the_screens_add_them(app, client, people):
    """A centre administrator adds a staff member, a stationed unit and a service record
    through the API inside their area (201); another centre's id or a unit of another centre
    is 422 naming the field; a second unit of the same department is 409; a service record
    across two months is refused as on the screen; window staff may not add staff (403)."""
    sm = app.appbuilder.sm
    boss = sm.add_user("boss", "boss", "test", "boss@example.org", sm.find_role("centre_admin"),
                       password=PASSWORD)
    from seeds import demo

    demo.set_scope(db.session, boss, "652701", None)
    db.session.commit()
    centre = db.session.scalar(select(models.Centre.id).join(models.Region).where(
        models.Region.code == "652701"))
    korla = db.session.scalar(select(models.Centre.id).join(models.Region).where(
        models.Region.code == "652801"))
    court = db.session.scalar(select(models.StationedUnit).where(
        models.StationedUnit.centre_id == centre))
    client.post("/login/", data={"username": "boss", "password": PASSWORD})
    made = client.post("/api/v1/staff", json={"name": "王调解员", "centre_id": centre,
                                              "unit_id": court.id, "phone": "13912345678",
                                              "is_mediator": True})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["phone"] == "139****5678"
    elsewhere = client.post("/api/v1/staff", json={"name": "李某", "centre_id": korla})
    assert elsewhere.status_code == 422 and "centre_id" in elsewhere.get_json()["fields"]
    twice = client.post("/api/v1/units", json={"centre_id": centre,
                                               "department_id": court.department_id,
                                               "mode": "resident"})
    assert twice.status_code == 409 and twice.get_json()["code"] == "conflict"
    across = client.post("/api/v1/service-records", json={
        "centre_id": centre, "kind": "legal_help", "count": 3,
        "period_start": "2026-10-20", "period_end": "2026-11-05"})
    assert across.status_code == 422
    month = client.post("/api/v1/service-records", json={
        "centre_id": centre, "kind": "legal_help", "count": 3,
        "period_start": "2026-11-01", "period_end": "2026-11-30"})
    assert month.status_code == 201, month.get_json()
    client.post("/logout/")
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    assert client.post("/api/v1/staff", json={"name": "张某", "centre_id": centre}
                       ).status_code == 403


def test_a_concluded_case_is_frozen_for_the_api_too(app, client, people):
    """As on the screens: a concluded case's facts and parties change only by reopening."""
    from app import workflow

    case = new_case(people["bole"], at=models.now())
    workflow.accept(db.session, case, people["bole"])
    workflow.conclude(db.session, case, people["bole"], "withdrawn")
    db.session.commit()
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    tag = client.get(f"/api/v1/cases/{case.id}").headers["ETag"]
    changed = client.patch(f"/api/v1/cases/{case.id}", json={"title": "改"},
                           headers={"If-Match": tag})
    assert changed.status_code == 422 and changed.get_json()["code"] == "refused"
    added = client.post("/api/v1/parties", json={"case": case.id, "role": "third_party",
                                                 "name": "王某"})
    assert added.status_code == 422
