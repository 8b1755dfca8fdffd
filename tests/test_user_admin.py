"""Logins managed where the people work: a centre administrator creates and edits the logins of
their centre's staff and liaisons, never anyone else's, and never beyond their own scope."""

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import models
from app.extensions import db
from seeds import demo


@pytest.fixture
def bole(app, client):
    """The demo world and logins; the client signed in as Bole's centre administrator."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    assert client.post("/login/", data={"username": "centre_admin",
                                        "password": demo.DEMO_PASSWORD}).status_code == 302
    return client


def region(code):
    """A region node by its code."""
    return db.session.scalar(select(models.Region).filter_by(code=code))


def role_id(app, name):
    """A role's key."""
    return str(app.appbuilder.sm.find_role(name).id)


def new_login(app, client, username, role, scope_value):
    """Post the user form as the signed-in user."""
    return client.post("/users/add", data={
        "first_name": "新", "last_name": "职员", "username": username, "active": "y",
        "email": f"{username}@example.org", "roles": [role_id(app, role)], "scope": scope_value,
        "password": "Bole#Window2025", "conf_password": "Bole#Window2025"})


def login_named(username):
    """The login with this name, read afresh."""
    db.session.rollback()
    return db.session.scalar(select(User).filter_by(username=username))


def test_the_centre_admin_creates_a_clerk_who_then_sees_their_centre(app, bole):
    """A new staff login with Bole's county as its scope is written with that scope."""
    response = new_login(app, bole, "clerk2", "staff", f"r:{region('652701').id}")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    user = login_named("clerk2")
    assert [r.name for r in user.roles] == ["staff"]
    assert db.session.get(models.UserScope, user.id).region_id == region("652701").id
    listed = bole.get("/users/list/").get_data(as_text=True)
    assert "clerk2" in listed and "董秀君" in listed


def test_the_centre_admin_sees_only_their_peoples_logins(app, bole):
    """Admin, leader, auditor and the centre admin's own login are not on their list, and
    their pages, edits and password resets answer 404."""
    listed = bole.get("/users/list/").get_data(as_text=True)
    for name in ("系统管理员", "自治区领导", "安全审计员"):
        assert name not in listed
    admin = login_named("admin")
    assert bole.get(f"/users/show/{admin.id}").status_code == 404
    assert bole.get(f"/users/edit/{admin.id}").status_code == 404
    assert bole.get(f"/resetpassword/form?pk={admin.id}").status_code == 404
    before = admin.password
    bole.post(f"/resetpassword/form?pk={admin.id}",
              data={"password": "Evil#Password99", "conf_password": "Evil#Password99"})
    assert login_named("admin").password == before
    # One's own account stays open.
    assert bole.get("/users/userinfo/").status_code == 200


@pytest.mark.parametrize("role,place,words", [
    # Roles the picker does not offer are no choice at all.
    ("admin", "652701", "请至少选择一个角色"),
    ("leader", "652701", "请至少选择一个角色"),
    ("staff", "652801", "不是有效的选择"),  # a place outside is not offered
    ("staff", "", "请在您本人的管辖范围内选择"),
])
def test_the_centre_admin_cannot_give_other_roles_or_places(app, bole, role, place, words):
    """Another role or a place outside Bole is refused, the form kept and the reason said."""
    value = f"r:{region(place).id}" if place else ""
    response = new_login(app, bole, "intruder", role, value)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and words in page
    assert 'value="intruder"' in page  # what was typed is still there
    assert login_named("intruder") is None


def test_the_staff_form_links_only_logins_the_writer_manages(app, bole):
    """The login picker of the staff form offers the centre's logins, not the admin's."""
    found = bole.get("/lookup/user?q=").get_json()["results"]
    names = {row["text"] for row in found}
    assert any("董秀君" in n for n in names)
    assert not any("系统管理员" in n or "自治区领导" in n for n in names)
    staff = db.session.scalar(select(models.Staff).filter_by(name="董秀君"))
    admin = login_named("admin")
    bole.post(f"/staffmodelview/edit/{staff.id}", data={
        "name": staff.name, "user": str(admin.id), "centre": str(staff.centre_id),
        "phone": staff.phone or "", "active": "y"})
    db.session.rollback()
    assert db.session.get(models.Staff, staff.id).user_id != admin.id
