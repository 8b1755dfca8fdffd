"""Bad input is answered with a message or a 4xx, never a 500, and changes nothing."""

import pytest
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import func, select

from app import models, personal, workflow
from app.extensions import db


def _case(status="accepted"):
    """A Bole case in a given status."""
    centre = db.session.scalar(select(models.Centre).join(models.Region)
                               .where(models.Region.code == "652701"))
    case = models.Dispute(centre=centre, category=db.session.scalar(select(models.Category)),
                          title="坏输入", description="d", source="window", level="county",
                          risk="low")
    db.session.add(case)
    workflow.register(db.session, case, None)
    case.status = status
    db.session.commit()
    return case


@pytest.mark.parametrize("duration", ["-5", "0", "1e20", "abc", "99999999999999999999"])
def test_a_booking_with_a_bad_duration_is_refused_in_words(world, login_as, duration):
    """Durations outside 5 minutes to a day are refused on the page; nothing is booked."""
    client = login_as("admin")
    case = _case()
    response = client.post(f"/disputemodelview/step/{case.id}/book", data={
        "version": case.version, "scheduled_at": "2026-12-10T10:00", "mode": "in_person",
        "place": "调解室", "duration_minutes": duration}, follow_redirects=True)
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(models.MediationSession)) == 0


@pytest.mark.parametrize("body", [{"version": 1e309}, "x", [1], {"version": 1, "units": 5},
                                  {"version": "一"}])
def test_junk_api_bodies_get_json_4xx(world, login_as, body):
    """Infinite versions, non-objects and wrong shapes: a JSON 4xx, never a 500."""
    client = login_as("admin")
    case = _case("accepted")
    response = client.post(f"/api/v1/cases/{case.id}/steps/refer", json=body)
    assert 400 <= response.status_code < 500 and response.is_json, body
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).status == "accepted"


@pytest.mark.parametrize("path", ["/api/v1/cases/99999999999999999999999",
                                  "/disputemodelview/show/99999999999999999999999",
                                  "/lookup/dispute?page=" + "9" * 31])
def test_huge_keys_and_pages_are_not_errors(world, login_as, path):
    """Keys beyond what the database stores are records that do not exist."""
    response = login_as("admin").get(path)
    assert response.status_code in (200, 404)


@pytest.mark.parametrize("amount", ["1e309", "NaN", "-1", "1e13"])
def test_amounts_must_be_real_and_storable(world, login_as, amount):
    """Infinity, NaN, negatives and amounts the column cannot hold are refused on the form."""
    client = login_as("admin")
    centre = db.session.scalar(select(models.Centre))
    response = client.post("/disputemodelview/add", data={
        "applicant_name": "甲", "respondent_name": "乙",
        "centre": centre.id, "category": db.session.scalar(select(models.Category.id)),
        "title": "金额", "description": "d", "amount": amount, "source": "window",
        "level": "county", "risk": "low"})
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(models.Dispute)) == 0


def test_numbers_typed_in_other_digits_are_stored_in_ascii():
    """Full-width and Arabic-Indic digits are read as the digits they are."""
    body = "65270119800101001"
    number = personal.complete_id_number(body)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert personal.normalise_number(wide) == number
    assert personal.id_number_problem(wide) is None
    arabic = "".join(chr(0x0660 + int(c)) for c in "13812345678")
    assert personal.normalise_number(arabic) == "13812345678"
    assert personal.phone_problem("138 1234 5678") is None


@pytest.mark.parametrize("method,path,data", [
    ("get", "/users/action/no_such_action/1", None),
    ("post", "/users/action_post", {"action": "no_such_action", "rowid": "1"}),
    ("get", "/roles/action/no_such_action/1", None),
    ("post", "/roles/action_post", {"action": "copyrole", "rowid": "1"}),
    ("get", "/users/download/x.txt", None),
    ("post", "/disputemodelview/action/accept_selected/1", None),  # a bulk-only action
    ("post", "/disputemodelview/action_post", {"action": "no_such_action", "rowid": "1"}),
])
def test_unknown_actions_and_downloads_are_not_errors(world, login_as, method, path, data):
    """Unknown or withheld actions, the bulk action's single-row form and the user screen's
    file download answer 4xx or send the person back, never 500, and change nothing."""
    client = login_as("admin")
    _case("registered")
    roles = db.session.scalar(select(func.count()).select_from(Role))
    response = getattr(client, method)(path, data=data)
    assert response.status_code in (302, 403, 404), (path, response.status_code)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(models.Dispute)
                             .where(models.Dispute.status != "registered")) == 0
    assert db.session.scalar(select(func.count()).select_from(Role)) == roles
