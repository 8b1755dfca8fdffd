"""Personal data: ID numbers and phones validated in Chinese, masked in every output, revealed on
purpose and on the record."""

import re

import pytest
from sqlalchemy import select

from app import models, personal
from app.extensions import db
from seeds import demo

LIU = "652701198506120020"  # the Bole case's applicant, a valid number


@pytest.mark.parametrize("value,problem", [
    (LIU, None),
    ("652701198506120023", "校验码"),
    ("6527011985061200", "18位"),
    ("652701198502300023", "出生日期不存在"),
    ("652701230001010012", "不合理"),
])
def test_id_numbers(app, value, problem):
    """Length, birth date and the GB 11643 check digit are each checked, in Chinese."""
    with app.test_request_context():
        found = personal.id_number_problem(value)
        assert (found is None) if problem is None else problem in str(found)


@pytest.mark.parametrize("value,valid", [
    ("13899751234", True), ("0909-2345678", True), ("01062345678", True),
    ("12899751234", False), ("2345678", False), ("138997512345", False),
])
def test_phone_numbers(value, valid):
    """An 11-digit mobile or a landline with its area code."""
    assert (personal.phone_problem(value) is None) is valid


def test_masks():
    """The middle of a number is hidden: 6527**********0020, 138****1234."""
    assert personal.mask("id", LIU) == "6527**********0020"
    assert personal.mask("phone", "13899751234") == "138****1234"


@pytest.fixture
def bole(app):
    """The demo world with the Bole case (its parties carry full ID numbers)."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    return db.session.scalar(select(models.Dispute).filter_by(case_no="652701-2025-00001"))


def full_numbers(case):
    """Every full ID number and phone of a case's parties."""
    return [v for p in case.parties for v in (p.id_number, p.phone)]


@pytest.mark.parametrize("username", ["staff", "leader", "admin", "liaison", "centre_admin"])
def test_no_full_number_in_any_page(app, client, bole, username):
    """Lists, show pages and related lists show masked numbers to every demo role."""
    client.post("/login/", data={"username": username, "password": demo.DEMO_PASSWORD})
    party = bole.parties[0]
    pages = ["/partymodelview/list/", f"/partymodelview/show/{party.id}",
             f"/disputemodelview/show/{bole.id}", f"/partymodelview/edit/{party.id}"]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        for number in full_numbers(bole):
            assert number not in html, (username, url)
    html = client.get("/partymodelview/list/").get_data(as_text=True)
    if username != "leader":
        assert "6527**********0020" in html


def test_reveal_is_explicit_scoped_and_audited(app, client, bole):
    """Staff reveal one number by POST; it is recorded; a row outside their scope answers 404."""
    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    party = bole.parties[0]
    marker = db.session.scalar(select(models.AuditLog.id).order_by(models.AuditLog.id.desc()).limit(1)) or 0
    html = client.get("/partymodelview/list/").get_data(as_text=True)
    url = re.search(r'data-url="(/personal/reveal/party/\d+/id_number)"', html).group(1)
    assert client.get(url).status_code == 405  # never by a plain link
    assert client.post(url).get_json() == {"value": party.id_number}
    db.session.rollback()  # a fresh snapshot (MariaDB reads at repeatable read)
    logged = db.session.scalars(select(models.AuditLog).where(models.AuditLog.id > marker)).all()
    assert any(r.action == "reveal" and r.object_id == str(party.id) and r.username == "staff"
               for r in logged)
    other = db.session.scalar(select(models.Party).join(models.Dispute).join(models.Centre)
                              .where(models.Centre.short_name != "博乐市"))
    if other is None:
        demo.load_demo_cases(db.session, 12)
        db.session.commit()
        other = db.session.scalar(select(models.Party).join(models.Dispute).join(models.Centre)
                                  .where(models.Centre.short_name != "博乐市"))
    assert client.post(f"/personal/reveal/party/{other.id}/id_number").status_code == 404


def test_roles_without_the_right_cannot_reveal(app, client, bole):
    """Leaders read masked data only."""
    client.post("/login/", data={"username": "leader", "password": demo.DEMO_PASSWORD})
    response = client.post(f"/personal/reveal/party/{bole.parties[0].id}/id_number")
    assert response.status_code in (401, 403)


def test_forms_refuse_bad_numbers_with_chinese_messages(app, client, bole):
    """A party with a wrong check digit or a short phone is not saved, and the form says why."""
    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    response = client.post("/partymodelview/add", data={
        "dispute": bole.id, "role": "third_party", "name": "王某",
        "id_number": "652701198506120023", "phone": "12345"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "校验码不正确" in html and "11位手机号码" in html
    assert db.session.scalar(select(models.Party).filter_by(name="王某")) is None


def test_editing_keeps_a_number_left_blank(app, client, bole):
    """The edit form never echoes the stored number; leaving it blank keeps it."""
    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    party = bole.parties[0]
    bole.status, bole.outcome = "accepted", None  # open again: its parties may be edited
    db.session.commit()
    response = client.post(f"/partymodelview/edit/{party.id}", data={
        "dispute": bole.id, "role": "applicant", "name": "刘某英二", "id_number": "", "phone": ""})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(models.Party, party.id)
    assert (saved.name, saved.id_number) == ("刘某英二", LIU)  # saved, the number kept


def test_id_numbers_are_searched_by_exact_match_only(app, client, bole):
    """The full number finds the party; a prefix finds nothing, whatever filter is asked for."""
    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    exact = client.get(f"/partymodelview/list/?_flt_0_id_number={LIU}").get_data(as_text=True)
    assert "刘某英" in exact and "张某<" not in exact
    def count(query):
        """The record count a party list shows."""
        html = client.get(f"/partymodelview/list/?{query}").get_data(as_text=True)
        found = re.search(r"记录数目:</strong>\s*(\d+)", html)
        return int(found.group(1)) if found else 0

    everything = count("")
    assert everything >= 2
    for column in ("id_number", "phone"):
        for index in range(10):
            # A prefix never narrows the list: it matches nothing, or (unknown filter) is ignored.
            assert count(f"_flt_{index}_{column}=6527") in (0, everything), (column, index)


def test_a_number_searched_for_is_not_kept_in_the_session_cookie(app, client, bole):
    """The back-link history in the (signed, readable) session cookie keeps the search's other
    filters but not the ID number searched for."""
    import base64
    import zlib

    client.post("/login/", data={"username": "staff", "password": demo.DEMO_PASSWORD})
    client.get(f"/partymodelview/list/?_flt_0_id_number={LIU}&_flt_0_role=applicant")
    cookie = client.get_cookie("session").value
    payload = cookie.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    text = (zlib.decompress(data) if cookie.startswith(".") else data).decode()
    assert LIU not in text and "_flt_0_role=applicant" in text
