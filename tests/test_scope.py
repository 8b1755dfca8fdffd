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
    # The statistics' area and the drill-down's area filter ask the same rule (scope.of_region).
    from app import filters, stats

    db.session.expire_all()
    assert stats.area_by_code(db.session, "652325").scope == found
    for area in stats.areas_within(db.session, found):
        assert area.scope.path.startswith(county.path)

    class _Datamodel:
        obj = models.Dispute

    query = filters.FilterInArea("centre", _Datamodel()).apply(
        select(models.Dispute.id), str(county.id))
    assert "region" in str(query).lower() or "centre_id" in str(query).lower()
    assert query.whereclause is not None


@pytest.mark.parametrize("code", ["650000"])
def test_the_root_still_sees_everything(world, app, code):
    """The whole region's scope needs no filter."""
    sm = app.appbuilder.sm
    user = sm.add_user("root", "root", "test", "root@example.org", sm.find_role("leader"),
                       password="Root#Test2025x")
    db.session.add(models.UserScope(user_id=user.id, region_id=_region(code).id))
    db.session.commit()
    assert scope.scope_of(user).path == ""


def _login(client, app, name, role, county):
    """A login with a county scope, signed in."""
    from seeds import demo

    sm = app.appbuilder.sm
    user = sm.add_user(name, name, "test", f"{name}@example.org", sm.find_role(role),
                       password="Scope#Test2025")
    demo.set_scope(db.session, user, county, None)
    db.session.commit()
    client.post("/login/", data={"username": name, "password": "Scope#Test2025"})
    return user


def _id_number(serial):
    """A valid resident ID number (GB 11643) born 1980-01-01."""
    from app import personal

    body = f"65270119800101{serial:03d}"
    return body + personal.id_check_digit(body)


def _open_case(code, title):
    """An accepted case at a county's centre."""
    from app import workflow

    centre = db.session.scalar(select(models.Centre).join(models.Region)
                               .where(models.Region.code == code))
    case = models.Dispute(centre=centre, category=db.session.scalar(select(models.Category)),
                          title=title, description="d", source="window", level="county",
                          risk="low", status="accepted")
    db.session.add(case)
    workflow.register(db.session, case, None)
    case.status = "accepted"
    db.session.commit()
    return case


def test_repeat_checks_look_only_inside_the_scope(app, client, world):
    """A Bole clerk adding a party known from a Korla case is not told about the Korla case."""
    korla_case = _open_case("652801", "库尔勒的案件")
    number = _id_number(11)
    db.session.add(models.Party(dispute=korla_case, role="applicant", name="甲", id_number=number))
    db.session.commit()
    bole_case = _open_case("652701", "博乐的案件")
    _login(client, app, "bole_clerk", "staff", "652701")
    response = client.post("/partymodelview/add", data={
        "dispute": bole_case.id, "role": "applicant", "name": "甲", "id_number": number},
        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert korla_case.case_no not in page
    db.session.expire_all()
    assert db.session.get(models.Dispute, bole_case.id).repeat_of_id is None


def test_a_centre_admin_cannot_move_its_centre_out_from_under_it(app, client, world):
    """Moving the Bole centre to the prefecture is refused; the centre stays."""
    bole = db.session.scalar(select(models.Centre).join(models.Region)
                             .where(models.Region.code == "652701"))
    _login(client, app, "bole_admin", "centre_admin", "652701")
    prefecture = _region("652700")
    response = client.post(f"/centremodelview/edit/{bole.id}", data={
        "name": bole.name, "short_name": bole.short_name, "region": prefecture.id,
        "standard_status": bole.standard_status or "standardised"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(models.Centre, bole.id).region_id == _region("652701").id


def test_staff_cannot_book_an_expert_outside_their_scope(app, client, world):
    """Booking a Korla expert from a Bole case is refused and nothing is booked."""
    korla_expert = db.session.scalar(select(models.Expert).join(models.Centre).join(
        models.Region).where(models.Region.code == "652801"))
    assert korla_expert is not None
    case = _open_case("652701", "预约专家")
    _login(client, app, "bole_clerk2", "staff", "652701")
    response = client.post(f"/disputemodelview/step/{case.id}/book", data={
        "version": case.version, "scheduled_at": "2026-12-10T10:00", "mode": "in_person",
        "place": "调解室", "expert": korla_expert.id, "duration_minutes": 60},
        follow_redirects=True)
    assert "管辖范围" in response.get_data(as_text=True)
    assert db.session.scalar(select(models.MediationSession)) is None


def test_a_liaison_sees_only_their_units_deadlines_on_the_case_page(app, client, world):
    """A case referred to two units: the court's liaison reads the court's deadline, not the
    other unit's."""
    from seeds import demo

    case = _open_case("652701", "两个单位")
    units = db.session.scalars(select(models.StationedUnit).join(models.Department)
                               .where(models.StationedUnit.centre_id == case.centre_id,
                                      models.Department.code.in_(("court", "justice")))).all()
    at = models.now()
    for unit in units:
        case.referrals.append(models.Referral(unit=unit, sent_at=at, respond_due=at,
                                              answer_due=at))
    case.status = "referred"
    db.session.commit()
    court = next(u for u in units if u.department.code == "court")
    other = next(u for u in units if u is not court)
    sm = app.appbuilder.sm
    user = sm.add_user("court_liaison", "c", "l", "cl@example.org", sm.find_role("unit_liaison"),
                       password="Scope#Test2025")
    demo.set_scope(db.session, user, "652701", "court")
    db.session.commit()
    client.post("/login/", data={"username": "court_liaison", "password": "Scope#Test2025"})
    page = client.get(f"/disputemodelview/show/{case.id}").get_data(as_text=True)
    assert f"{court.department.name}：报到期限" in page
    assert f"{other.department.name}：报到期限" not in page
