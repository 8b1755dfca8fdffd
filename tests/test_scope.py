"""The region tree keeps its shape, and scope comes from a node's stored path, never from
"no parent"."""

import pytest
from sqlalchemy import select, update

from app import models, scope
from app.extensions import db


def _region(code):
    """A region by code."""
    return db.session.scalar(select(models.Region).filter_by(code=code))


def test_a_region_with_counties_cannot_be_deleted(world, login_as):
    """Deleting the Bortala prefecture is refused with a message; its counties keep it."""
    client = login_as("admin")
    prefecture = _region("652700")
    response = client.post(f"/regionmodelview/delete/{prefecture.id}", follow_redirects=True)
    assert "下级区划或综治中心" in response.get_data(as_text=True)
    db.session.expire_all()
    assert _region("652701").parent_id == prefecture.id


def test_a_county_cannot_lose_its_parent(world, login_as):
    """Clearing a county's parent in the edit form is refused on the form."""
    client = login_as("admin")
    county = _region("652701")
    response = client.post(f"/regionmodelview/edit/{county.id}", data={
        "code": county.code, "name": county.name, "level": "county", "parent": ""})
    assert response.status_code == 200
    assert "只有全区" in response.get_data(as_text=True)
    db.session.expire_all()
    assert _region("652701").parent_id is not None


def test_moving_a_division_moves_its_subtree(world):
    """A county moved to another prefecture takes the townships below it along."""
    county, other = _region("652701"), _region("652300")
    township = models.Region(code="652701100", name="测试镇", level="township", parent=county)
    db.session.add(township)
    db.session.commit()
    county.parent = other
    db.session.commit()
    db.session.expire_all()
    assert _region("652701").path == "650000/652300/652701/"
    assert _region("652701100").path == "650000/652300/652701/652701100/"


def test_a_detached_county_sees_only_itself(world, app):
    """Even a county whose parent was cleared behind the app's back scopes to its own path."""
    sm = app.appbuilder.sm
    user = sm.add_user("qitai", "qitai", "test", "qitai@example.org", sm.find_role("staff"),
                       password="Qitai#Test2025")
    county = _region("652325")
    db.session.add(models.UserScope(user_id=user.id, region_id=county.id))
    db.session.commit()
    db.session.execute(update(models.Region.__table__).where(models.Region.id == county.id)
                       .values(parent_id=None))
    db.session.commit()
    found = scope.scope_of(user)
    assert found.path == county.path and found.path != ""
    assert scope.condition(models.Dispute, found) is not None


@pytest.mark.parametrize("code", ["650000"])
def test_the_root_still_sees_everything(world, app, code):
    """The whole region's scope needs no filter."""
    sm = app.appbuilder.sm
    user = sm.add_user("root", "root", "test", "root@example.org", sm.find_role("leader"),
                       password="Root#Test2025x")
    db.session.add(models.UserScope(user_id=user.id, region_id=_region(code).id))
    db.session.commit()
    assert scope.scope_of(user).path == ""
