"""Accounts: password policy, forced change, lockout shared by processes, sessions that end."""

import datetime
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select, update

from app import models
from app.extensions import db
from tests.conftest import PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def login(client, username, password=PASSWORD):
    """Post the login form; the response."""
    return client.post("/login/", data={"username": username, "password": password})


def signed_in(client):
    """True when the client reaches a page behind login."""
    response = client.get("/disputemodelview/list/")
    return response.status_code == 200


@pytest.mark.parametrize("password,ok", [
    ("short1A!", False), ("alllowercaseletters", False), ("lowercase123456", False),
    ("Lowercase123456", True), ("lower-case-123", True),
])
def test_password_policy(app, password, ok):
    """Ten characters or more, from three of four character classes."""
    from wtforms.validators import ValidationError

    from app.accounts import password_policy

    with app.test_request_context():
        if ok:
            password_policy(password)
        else:
            with pytest.raises(ValidationError):
                password_policy(password)


def test_seeded_accounts_must_change_their_password(app, client, users, world):
    """A seeded login reaches only the password form until it sets a new, strong password."""
    from app.accounts import require_password_change

    require_password_change("staff")
    assert login(client, "staff").status_code == 302
    response = client.get("/disputemodelview/list/")
    assert response.status_code == 302 and "resetmypassword" in response.headers["Location"]
    form = client.get("/resetmypassword/form").get_data(as_text=True)
    assert "至少10个字符" in form and "不会检查" not in form  # the rule, before the first try
    weak = client.post("/resetmypassword/form", data={
        "current_password": PASSWORD, "password": "weakpass", "conf_password": "weakpass"})
    assert "密码至少10位" in weak.get_data(as_text=True)
    strong = "Bole#Window2025"
    client.post("/resetmypassword/form", data={"current_password": PASSWORD, "password": strong,
                                               "conf_password": strong})
    assert signed_in(client)
    client.post("/logout/")
    assert login(client, "staff", strong).status_code == 302 and signed_in(client)


def test_own_password_change_needs_the_current_one_and_ends_other_sessions(app, users):
    """A wrong current password is refused with the form kept; the right one changes it and
    signs out the login's other browsers, not this one."""
    here, elsewhere, other = app.test_client(), app.test_client(), app.test_client()

    def as_(client, call, *args, **kwargs):
        with app.app_context():  # each browser's requests with their own g, as on a server
            return call(client, *args, **kwargs)

    as_(here, login, "staff")
    as_(elsewhere, login, "staff")
    strong = "Bole#Window2025"
    data = {"current_password": "not-it", "password": strong, "conf_password": strong}
    wrong = as_(here, lambda c: c.post("/resetmypassword/form", data=data))
    assert wrong.status_code == 200 and "当前密码不正确" in wrong.get_data(as_text=True)
    as_(other, login, "staff", strong)
    assert not as_(other, signed_in)  # nothing changed
    data["current_password"] = PASSWORD
    as_(here, lambda c: c.post("/resetmypassword/form", data=data))
    assert as_(here, signed_in) and not as_(elsewhere, signed_in)


def test_logout_is_a_form_not_a_link(app, client, users):
    """GET /logout/ only asks; the POST (with its CSRF token in production) signs out."""
    login(client, "staff")
    page = client.get("/logout/")
    assert page.status_code == 200 and 'method="post"' in page.get_data(as_text=True)
    assert signed_in(client)
    client.post("/logout/")
    assert not signed_in(client)


def test_lockout_after_five_failures(app, client, users):
    """Five wrong passwords lock the name for 15 minutes, even against the right password."""
    for _ in range(5):
        login(client, "staff", "wrong-password")
    response = login(client, "staff")
    assert not signed_in(client)
    assert "已锁定" in client.get("/login/").get_data(as_text=True) or response.status_code == 302
    state = db.session.get(models.AccountState, "staff")
    assert state.locked_until > models.now() + datetime.timedelta(minutes=14)
    state.locked_until = models.now() - datetime.timedelta(seconds=1)  # the 15 minutes pass
    db.session.commit()
    login(client, "staff")
    assert signed_in(client)


def test_unknown_names_get_the_same_answer(app, client, users):
    """An unknown name and a wrong password get the same page, status and similar time."""
    def attempt(name):
        client.post("/logout/")
        started = time.perf_counter()
        response = login(client, name, "wrong-password")
        elapsed = time.perf_counter() - started
        page = client.get(response.headers.get("Location", "/login/")).get_data(as_text=True)
        return response.status_code, response.headers.get("Location"), elapsed, "用户名或密码" in page or "Invalid login" in page or "登录" in page

    known = [attempt("staff") for _ in range(3)]
    unknown = [attempt("nobody-here") for _ in range(3)]
    assert {k[:2] for k in known} == {u[:2] for u in unknown}
    median = lambda runs: sorted(r[2] for r in runs)[1]  # noqa: E731
    assert 0.2 < median(known) / median(unknown) < 5


LOGIN_FAILURES = """
import sys
sys.path.insert(0, {root!r})
from app import create_app
app = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI={url!r},
                 FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
client = app.test_client()
for _ in range({count}):
    client.post("/login/", data={{"username": "staff", "password": "wrong-password"}})
"""


def test_lockout_holds_across_processes(app, client, users):
    """Failures from another process count: three there and two here lock the account."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    script = LOGIN_FAILURES.format(root=ROOT, url=url, count=3)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, timeout=120)
    for _ in range(2):
        login(client, "staff", "wrong-password")
    login(client, "staff")
    assert not signed_in(client)
    db.session.expire_all()
    assert db.session.get(models.AccountState, "staff").locked_until is not None


def test_idle_sessions_end(app, client, users):
    """Thirty minutes without a request end the session."""
    login(client, "staff")
    assert signed_in(client)
    db.session.execute(update(models.LoginSession).values(
        last_seen=models.now() - datetime.timedelta(minutes=31)))
    db.session.commit()
    assert not signed_in(client)


def test_the_cookie_is_renewed_with_activity_not_on_every_response(app, client, users):
    """The session cookie's expiry moves on when the session check records activity (every
    30 s at most), so an active user stays signed in without a cookie on every response."""
    login(client, "staff")
    client.get("/disputemodelview/list/")
    assert "Set-Cookie" not in client.get("/disputemodelview/list/").headers
    db.session.execute(update(models.LoginSession).values(
        last_seen=models.now() - datetime.timedelta(seconds=40)))
    db.session.commit()
    renewed = client.get("/disputemodelview/list/").headers.get("Set-Cookie", "")
    assert renewed.startswith("session=") and "Expires=" in renewed
    assert signed_in(client)


def test_deactivated_users_lose_access_at_once(app, client, users):
    """Deactivating an account ends its access on the next request."""
    login(client, "staff")
    assert signed_in(client)
    user = app.appbuilder.sm.find_user("staff")
    user.active = False
    db.session.commit()
    assert not signed_in(client)


def test_logout_kills_the_old_cookie(app, client, users):
    """A copy of the session cookie taken before logout no longer works after it."""
    login(client, "staff")
    assert signed_in(client)
    cookie = client.get_cookie("session").value
    client.post("/logout/")
    client.set_cookie("session", cookie)
    assert not signed_in(client)
    assert db.session.scalar(select(models.LoginSession).where(
        models.LoginSession.ended_at.is_(None))) is None


def test_login_throttling_is_shared_through_redis(app):
    """With REDIS_URL, two app instances share one per-address login budget."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
    except Exception:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from app import create_app

    redis.Redis.from_url("redis://127.0.0.1:6379/15").flushdb()
    settings = dict(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                    AUTH_RATE_LIMITED=True, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute",
                    RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15")
    first = create_app("config.TestConfig", **settings).test_client()
    second = create_app("config.TestConfig", **settings).test_client()
    codes = [first.post("/login/", data={"username": "x", "password": "y"}).status_code
             for _ in range(2)]
    codes += [second.post("/login/", data={"username": "x", "password": "y"}).status_code
              for _ in range(2)]
    assert codes[:3] != [429] * 3 and codes[3] == 429


@pytest.mark.parametrize("spelling", ["STAFF", "Staff", "staff@example.org", " staff "])
def test_one_lockout_per_account_whatever_is_typed(app, client, users, spelling):
    """Failures under any spelling of the name, or the e-mail address, count for the one
    account; once locked, no spelling signs in, even with the right password."""
    for typed in ("staff", "STAFF", "staff@example.org", "StAfF", "staff"):
        login(client, typed, "wrong-password")
    state = db.session.get(models.AccountState, "staff")
    assert state.locked_until is not None and state.locked_until > models.now()
    login(client, spelling)
    assert not signed_in(client)


def test_an_admin_creates_a_login_with_its_scope_in_one_form(app, client, users, world):
    """The user form takes roles and 管辖范围 together; the new Korla clerk sees exactly Korla's
    cases; the list shows the scope; a liaison given a region is refused with the form kept."""
    from app import workflow

    sm = app.appbuilder.sm
    korla = db.session.scalar(select(models.Region).filter_by(code="652801"))
    made = {}
    for code in ("652801", "652701"):
        centre = db.session.scalar(select(models.Centre).join(models.Region)
                                   .where(models.Region.code == code))
        case = models.Dispute(centre=centre, category=db.session.scalar(select(models.Category)),
                              title=f"{code}的案件", description="d", source="window",
                              level="county", risk="low")
        db.session.add(case)
        workflow.register(db.session, case, None)
        made[code] = case
    db.session.commit()
    made = {code: case.id for code, case in made.items()}
    login(client, "admin")
    form = client.get("/users/add").get_data(as_text=True)
    assert "管辖范围" in form and f'value="r:{korla.id}"' in form
    staff_role = sm.find_role("staff").id
    response = client.post("/users/add", data={
        "first_name": "库尔勒", "last_name": "办事员", "username": "korla_clerk", "active": "y",
        "email": "korla_clerk@example.org", "roles": staff_role, "scope": f"r:{korla.id}",
        "password": "Korla#Clerk2025", "conf_password": "Korla#Clerk2025"})
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    user = sm.find_user("korla_clerk")
    assert db.session.get(models.UserScope, user.id).region_id == korla.id
    assert "巴音郭楞" in client.get("/users/list/").get_data(as_text=True) or \
        korla.name in client.get("/users/list/").get_data(as_text=True)
    liaison_role = sm.find_role("unit_liaison").id
    refused = client.post("/users/add", data={
        "first_name": "联络", "last_name": "员", "username": "bad_liaison", "active": "y",
        "email": "bad_liaison@example.org", "roles": liaison_role, "scope": f"r:{korla.id}",
        "password": "Liaison#2025x", "conf_password": "Liaison#2025x"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "入驻单位" in page and 'value="bad_liaison"' in page
    assert sm.find_user("bad_liaison") is None
    db.session.get(models.AccountState, "korla_clerk").must_change_password = False
    db.session.commit()  # the new login has chosen its own password
    client.post("/logout/")
    login(client, "korla_clerk", "Korla#Clerk2025")
    assert client.get(f"/api/v1/cases/{made['652801']}").status_code == 200
    assert client.get(f"/api/v1/cases/{made['652701']}").status_code == 404


def test_the_users_command_creates_a_login_with_its_scope(app, world):
    """`flask users create` and `flask users scope` for scripted set-up; wrong pairs refused."""
    runner = app.test_cli_runner()
    done = runner.invoke(args=["users", "create", "qitai_clerk", "--role", "staff", "--scope",
                               "652325", "--email", "qc@example.org",
                               "--password", "Qitai#Clerk2025"])
    assert done.exit_code == 0, done.output
    user = app.appbuilder.sm.find_user("qitai_clerk")
    region = db.session.scalar(select(models.Region).filter_by(code="652325"))
    assert db.session.get(models.UserScope, user.id).region_id == region.id
    refused = runner.invoke(args=["users", "scope", "qitai_clerk", "652701:court"])
    assert refused.exit_code != 0 and "入驻单位联络员" in refused.output
    weak = runner.invoke(args=["users", "create", "weak", "--role", "staff", "--email",
                               "w@example.org", "--password", "short"])
    assert weak.exit_code != 0


def test_a_login_without_a_scope_is_told_so(app, client, users, world):
    """A staff login with no 管辖范围 sees a message on its pages, not just an empty app."""
    login(client, "staff")
    page = client.get("/disputemodelview/list/").get_data(as_text=True)
    assert "管辖范围" in page and "zz-no-scope" in page
    client.post("/logout/")
    login(client, "admin")  # the admin without a row sees the whole region: no message
    assert "zz-no-scope" not in client.get("/disputemodelview/list/").get_data(as_text=True)


def test_duties_stay_apart_whatever_screen_is_used(app, client, users):
    """The admin cannot give itself the auditor's role, and no role can be given unmasked
    personal data: refused with a message, nothing changed."""
    sm = app.appbuilder.sm
    login(client, "admin")
    admin = sm.find_user("admin")
    auditor_role, admin_role = sm.find_role("auditor"), sm.find_role("admin")
    response = client.post(f"/users/edit/{admin.id}", data={
        "first_name": "admin", "last_name": "test", "username": "admin", "active": "y",
        "email": "admin@example.org", "roles": [admin_role.id, auditor_role.id], "scope": ""})
    assert response.status_code == 200 and "审计员" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {r.name for r in sm.find_user("admin").roles} == {"admin"}
    grant = sm.add_permission_view_menu("can_view", "PersonalData")
    leader = sm.find_role("leader")
    leader.permissions.append(grant)
    with pytest.raises(Exception, match="逐条|不能"):
        db.session.commit()
    db.session.rollback()
