"""Home inboxes for every kind of scope (region, prefecture, county, unit) hold what plain SQL
over the same rows finds, and agree with the dashboard's overdue counts."""

import datetime

import pytest
from sqlalchemy import select, text

from app import inbox, models, stats
from app.extensions import db
from seeds import demo

NOW = models.now()


@pytest.fixture
def demo_world(app):
    """The demo world with its generated cases, and one login per kind of scope."""
    demo.load(db.session, app.appbuilder.sm, cases=200)
    sm = app.appbuilder.sm
    made = {}
    for name, role, county, department in (("region", "admin", None, None),
                                           ("prefecture", "staff", "652700", None),
                                           ("county", "staff", "652701", None),
                                           ("unit", "unit_liaison", "652701", "court")):
        user = sm.add_user(f"in_{name}", name, "test", f"in_{name}@example.org",
                           sm.find_role(role), password="Inbox#Test2025")
        demo.set_scope(db.session, user, county, department)
        made[name] = user
    db.session.commit()
    return made


def _plain(kind, sql, path):
    """Ids found by plain SQL: cases (or referrals) of the centres under a region path."""
    table = "dispute d" if kind == "case" else "referral r JOIN dispute d ON r.dispute_id = d.id"
    key = "d.id" if kind == "case" else "r.id"
    query = (f"SELECT {key} FROM {table} JOIN centre c ON d.centre_id = c.id "
             f"JOIN region g ON c.region_id = g.id WHERE g.path LIKE :path AND ({sql})")
    return set(db.session.execute(text(query), {"path": path + "%", "now": NOW}).scalars())


def _same(boxed, found):
    """A box holds the first rows of what plain SQL finds: all of them, or LIMIT of them."""
    ids = {row.id for row in boxed}
    assert ids <= found
    assert len(ids) == min(len(found), inbox.LIMIT)


OVERDUE_CASE = ("(d.status = 'registered' AND d.accept_due < :now) OR "
                "(d.status IN ('accepted', 'referred') AND d.handle_due < :now)")


@pytest.mark.parametrize("who", ["region", "prefecture", "county"])
def test_case_inboxes_hold_what_plain_sql_finds(demo_world, who):
    """To accept and overdue, for the whole region, a prefecture and a county."""
    user = demo_world[who]
    path = ""
    if who != "region":
        code = "652700" if who == "prefecture" else "652701"
        path = db.session.scalar(select(models.Region.path).filter_by(code=code))
    boxes = {str(title): rows for title, _kind, rows in inbox.for_user(db.session, user, NOW)}
    to_accept = _plain("case", "d.status = 'registered'", path)
    assert to_accept
    _same(boxes["待受理"], to_accept)
    overdue = _plain("case", OVERDUE_CASE, path)
    _same(boxes["已超期"], overdue)
    code = {"region": "650000", "prefecture": "652700", "county": "652701"}[who]
    area = stats.area_by_code(db.session, code)
    assert stats.overdue(db.session, area, NOW)["cases"] == len(overdue)


def test_a_units_inbox_holds_its_referrals(demo_world):
    """The liaison's referral boxes: the unit's referrals only, overdue by the dashboard's rule."""
    user = demo_world["unit"]
    unit_id = db.session.get(models.UserScope, user.id).unit_id
    boxes = {str(title): rows for title, _kind, rows in inbox.for_user(db.session, user, NOW)}
    found = set(db.session.execute(text(
        "SELECT id FROM referral WHERE unit_id = :unit AND ((status = 'sent' AND "
        "respond_due < :now) OR (status IN ('sent', 'reported') AND answer_due < :now))"),
        {"unit": unit_id, "now": NOW}).scalars())
    _same(boxes["超期转办"], found)
    assert all(r.unit_id == unit_id for rows in boxes.values() for r in rows)


OVERDUE_REFERRAL = ("(r.status = 'sent' AND r.respond_due < :now) OR "
                    "(r.status IN ('sent', 'reported') AND r.answer_due < :now)")


@pytest.mark.parametrize("who", ["region", "prefecture", "county", "centre_admin", "unit"])
def test_the_inbox_and_the_dashboard_agree_on_every_overdue_referral(demo_world, app, who):
    """For each kind of login, the overdue referrals the inbox lists are those plain SQL finds
    in its scope, and their number is the dashboard's for that area (or that unit)."""
    if who == "centre_admin":
        sm = app.appbuilder.sm
        user = sm.add_user("in_centre_admin", "centre", "admin", "in_ca@example.org",
                           sm.find_role("centre_admin"), password="Inbox#Test2025")
        demo.set_scope(db.session, user, "652701", None)
        db.session.commit()
    else:
        user = demo_world[who]
    # One referral of a Bole case to the liaison's unit, a day past its report-in deadline.
    unit_id = db.session.get(models.UserScope, demo_world["unit"].id).unit_id
    bole_case = db.session.scalar(select(models.Dispute).join(models.Centre).join(
        models.Region, models.Centre.region_id == models.Region.id).where(
        models.Region.code == "652701", models.Dispute.status.in_(("accepted", "referred"))))
    late = NOW - datetime.timedelta(days=1)
    db.session.add(models.Referral(dispute=bole_case, unit_id=unit_id, status="sent",
                                   position=99, sent_at=late - datetime.timedelta(days=1),
                                   respond_due=late, answer_due=NOW + datetime.timedelta(days=5)))
    db.session.commit()
    code = {"region": "650000", "prefecture": "652700"}.get(who, "652701")
    path = "" if who == "region" else db.session.scalar(
        select(models.Region.path).filter_by(code=code))
    found = _plain("referral", OVERDUE_REFERRAL, path)
    figures = stats.overdue(db.session, stats.area_by_code(db.session, code), NOW)
    boxes = {str(title): rows for title, _kind, rows in inbox.for_user(db.session, user, NOW)}
    if who == "unit":
        found = {i for i in found if db.session.get(models.Referral, i).unit_id == unit_id}
        assert sum(u["value"] for u in figures["by_unit"] if u["code"] == unit_id) == len(found)
    else:
        assert figures["referrals"] == len(found)
    assert found or who == "prefecture", "the demo world has overdue referrals to compare"
    if "超期转办" in boxes:
        _same(boxes["超期转办"], found)
    else:  # staff and the administrator see overdue cases; referrals are the units' and admins'
        assert who in ("region", "prefecture", "county")
