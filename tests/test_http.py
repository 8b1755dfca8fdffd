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
