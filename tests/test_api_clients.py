"""API clients: a token issued once and stored hashed, used without a session or CSRF token,
refused when expired or revoked, limited per client, every call recorded with the client."""

import hashlib

import pytest
from sqlalchemy import select

from app import models
from app.extensions import db
from tests.conftest import PASSWORD
from tests.test_workflow import new_case, people  # noqa: F401  (a fixture)


def create(app, name, *extra):
    """Run `flask clients create` and return its token."""
    result = app.test_cli_runner().invoke(args=["clients", "create", name, *extra])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def bearer(token):
    """The header that carries a token."""
    return {"Authorization": f"Bearer {token}"}


def test_a_token_lifecycle_issue_use_expire_rotate_revoke(app, people):
    """The token works at once in the client's scope with its rights, is kept only as a hash,
    stops on expiry and on revocation, and a rotated one replaces the old."""
    bole = new_case(people["bole"], at=models.now())
    korla = new_case(people["korla"], code="652801", at=models.now())
    token = create(app, "hotline", "--role", "staff", "--scope", "652701", "--rate", "1000")
    client = db.session.scalar(select(models.ApiClient).filter_by(name="hotline"))
    secret = token.rsplit(".", 1)[1]
    assert client.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in client.secret_hash
    http = app.test_client()
    listed = http.get("/api/v1/cases?limit=100", headers=bearer(token))
    assert listed.status_code == 200
    ids = {item["id"] for item in listed.get_json()["items"]}
    assert bole.id in ids and korla.id not in ids
    assert http.get(f"/api/v1/cases/{korla.id}", headers=bearer(token)).status_code == 404
    version = http.get(f"/api/v1/cases/{bole.id}", headers=bearer(token)).get_json()["version"]
    browser = app.test_client()  # signed in before CSRF tokens are checked
    assert browser.post("/login/", data={"username": "bole", "password": PASSWORD}
                        ).status_code == 302
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        step = http.post(f"/api/v1/cases/{bole.id}/steps/accept", json={"version": version},
                         headers=bearer(token))
        assert step.status_code == 200 and step.get_json()["status"] == "accepted"
        # A browser session's API write still needs its CSRF token.
        refused = browser.post(f"/api/v1/cases/{bole.id}/steps/extend", json={"version": 2})
        assert refused.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    event = db.session.scalar(select(models.CaseEvent).where(
        models.CaseEvent.dispute_id == bole.id, models.CaseEvent.action == "accept"))
    assert event.actor_id == client.user_id
    for wrong in ("zz.nothing.here", token[:-2] + "xx", "garbage"):
        answer = http.get("/api/v1/cases", headers=bearer(wrong))
        assert answer.status_code == 401 and answer.get_json()["code"] == "invalid_token"
    newer = app.test_cli_runner().invoke(args=["clients", "rotate", "hotline"]).output.strip()
    assert http.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert http.get("/api/v1/cases", headers=bearer(newer)).status_code == 200
    db.session.expire_all()
    client = db.session.scalar(select(models.ApiClient).filter_by(name="hotline"))
    client.expires_at = models.now()
    db.session.commit()
    assert http.get("/api/v1/cases", headers=bearer(newer)).get_json()["code"] == "expired"
    client.expires_at = None
    db.session.commit()
    assert http.get("/api/v1/cases", headers=bearer(newer)).status_code == 200
    assert app.test_cli_runner().invoke(args=["clients", "revoke", "hotline"]).exit_code == 0
    gone = http.get("/api/v1/cases", headers=bearer(newer))
    assert gone.status_code == 401 and gone.get_json()["code"] == "revoked"
    calls = db.session.scalars(select(models.ApiCall).where(
        models.ApiCall.client_id == client.id).order_by(models.ApiCall.id)).all()
    assert [c.status for c in calls][:4] == [200, 404, 200, 200]
    assert calls[0].path.startswith("/api/v1/cases") and calls[-1].status == 401


def test_a_client_over_its_rate_gets_429_and_others_go_on(app, people):
    """Each client has its own limit a minute; the refusal says when to try again."""
    slow = create(app, "slow", "--role", "leader", "--rate", "3")
    other = create(app, "other", "--role", "leader", "--rate", "100")
    http = app.test_client()
    answers = [http.get("/api/v1/cases", headers=bearer(slow)).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    limited = http.get("/api/v1/cases", headers=bearer(slow))
    assert limited.get_json()["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    assert http.get("/api/v1/cases", headers=bearer(other)).status_code == 200


def test_a_client_cannot_sign_in_to_the_screens(app, people):
    """The client's own login has a password nobody knows, and its token opens no page
    beyond what its roles grant."""
    token = create(app, "platform", "--role", "leader")
    http = app.test_client()
    assert http.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    step = http.post("/api/v1/cases/1/steps/accept", json={"version": 1}, headers=bearer(token))
    assert step.status_code in (403, 404)
    signed = app.test_client().post("/login/", data={"username": "api-platform",
                                                     "password": PASSWORD})
    assert "/login" in signed.headers.get("Location", "/login")


@pytest.mark.parametrize("args", [["--role", "nobody"], ["--role", "staff", "--scope", "999999"]])
def test_creating_a_client_refuses_what_a_login_would(app, people, args):
    """Unknown roles and scopes are refused with a reason, and nothing is left behind."""
    result = app.test_cli_runner().invoke(args=["clients", "create", "bad", *args])
    assert result.exit_code != 0
    db.session.rollback()
    assert db.session.scalar(select(models.ApiClient).filter_by(name="bad")) is None


def _shown(html):
    """The token or secret on the shown-once page."""
    import re

    return re.search(r'class="form-control zz-secret" type="text" readonly value="([^"]+)"',
                     html).group(1)


def test_the_administrator_makes_rotates_and_revokes_clients_on_screen(app, people, login_as):
    """The admin's screen creates a client (a refused form keeps what was typed and says why),
    shows its token once, which then works; a new token replaces it; revoking refuses the next
    request; a webhook's secret is shown once; no secret reaches the audit trail; window staff
    cannot open the screen."""
    new_case(people["bole"], at=models.now())
    bole = db.session.scalar(select(models.Region.id).filter_by(code="652701"))
    admin = login_as("admin")
    assert "新建接口客户端" in admin.get("/api-clients/add").get_data(as_text=True)
    refused = admin.post("/api-clients/add", data={"name": "bad name!", "role": "leader",
                                                   "scope": f"r:{bole}", "rate": "77",
                                                   "days": "30"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and 'value="bad name!"' in html and 'value="77"' in html
    assert "字母" in html
    made = admin.post("/api-clients/add", data={"name": "prefecture", "role": "leader",
                                                "scope": f"r:{bole}", "rate": "600",
                                                "days": "30"})
    token = _shown(made.get_data(as_text=True))
    http = app.test_client()
    assert http.get("/api/v1/cases", headers=bearer(token)).status_code == 200
    listing = admin.get("/api-clients/").get_data(as_text=True)
    assert "prefecture" in listing and "启用" in listing and token not in listing
    rotated = _shown(admin.post(f"/api-clients/{db.session.scalar(select(models.ApiClient.id))}"
                                "/rotate").get_data(as_text=True))
    assert http.get("/api/v1/cases", headers=bearer(token)).status_code == 401
    assert http.get("/api/v1/cases", headers=bearer(rotated)).status_code == 200
    client_id = db.session.scalar(select(models.ApiClient.id))
    bad = admin.post(f"/api-clients/{client_id}/subscribe", data={"url": "ftp://x"})
    assert bad.status_code == 200 and 'value="ftp://x"' in bad.get_data(as_text=True)
    secret = _shown(admin.post(f"/api-clients/{client_id}/subscribe", data={
        "url": "http://127.0.0.1:9/hook", "actions": ["accept", "refer"]}).get_data(as_text=True))
    db.session.rollback()
    sub = db.session.scalar(select(models.WebhookSubscription))
    assert sub.secret == secret and sub.actions == "accept,refer"
    assert admin.post(f"/api-clients/webhooks/{sub.id}/switch").status_code == 302
    db.session.rollback()
    assert db.session.get(models.WebhookSubscription, sub.id).active is False
    assert admin.post(f"/api-clients/{client_id}/revoke").status_code == 302
    assert http.get("/api/v1/cases", headers=bearer(rotated)).status_code == 401
    trail = " ".join(str(row.detail) for row in db.session.scalars(select(models.AuditLog)))
    assert "api_client" in " ".join(str(r.object_type) for r in db.session.scalars(
        select(models.AuditLog)))
    for value in (secret, rotated.rsplit(".", 1)[1], token.rsplit(".", 1)[1]):
        assert value not in trail
    assert login_as("staff").get("/api-clients/").status_code in (302, 403)
