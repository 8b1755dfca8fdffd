"""Generated junk through every form and API endpoint as each role: never a 500, and a refusal
changes nothing (property-based, with hypothesis)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import models, workflow
from app.extensions import db
from seeds import demo

# Values people and scripts send that forms must refuse in words, not with a 500.
NASTY = ["", " ", "-1", "0", "1e309", "-1e309", "NaN", "inf", "1e20", "99999999999999999999",
         "2025-02-30", "yesterday", "1800-01-01", "2999-12-31", "2025-13-01T25:61",
         "２０２５", "٦٥٢٧٠١", "\u202e反转", "\x00", "' OR 1=1 --", "<script>x</script>",
         "=cmd|' /C calc'!A0", "a" * 5000, "r:999999", "u:abc", "652701-2025-00001"]
VALUE = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                  st.integers(min_value=-2**70, max_value=2**70).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))
CASE_STEPS = (*workflow.CASE_STEPS, "extend", "book", "result", "follow_up", "nonsense")
REFERRAL_STEPS = ("report_in", "answer", "return", "nonsense")
# Rows whose number and state a refused request must leave as they were.
WATCHED = (models.Dispute, models.Party, models.Referral, models.MediationSession,
           models.Feedback, models.CaseEvent, models.Centre, models.StationedUnit, models.Staff,
           models.Expert, models.RotaSlot, models.Region, models.ServiceRecord)
LOGINS = {"admin": "admin", "centre_admin": "centre_admin", "staff": "staff",
          "unit_liaison": "liaison", "leader": "leader", "auditor": "auditor"}


def _state():
    """The rows' counts and the cases' states and versions."""
    db.session.rollback()  # read what the requests committed
    counts = tuple(db.session.scalar(select(func.count()).select_from(m)) for m in WATCHED)
    cases = tuple(db.session.execute(select(models.Dispute.id, models.Dispute.status,
                                            models.Dispute.version)
                                     .order_by(models.Dispute.id)).all())
    return counts, cases


def _targets(app):
    """(kind, url, field names) of every form and step the app offers."""
    case = db.session.scalar(select(models.Dispute.id).order_by(models.Dispute.id.desc()))
    referral = db.session.scalar(select(models.Referral.id).order_by(models.Referral.id.desc()))
    found = []
    with app.test_request_context():
        for view in app.appbuilder.baseviews:
            for kind in ("add", "edit"):
                form = getattr(view, f"{kind}_form", None)
                if form is None or f"can_{kind}" not in (view.base_permissions or []):
                    continue
                fields = [name for name in form()._fields if name != "csrf_token"]
                route = view.route_base
                if kind == "add":
                    found.append(("form", f"{route}/add", fields))
                else:
                    key = db.session.scalar(select(view.datamodel.obj.id).limit(1)) \
                        if hasattr(view.datamodel.obj, "id") else None
                    if key is not None:
                        found.append(("form", f"{route}/edit/{key}", fields))
    step_fields = ["version", "note", "reason", "units", "instructions", "respond_hours",
                   "answer_days", "in_turn", "route_on", "outcome", "resolved_level",
                   "satisfaction", "channel", "days", "approved_by", "scheduled_at", "mode",
                   "expert", "duration_minutes", "place", "link", "session", "result",
                   "agreement_text", "follow_up_on"]
    for step in CASE_STEPS:
        found.append(("form", f"/disputemodelview/step/{case}/{step}", step_fields))
        found.append(("api", f"/api/v1/cases/{case}/steps/{step}", step_fields))
    for step in REFERRAL_STEPS:
        found.append(("form", f"/referralmodelview/step/{referral}/{step}", ["result", "reason"]))
    found.append(("form", "/resetmypassword/form",
                  ["current_password", "password", "conf_password"]))
    found.append(("form", "/userinfoeditview/form", ["first_name", "last_name", "email"]))
    return found


@pytest.fixture
def junk_world(app):
    """The demo world with a few cases in every state."""
    demo.load(db.session, app.appbuilder.sm, cases=8)
    db.session.commit()


@pytest.mark.parametrize("role", sorted(LOGINS))
def test_generated_junk_never_answers_500(app, junk_world, role):
    """Junk in every field of every form, step and API body: a page, a redirect or a 4xx,
    never a 500; when refused (the form again, or a 4xx), nothing changed."""
    client = app.test_client()
    assert client.post("/login/", data={"username": LOGINS[role],
                                        "password": demo.DEMO_PASSWORD}).status_code == 302
    targets = _targets(app)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(target=st.sampled_from(targets), data=st.data())
    def post_junk(target, data):
        kind, url, fields = target
        chosen = data.draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
        values = {name: data.draw(VALUE) for name in chosen}
        before = _state()
        if kind == "api":
            body = data.draw(st.one_of(st.just(values), st.sampled_from(
                ["x", "[1]", "null", "{", '{"version": 1e309}'])))
            response = client.post(url, data=body if isinstance(body, str) else json.dumps(body),
                                   content_type="application/json")
        else:
            response = client.post(url, data=values)
        assert response.status_code < 500, (url, values, response.status_code)
        refused = 400 <= response.status_code < 500 or (
            kind == "form" and response.status_code == 200)
        if refused:
            assert _state() == before, (url, values, response.status_code)

    post_junk()
