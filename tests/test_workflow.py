"""The closed loop: legal steps only, one event per step, deadlines, dispatch, bookings, conflicts."""

import datetime
import re

import pytest
from freezegun import freeze_time as _freeze_utc
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from app import dispatch, inbox, models, stats, workflow
from app.extensions import db
from seeds import demo
from tests.conftest import PASSWORD

T0 = datetime.datetime(2025, 3, 7, 10, 0)


def freeze_time(moment):
    """Freeze the clock at a business (China) wall-clock time: freezegun's naive times are UTC."""
    from app import clock

    return _freeze_utc(moment.replace(tzinfo=clock.zone()))


def centre(code="652701"):
    """A county's centre."""
    return db.session.scalar(select(models.Centre).join(models.Region)
                             .where(models.Region.code == code))


def unit(department, code="652701"):
    """A stationed unit of a department at a county's centre."""
    return db.session.scalar(select(models.StationedUnit).join(models.Department).where(
        models.StationedUnit.centre_id == centre(code).id, models.Department.code == department))


def new_case(actor, code="652701", at=T0, category="private_lending", route="mediation"):
    """A registered case at a county's centre."""
    case = models.Dispute(
        centre=centre(code), title="刘某英诉张某民间借贷纠纷", description="借款未还",
        category=db.session.scalar(select(models.Category).filter_by(code=category)),
        route=db.session.scalar(select(models.LegalRoute).filter_by(code=route)),
        source="window", level="county", risk="low")
    db.session.add(case)
    workflow.register(db.session, case, actor, at=at)
    db.session.commit()
    return case


@pytest.fixture
def people(app, world):
    """Logins with scopes: Bole staff, Korla staff, the Bole court liaison, a leader."""
    sm = app.appbuilder.sm
    made = {}
    for name, role, county, department in (("bole", "staff", "652701", None),
                                           ("korla", "staff", "652801", None),
                                           ("court", "unit_liaison", "652701", "court"),
                                           ("leader", "leader", None, None)):
        user = sm.add_user(name, name, "test", f"{name}@example.org", sm.find_role(role),
                           password=PASSWORD)
        demo.set_scope(db.session, user, county, department)
        made[name] = user
    db.session.commit()
    return made


# The oracle: what each step does from each status, written independently of the workflow.
LEGAL = {
    ("registered", "accept"): "accepted", ("registered", "decline"): "declined",
    ("accepted", "refer"): "referred", ("referred", "refer"): "referred",
    ("accepted", "conclude"): "concluded", ("referred", "conclude"): "concluded",
    ("concluded", "feedback"): "closed",
    ("concluded", "reopen"): "accepted", ("closed", "reopen"): "accepted",
}
STEPS = ["accept", "decline", "refer", "conclude", "feedback", "reopen"]
FROZEN = ("title", "description", "amount", "category_id", "centre_id", "outcome", "resolved_level",
          "concluded_at", "closed_at")


class ClosedLoop(RuleBasedStateMachine):
    """Random steps by random people on one case: only legal steps by allowed people change it."""

    people = None

    @initialize()
    def start(self):
        """A fresh case registered by Bole's window staff."""
        self.clock = T0
        self.case = new_case(self.people["bole"], at=self.clock)
        self.status = "registered"

    def tick(self):
        """Each step happens a little later."""
        self.clock += datetime.timedelta(hours=1)
        return self.clock

    def attempt(self, step, actor):
        """Run a step through the one handler the pages and the API use; True when the
        workflow took it, which must be exactly when the step was offered to the actor."""
        court = unit("court")
        values = {
            "accept": {}, "decline": {"reason": "不属于受理范围"},
            "refer": {"units": [court.id], "instructions": "请办理"},
            "conclude": {"outcome": "withdrawn", "note": "撤回"},
            "feedback": {"satisfaction": "1", "channel": "phone"},
            "reopen": {"reason": "不满意"},
        }[step]
        offered = step in {o.step.name for o in workflow.steps_for(db.session, self.case, actor)}
        try:
            workflow.perform(db.session, self.case, actor, step, values, at=self.tick())
            db.session.commit()
            took = True
        except workflow.WorkflowError:
            db.session.rollback()
            took = False
        assert took == offered, (self.case.status, step, "offered" if offered else "not offered")
        return took

    @rule(step=st.sampled_from(STEPS), who=st.sampled_from(["bole", "korla", "court", "leader"]))
    def take(self, step, who):
        """A person tries a step; the oracle says whether it must succeed."""
        if step == "refer" and any(r.status in ("sent", "reported") for r in self.case.referrals):
            step = "conclude"  # a second referral to the same busy unit is refused for other reasons
        before_events = len(self.case.events)
        frozen = {f: getattr(self.case, f) for f in FROZEN}
        expected = LEGAL.get((self.status, step)) if who == "bole" else None
        took = self.attempt(step, self.people[who])
        db.session.expire_all()
        assert took == (expected is not None), (self.status, step, who)
        if took:
            assert self.case.status == expected
            assert len(self.case.events) == before_events + 1
            assert self.case.events[-1].action == step
            assert self.case.events[-1].from_status == self.status
            self.status = expected
        else:
            assert self.case.status == self.status and len(self.case.events) == before_events
            if self.status in ("concluded", "closed", "declined"):
                assert {f: getattr(self.case, f) for f in FROZEN} == frozen

    @invariant()
    def timeline_is_ordered(self):
        """Events follow one another in time and the last one names the current status."""
        if getattr(self, "case", None) is None:
            return
        times = [e.at for e in self.case.events]
        assert times == sorted(times)
        moves = [e for e in self.case.events if e.from_status != e.to_status]
        assert moves[-1].to_status == self.case.status


def test_the_closed_loop_state_machine(app, people):
    """Hypothesis drives random sequences of steps by random people."""
    ClosedLoop.people = people
    runner = ClosedLoop.TestCase
    runner.settings = settings(max_examples=25, stateful_step_count=12, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner().runTest()


def test_referral_deadlines_with_frozen_time(app, people):
    """A report-in past its window is flagged in the inbox, marked late, and counts as late."""
    staff, liaison = people["bole"], people["court"]
    with freeze_time(T0):
        case = new_case(staff, at=T0)
        workflow.accept(db.session, case, staff)
        workflow.refer(db.session, case, staff, [unit("court")], "请办理", respond_hours=24,
                       answer_days=10)
        db.session.commit()
        referral = case.referrals[0]
        assert referral.respond_due == T0 + datetime.timedelta(hours=24)
        titles = [str(t) for t, _kind, rows in inbox.for_user(db.session, liaison) if rows]
        assert "待报到的转办" in titles and "超期转办" not in titles
    with freeze_time(T0 + datetime.timedelta(hours=25)):
        boxes = {str(t): rows for t, _kind, rows in inbox.for_user(db.session, liaison)}
        assert referral in boxes["超期转办"]
        workflow.report_in(db.session, referral, liaison)
        db.session.commit()
        assert "超期" in case.events[-1].note
        rates = stats.referral_timeliness(db.session, workflow.scope.scope_of(staff))
        assert rates[referral.unit_id]["report_in_rate"] == 0
    with freeze_time(T0 + datetime.timedelta(days=2)):
        workflow.answer(db.session, referral, liaison, "已调解")
        db.session.commit()
        rates = stats.referral_timeliness(db.session, workflow.scope.scope_of(staff))
        assert rates[referral.unit_id]["answer_rate"] == 1


def test_a_referral_cancelled_after_its_deadline_stays_late(app, people):
    """Concluding a case cancels its open referrals: one whose report-in deadline had already
    passed counts as a late report-in; one cancelled within its deadlines leaves the rates;
    both are counted as cancelled."""
    staff = people["bole"]
    with freeze_time(T0):
        late, early = new_case(staff, at=T0), new_case(staff, at=T0)
        for case in (late, early):
            workflow.accept(db.session, case, staff)
            workflow.refer(db.session, case, staff, [unit("court")], "请办理", respond_hours=24,
                           answer_days=10)
        db.session.commit()
    with freeze_time(T0 + datetime.timedelta(hours=2)):  # within every deadline
        workflow.conclude(db.session, early, staff, "withdrawn")
        db.session.commit()
    with freeze_time(T0 + datetime.timedelta(hours=30)):  # past the report-in deadline
        workflow.conclude(db.session, late, staff, "withdrawn")
        db.session.commit()
        assert late.referrals[0].cancelled_at == T0 + datetime.timedelta(hours=30)
    with freeze_time(T0 + datetime.timedelta(days=30)):  # long after both
        rates = stats.referral_timeliness(db.session, workflow.scope.scope_of(staff))
        court = rates[unit("court").id]
        assert court["cancelled"] == 2 and court["referrals"] == 2
        assert (court["report_in_due"], court["report_in_on_time"]) == (1, 0)
        assert court["answer_due"] == 0  # neither was cancelled past its answer deadline


def test_referrals_in_turn(app, people):
    """Referred in turn, the second unit gets the case only when the first has answered."""
    staff, liaison = people["bole"], people["court"]
    case = new_case(staff)
    workflow.accept(db.session, case, staff, at=T0)
    workflow.refer(db.session, case, staff, [unit("court"), unit("justice")], "依次办理",
                   in_turn=True, at=T0)
    db.session.commit()
    first, second = sorted(case.referrals, key=lambda r: r.position)
    assert (first.status, second.status) == ("sent", "queued")
    workflow.report_in(db.session, first, liaison, at=T0 + datetime.timedelta(hours=1))
    workflow.answer(db.session, first, liaison, "法院已调解", at=T0 + datetime.timedelta(days=1))
    db.session.commit()
    assert second.status == "sent" and second.sent_at == T0 + datetime.timedelta(days=1)


def test_a_liaison_cannot_work_another_units_referral(app, people):
    """The court's liaison may not report in for the justice bureau."""
    staff = people["bole"]
    case = new_case(staff)
    workflow.accept(db.session, case, staff)
    workflow.refer(db.session, case, staff, [unit("justice")], "请办理")
    db.session.commit()
    with pytest.raises(workflow.WorkflowError):
        workflow.report_in(db.session, case.referrals[0], people["court"])


def test_dispatch_ranks_units_with_reasons(app, people):
    """The responsible, on-duty unit comes first; an off-duty rotating unit loses; weights are data."""
    qitai_staff = people["bole"]
    case = new_case(qitai_staff, code="652325", category="labour")
    monday = datetime.date(2025, 3, 10)
    ranked = dispatch.suggest_units(db.session, case, day=monday)
    assert ranked[0].item.department.code == "hrss"
    assert any("负责劳动争议" in reason for reason in ranked[0].reasons)
    rotating = [s for s in ranked if s.item.mode == "rotating"]
    off_duty = [s for s in rotating if not dispatch.on_duty(s.item, monday)]
    assert off_duty and all("今日不在岗" in " ".join(s.reasons) for s in off_duty)
    rule = db.session.scalar(select(models.DispatchRule).filter_by(code="unit_responsible"))
    rule.weight = 0
    db.session.commit()
    assert dispatch.suggest_units(db.session, case, day=monday)[0].score < ranked[0].score


def test_dispatch_ranks_experts_by_specialty_and_language(app, people):
    """An expert who knows the matter and speaks the party's language comes first."""
    case = new_case(people["bole"], code="652801", category="marriage_family")
    uyghur = db.session.scalar(select(models.Language).filter_by(code="ug"))
    case.language = uyghur
    db.session.commit()
    best = dispatch.suggest_experts(db.session, case)[0]
    assert "marriage_family" in {c.code for c in best.item.specialties}
    assert uyghur in best.item.languages
    assert any("维吾尔语" in r for r in best.reasons)


def test_an_expert_cannot_be_double_booked(app, people):
    """Two sessions of one expert may not overlap."""
    staff = people["korla"]
    case = new_case(staff, code="652801")
    workflow.accept(db.session, case, staff)
    expert = db.session.scalar(select(models.Expert).join(models.Centre).where(
        models.Centre.id == centre("652801").id))
    at = datetime.datetime(2025, 4, 1, 10, 0)
    workflow.book_session(db.session, case, staff, at, "video", expert=expert, link="远程平台")
    db.session.commit()
    with pytest.raises(workflow.WorkflowError, match="已有预约"):
        workflow.book_session(db.session, case, staff, at + datetime.timedelta(minutes=30),
                              "in_person", expert=expert, place="调解室")
    workflow.book_session(db.session, case, staff, at + datetime.timedelta(minutes=60),
                          "in_person", expert=expert, place="调解室")


def test_repeat_disputes_and_parallel_tracks(app, people):
    """A party of an open case makes a new case a repeat; another route flags two tracks."""
    staff = people["bole"]
    first = new_case(staff, route="litigation")
    first.parties.append(models.Party(role="applicant", name="刘某英", id_number="652701198506120020"))
    second = new_case(staff, route="petition")
    second.parties.append(models.Party(role="applicant", name="刘某英", id_number="652701198506120020"))
    db.session.commit()
    assert workflow.parties_changed(db.session, second) == first
    assert second.repeat_of == first
    assert workflow.parallel_tracks(db.session, second) == [first]


def test_concluding_needs_the_right_details(app, people):
    """Resolved needs the level; routed on needs the route, which the case then takes."""
    staff = people["bole"]
    case = new_case(staff)
    workflow.accept(db.session, case, staff)
    with pytest.raises(workflow.WorkflowError):
        workflow.conclude(db.session, case, staff, "resolved")
    litigation = db.session.scalar(select(models.LegalRoute).filter_by(code="litigation"))
    workflow.conclude(db.session, case, staff, "routed_on", route_on=litigation, note="导入诉讼")
    assert case.route == litigation and case.resolved_level is None


def test_a_reopened_case_keeps_its_first_conclusion_in_the_figures(app, people):
    """Concluded in February, reopened and concluded again in April: February keeps its
    conclusion and its 不满意 feedback (satisfaction 0 of 1, not a rating without a
    conclusion), April counts the second; the same for whole months (rollups) and days."""
    from app import rollup

    staff = people["bole"]
    case = new_case(staff, at=datetime.datetime(2025, 2, 3, 9))
    workflow.accept(db.session, case, staff, at=datetime.datetime(2025, 2, 3, 10))
    workflow.conclude(db.session, case, staff, "resolved", "village",
                      at=datetime.datetime(2025, 2, 20, 9))
    workflow.record_feedback(db.session, case, staff, 1, "phone",
                             at=datetime.datetime(2025, 2, 21, 9))
    db.session.commit()
    area = stats.area_by_code(db.session, "652701")
    february = [stats.Period.parse(p) for p in ("2025-02", "2025-02-01~2025-02-28")]
    before = [stats.summary(db.session, area, p) for p in february]
    workflow.reopen(db.session, case, staff, "当事人不满意", at=datetime.datetime(2025, 3, 2, 9))
    db.session.commit()
    workflow.conclude(db.session, case, staff, "routed_on", route_on=db.session.scalar(
        select(models.LegalRoute).filter_by(code="litigation")),
        at=datetime.datetime(2025, 4, 8, 9))
    db.session.commit()
    assert [c.outcome for c in case.conclusions] == ["resolved", "routed_on"]
    after = [stats.summary(db.session, area, p) for p in february]
    assert after == before
    assert [f["concluded"] for f in after] == [before[0]["concluded"]] * 2
    for text in ("2025-04", "2025-04-01~2025-04-30"):
        april = stats.summary(db.session, area, stats.Period.parse(text))
        found = stats.counts(db.session, area, stats.Period.parse(text))
        assert found["routed_on"] >= 1 and april["routed_on"] == found["routed_on"]
    # The second conclusion's days run from registration: 64 days.
    seconds = [c.conclude_seconds for c in case.conclusions]
    assert seconds == [17 * 86400, 64 * 86400]
    assert rollup.check(db.session) == []
    # The drill-down list of February's conclusions still holds the case.
    from app.filters import FilterConcludedIn

    query = FilterConcludedIn("concluded_at", _Datamodel()).apply(
        select(models.Dispute.id), "2025-02")
    assert case.id in db.session.scalars(query).all()


class _Datamodel:
    """Enough of a datamodel for a filter applied outside a view."""

    obj = models.Dispute


def test_two_people_editing_one_case(app, client, people):
    """The second save of a case opened at the same version is refused; nothing is overwritten."""
    case = new_case(people["bole"])
    form = {"category": case.category_id, "title": "第一位的修改", "description": "d",
            "source": "window", "level": "county", "risk": "low", "version": case.version}
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    first = dict(form)
    assert client.post(f"/disputemodelview/edit/{case.id}", data=first).status_code == 302
    second = dict(form, title="第二位的修改")
    response = client.post(f"/disputemodelview/edit/{case.id}", data=second, follow_redirects=True)
    assert "已被他人保存" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).title == "第一位的修改"
    stale = client.post(f"/disputemodelview/step/{case.id}/accept",
                        data={"version": case.version - 1}, follow_redirects=True)
    assert "已被他人修改" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).status == "registered"


def test_concluded_cases_are_read_only(app, client, people):
    """A concluded case cannot be edited, nor its parties changed, except by reopening."""
    staff = people["bole"]
    case = new_case(staff)
    workflow.accept(db.session, case, staff)
    workflow.conclude(db.session, case, staff, "withdrawn", note="撤回")
    db.session.commit()
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    response = client.post(f"/disputemodelview/edit/{case.id}", data={
        "category": case.category_id, "title": "改", "description": "d", "source": "window",
        "level": "county", "risk": "low", "version": case.version}, follow_redirects=True)
    assert "重新办理" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).title != "改"
    response = client.post("/partymodelview/add", data={"dispute": case.id, "role": "applicant",
                                                        "name": "新当事人"})
    assert db.session.scalar(select(models.Party).filter_by(name="新当事人")) is None


def test_bulk_accept_checks_each_case(app, client, people):
    """Accepting several cases accepts those that may be, and says why the others were not."""
    staff = people["bole"]
    waiting, done = new_case(staff), new_case(staff)
    workflow.accept(db.session, done, staff)
    db.session.commit()
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    response = client.post("/disputemodelview/action_post", data={
        "action": "accept_selected", "rowid": [waiting.id, done.id]}, follow_redirects=True)
    html = response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(models.Dispute, waiting.id).status == "accepted"
    assert "已受理1件" in html and re.search(r"不能.{0,4}受理", html)


def test_the_case_page_offers_only_valid_steps(app, client, people):
    """A registered case offers accept and decline to its staff, nothing to a leader."""
    case = new_case(people["bole"], at=models.now())
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    html = client.get(f"/disputemodelview/show/{case.id}").get_data(as_text=True)
    assert 'id="step-accept"' in html and 'id="step-decline"' in html
    assert 'id="step-conclude"' not in html and "剩余" in html
    client.post("/logout/")
    client.post("/login/", data={"username": "leader", "password": PASSWORD})
    html = client.get(f"/disputemodelview/show/{case.id}").get_data(as_text=True)
    assert 'id="step-' not in html
    assert client.post(f"/disputemodelview/step/{case.id}/accept").status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).status == "registered"


def test_the_case_api_answers_409_on_a_stale_version(app, client, people):
    """JSON steps carry the version: an out-of-date one gets 409 and changes nothing."""
    case = new_case(people["bole"], at=models.now())
    case.parties.append(models.Party(role="applicant", name="刘某英", id_number="652701198506120020",
                                     phone="13899751234"))
    db.session.commit()
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    seen = client.get(f"/api/v1/cases/{case.id}").get_json()
    assert seen["status"] == "registered" and seen["parties"][0]["id_number"] == "6527**********0020"
    accepted = client.post(f"/api/v1/cases/{case.id}/steps/accept",
                           json={"version": seen["version"]})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    stale = client.post(f"/api/v1/cases/{case.id}/steps/decline",
                        json={"version": seen["version"], "reason": "重复"})
    assert stale.status_code == 409
    illegal = client.post(f"/api/v1/cases/{case.id}/steps/feedback",
                          json={"version": accepted.get_json()["version"], "satisfaction": 3,
                                "channel": "phone"})
    assert illegal.status_code == 422
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).status == "accepted"


def test_the_case_api_keeps_to_scope_and_rights(app, client, people):
    """Another county's staff get 404; a leader may read but not step."""
    case = new_case(people["bole"], at=models.now())
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    assert client.get(f"/api/v1/cases/{case.id}").status_code == 404
    assert client.post(f"/api/v1/cases/{case.id}/steps/accept",
                       json={"version": case.version}).status_code == 404
    client.post("/logout/")
    client.post("/login/", data={"username": "leader", "password": PASSWORD})
    assert client.get(f"/api/v1/cases/{case.id}").status_code == 200
    assert client.post(f"/api/v1/cases/{case.id}/steps/accept",
                       json={"version": case.version}).status_code == 403
    db.session.expire_all()
    assert db.session.get(models.Dispute, case.id).status == "registered"


def test_the_api_offers_the_steps_the_page_renders(app, client, people):
    """GET …/steps lists exactly the step forms of the case page, with their fields; a liaison
    sees and takes the unit's steps on a referral through the referral API."""
    case = new_case(people["bole"], at=models.now())
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    listed = client.get(f"/api/v1/cases/{case.id}/steps").get_json()
    html = client.get(f"/disputemodelview/show/{case.id}").get_data(as_text=True)
    assert sorted(s["step"] for s in listed["steps"]) == sorted(
        set(re.findall(r'id="step-(\w+)"', html))) == ["accept", "decline"]
    decline = next(s for s in listed["steps"] if s["step"] == "decline")
    assert [(f["name"], f["kind"], f["required"]) for f in decline["fields"]] == [
        ("reason", "textarea", True)]
    client.post(f"/api/v1/cases/{case.id}/steps/accept", json={"version": listed["version"]})
    seen = client.get(f"/api/v1/cases/{case.id}/steps").get_json()
    refer = next(s for s in seen["steps"] if s["step"] == "refer")
    court = unit("court")
    assert court.id in [o["value"] for o in refer["fields"][0]["options"]]
    assert {s["step"] for s in seen["steps"]} == {"refer", "book", "extend", "conclude"}
    answer = client.post(f"/api/v1/cases/{case.id}/steps/refer",
                         json={"version": seen["version"], "units": [court.id],
                               "instructions": "请办理"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "referred"
    referral = db.session.scalar(select(models.Referral).filter_by(dispute_id=case.id))
    assert client.get(f"/api/v1/referrals/{referral.id}/steps").get_json()["steps"] == []
    client.post("/logout/")
    client.post("/login/", data={"username": "court", "password": PASSWORD})
    offered = client.get(f"/api/v1/referrals/{referral.id}/steps").get_json()["steps"]
    assert [s["step"] for s in offered] == ["report_in", "return"]
    assert client.post(f"/api/v1/referrals/{referral.id}/steps/answer",
                       json={"result": "已办"}).status_code == 422
    reported = client.post(f"/api/v1/referrals/{referral.id}/steps/report_in", json={})
    assert reported.status_code == 200 and reported.get_json()["status"] == "reported"
    assert client.post(f"/api/v1/referrals/{referral.id}/steps/fly", json={}).status_code == 404
    client.post("/logout/")
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    assert client.get(f"/api/v1/referrals/{referral.id}").status_code == 404


BOOKED = datetime.datetime(2026, 3, 2, 10, 0)
VALID = {
    "accept": {}, "decline": {"reason": "不属于受理范围"},
    "refer": {"instructions": "请办理"}, "extend": {"days": "5", "approved_by": "主任"},
    "book": {"scheduled_at": "2026-03-02T10:00", "mode": "in_person", "place": "调解室"},
    "result": {"result": "agreed", "agreement_text": "双方达成协议",
               "follow_up_on": "2026-04-01"},
    "follow_up": {"note": "已履行"},
    "conclude": {"outcome": "withdrawn", "note": "撤回"},
    "feedback": {"satisfaction": "3", "channel": "phone"}, "reopen": {"reason": "不满意"},
}


def test_every_step_is_taken_exactly_when_it_is_offered(app, people):
    """Walking a case through every state, each of the case's steps, sent valid values, is
    taken if and only if the workflow offers it (bookings and follow-ups included)."""
    clerk, court = people["bole"], unit("court")
    case = new_case(clerk, at=T0)
    path = ["accept", "book", "result", "refer", "extend", "conclude", "follow_up",
            "feedback", "reopen", "conclude"]
    checked = set()
    for when, chosen in enumerate(path):
        offered = {(o.step.name, o.target.id) for o in workflow.steps_for(db.session, case,
                                                                             clerk)}
        targets = [(name, None) for name in workflow.CASE_STEPS if name not in
                   ("result", "follow_up")] + [(name, b.id) for name in ("result", "follow_up")
                                               for b in case.sessions]
        for name, booking in targets:
            values = dict(VALID[name], **({"session": str(booking)} if booking else {}),
                          **({"units": [free_unit(case).id]} if name == "refer" else {}))
            key = (name, booking if booking else case.id)
            try:
                with db.session.begin_nested():
                    workflow.perform(db.session, case, clerk, name, values,
                                     at=T0 + datetime.timedelta(hours=when + 1))
                    raise _Undo()
            except _Undo:
                took = True
            except workflow.WorkflowError:
                took = False
            db.session.expire_all()
            assert took == (key in offered), (case.status, name, booking)
            checked.add((name, took))
        values = dict(VALID[chosen], **({"units": [court.id]} if chosen == "refer" else {}))
        if chosen in ("result", "follow_up"):
            values["session"] = str(case.sessions[0].id)
        if chosen == "conclude" and case.referrals and case.referrals[0].status == "sent":
            workflow.perform(db.session, case.referrals[0], people["court"], "report_in", {},
                             at=T0 + datetime.timedelta(hours=when, minutes=30))
        workflow.perform(db.session, case, clerk, chosen, values,
                         at=T0 + datetime.timedelta(hours=when + 1))
        db.session.commit()
    assert {name for name, took in checked if took} == set(workflow.CASE_STEPS)
    assert {name for name, took in checked if not took} == set(workflow.CASE_STEPS)


def free_unit(case):
    """A unit of the case's centre that does not hold the case now."""
    busy = {r.unit_id for r in case.referrals if r.status in ("queued", "sent", "reported")}
    return next(u for u in db.session.scalars(select(models.StationedUnit).filter_by(
        centre_id=case.centre_id).order_by(models.StationedUnit.id)) if u.id not in busy)


class _Undo(Exception):
    """Rolls a trial step's savepoint back."""
