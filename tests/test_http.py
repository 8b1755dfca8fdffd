"""HTTP hardening: headers on every response, no internals on error pages."""

from sqlalchemy.exc import OperationalError

from tests.conftest import PASSWORD


def test_security_headers_on_pages_and_assets(client, users):
    """Frames, sniffing, referrers and scripts are restricted everywhere; pages are not cached."""
    client.post("/login/", data={"username": "admin", "password": PASSWORD})
    page = client.get("/disputemodelview/list/")
    asset = client.get("/static/zongzhi/zongzhi.js")
    for response in (page, asset, client.get("/login/")):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    nonce = page.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    html = page.get_data(as_text=True)
    scripts = html.count("<script")
    assert scripts and html.count(f'nonce="{nonce}"') >= scripts


def test_session_cookie_flags(client, users):
    """The session cookie is HttpOnly and SameSite=Lax."""
    response = client.post("/login/", data={"username": "admin", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_database_errors_never_reach_the_page(app, client, users, monkeypatch):
    """A failing query shows a plain Chinese page, not SQL or a traceback."""
    from app.views import DisputeModelView

    client.post("/login/", data={"username": "admin", "password": PASSWORD})

    def broken(*args, **kwargs):
        raise OperationalError("SELECT secret FROM dispute", {}, Exception("disk I/O error"))

    monkeypatch.setattr(DisputeModelView.datamodel, "query", broken)
    response = client.get("/disputemodelview/list/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "操作未完成" in html and "SELECT" not in html and "disk I/O" not in html


def test_health_endpoint(client):
    """The health check answers without a login and reports the database."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "checked": "write"}


def test_the_client_address_behind_a_proxy_and_without(app, client, users):
    """Without a proxy a client's own X-Forwarded-For is ignored; behind PROXY_COUNT=1 the
    proxy's report is the address the audit trail records."""
    from sqlalchemy import select

    from app import create_app, models
    from app.extensions import db

    def last_ip(test_client):
        test_client.post("/login/", data={"username": "nobody", "password": "x"},
                         headers={"X-Forwarded-For": "203.0.113.9"},
                         environ_base={"REMOTE_ADDR": "10.0.0.5"})
        db.session.expire_all()
        return db.session.scalar(select(models.AuditLog.ip).where(
            models.AuditLog.action == "login_failed").order_by(models.AuditLog.id.desc()))

    assert last_ip(client) == "10.0.0.5"
    proxied = create_app("config.TestConfig", SQLALCHEMY_DATABASE_URI=app.config[
        "SQLALCHEMY_DATABASE_URI"], PROXY_COUNT=1, CACHE_TYPE="NullCache")
    with proxied.app_context():
        assert last_ip(proxied.test_client()) == "203.0.113.9"


def test_the_jwt_sign_in_is_switched_off(client, users):
    """Flask-AppBuilder's token sign-in answers 404: it would bypass lockout and audit."""
    response = client.post("/api/v1/security/login", json={
        "username": "admin", "password": "Test#Password2025", "provider": "db"})
    assert response.status_code == 404 and "access_token" not in response.get_data(as_text=True)


def test_only_the_configured_hosts_are_answered(app, client, users):
    """A Host header naming another host is refused, and the sign-in page's way back never
    points to it; the configured hosts work, whatever the port."""
    refused = client.get("/login/", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "evil.example" not in refused.get_data(as_text=True)
    assert "请求有误" in refused.get_data(as_text=True)
    assert client.get("/login/", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    # The way back after sign-in: only to a configured host.
    response = client.post("/login/?next=http://evil.example/x",
                           data={"username": "staff", "password": PASSWORD})
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]
    page = client.get("/disputemodelview/list/")
    assert page.status_code == 200
