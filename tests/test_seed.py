"""The demo seed: the article's world, safe to run twice."""

import datetime
from decimal import Decimal

from sqlalchemy import func, select

from app import models
from app.extensions import db
from seeds import demo, world


def counts():
    """Rows per table, for every table the seed writes."""
    from flask_appbuilder import Model

    return {table.name: db.session.execute(select(func.count()).select_from(table)).scalar()
            for table in Model.metadata.sorted_tables}


def units(county, mode):
    """How many units of a mode are stationed at a county's centre."""
    return db.session.scalar(
        select(func.count(models.StationedUnit.id)).join(models.Centre).join(models.Region)
        .where(models.Region.code == county, models.StationedUnit.mode == mode))


def test_seed_twice_gives_the_same_rows(app):
    """A second run adds nothing and changes no count."""
    demo.load(db.session, app.appbuilder.sm, cases=60)
    first = counts()
    demo.load(db.session, app.appbuilder.sm, cases=60)
    assert counts() == first
    from app import rollup

    assert rollup.check(db.session) == []  # the steps kept the rollups exact
    assert first["dispute"] == 64  # 60 generated, the Bole case and 3 cases of work in hand
    from flask_appbuilder.security.sqla.models import User

    actors = db.session.scalar(select(func.count()).select_from(User).where(
        User.username.like("clerk-%") | User.username.like("liaison-%")))
    assert actors and first["ab_user"] == len(demo.DEMO_USERS) + actors


def test_the_article_world(app):
    """Counties, centres and stationed units match the report's figures."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    assert db.session.scalar(select(func.count(models.Centre.id))) == len(world.COUNTIES) == 11
    assert (units("652325", "resident"), units("652325", "rotating")) == (8, 5)
    assert (units("653222", "resident"), units("653222", "rotating")) == (16, 6)
    assert units("653222", "on_call") > 0
    assert (units("652801", "resident"), units("652801", "rotating")) == (10, 10)
    qitai_staff = db.session.scalar(
        select(func.sum(models.StationedUnit.staff_count)).join(models.Centre).join(models.Region)
        .where(models.Region.code == "652325"))
    assert qitai_staff > 70
    korla = db.session.scalar(select(func.count(models.Expert.id)).join(models.Centre)
                              .join(models.Region).where(models.Region.code == "652801"))
    assert korla >= 40
    shawan = db.session.scalar(select(models.Centre).join(models.Region)
                               .where(models.Region.code == "654203"))
    assert shawan.opened_on == datetime.date(2025, 1, 26)
    services = dict(db.session.execute(
        select(models.ServiceRecord.kind, func.sum(models.ServiceRecord.count))
        .where(models.ServiceRecord.centre_id == shawan.id,
               models.ServiceRecord.kind != "petition")
        .group_by(models.ServiceRecord.kind)).all())
    # Kept per month: the totals since opening are spread over the months they cover.
    assert all(r.period_problem() is None for r in db.session.scalars(
        select(models.ServiceRecord)))
    assert services == {"visitor": 158, "notarisation": 230, "legal_aid": 18, "legal_help": 37,
                        "judicial_appraisal": 62, "dispute_resolved": 131}
    rotating = db.session.scalars(select(models.StationedUnit).where(
        models.StationedUnit.mode == "rotating")).all()
    assert rotating and all(unit.rota for unit in rotating)


def test_the_bole_case(app):
    """Liu's 78,000-yuan loan: intake 7 March, online mediation, agreement on 10 March."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    case = db.session.scalar(select(models.Dispute).filter_by(case_no="652701-2025-00001"))
    assert case.amount == Decimal("78000.00")
    assert case.registered_at.date() == datetime.date(2025, 3, 7)
    assert case.concluded_at.date() == datetime.date(2025, 3, 10)
    assert (case.concluded_at.date() - case.registered_at.date()).days + 1 == 4
    assert case.sessions[0].mode == "online_court"
    assert case.outcome == "resolved" and case.status == "closed"
    assert [e.action for e in case.events][0] == "register"
    assert case.feedback[0].satisfaction == 3


def test_demo_cases_vary(app):
    """Generated cases spread over statuses, sources, levels, categories and months."""
    demo.load(db.session, app.appbuilder.sm, cases=300)
    for column in (models.Dispute.status, models.Dispute.source, models.Dispute.level,
                   models.Dispute.category_id, models.Dispute.centre_id):
        assert db.session.scalar(select(func.count(func.distinct(column)))) >= 3
    months = {d.strftime("%Y-%m") for d in db.session.scalars(select(models.Dispute.registered_at))}
    assert len(months) >= 12


def test_every_demo_login_works(app, client):
    """Each role's demo account signs in with the documented password."""
    demo.load(db.session, app.appbuilder.sm, cases=0)
    for username, *_ in demo.DEMO_USERS:
        client.post("/logout/")
        response = client.post("/login/", data={"username": username, "password": demo.DEMO_PASSWORD})
        assert response.status_code == 302 and "/login" not in response.headers["Location"], username


def test_each_role_finds_work_in_the_demo(app):
    """The court's liaison has a referral to report in and one to answer, Bole has experts to
    book, and the cases' events name who took each step."""
    from app import inbox

    demo.load(db.session, app.appbuilder.sm, cases=20)
    db.session.commit()
    liaison = app.appbuilder.sm.find_user(username="liaison")
    boxes = {str(t): rows for t, _kind, rows in inbox.for_user(db.session, liaison)}
    assert boxes["待报到的转办"] and boxes["待反馈的转办"]
    assert db.session.scalar(select(func.count(models.Expert.id)).join(models.Centre).join(
        models.Region).where(models.Region.code == "652701")) >= 4
    steps = db.session.scalars(select(models.CaseEvent).join(models.Dispute).where(
        models.Dispute.title.like("%" + demo.WORK_IN_HAND))).all()
    assert steps and all(event.actor_id is not None for event in steps)
    # Every event of every case names its actor, by the role that takes such a step: window
    # clerks the centre's steps, the unit's liaison the unit's; never the centre's administrator.
    from flask_appbuilder.security.sqla.models import User

    events = db.session.execute(select(models.CaseEvent.action, User.username)
                                .outerjoin(User, User.id == models.CaseEvent.actor_id)).all()
    assert events and all(name is not None for _action, name in events)
    for action, name in events:
        user = app.appbuilder.sm.find_user(username=name)
        roles = {role.name for role in user.roles}
        expected = "unit_liaison" if action in ("report_in", "answer", "return") else "staff"
        assert expected in roles, (action, name)
