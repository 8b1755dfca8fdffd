"""Deadline warnings and the message centre: a warning before each deadline and when it is
reached, to the right people, never twice; a returned referral and a poor rating told at once;
the menu bar's unread count; text messages and e-mails by preference, outside quiet hours,
through a gateway that fails and recovers."""

import datetime
import http.server
import json
import threading

import pytest
from sqlalchemy import func, select

from app import gateways, models, notices, workflow
from app.extensions import db
from seeds import demo
from tests.conftest import PASSWORD
from tests.test_workflow import freeze_time, new_case, people, unit  # noqa: F401

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def team(app, people):
    """Bole's centre administrator and a handler with a staff record, beside `people`."""
    sm = app.appbuilder.sm
    boss = sm.add_user("boss", "boss", "test", "boss@example.org", sm.find_role("centre_admin"),
                       password=PASSWORD)
    demo.set_scope(db.session, boss, "652701", None)
    bole = people["bole"]
    db.session.add(models.Staff(name="窗口人员", user_id=bole.id, centre=unit("court").centre,
                                phone="13900000001"))
    db.session.commit()
    return dict(people, boss=boss)


def _mine(user):
    """(kind, lead) of a user's messages, oldest first."""
    return db.session.execute(select(models.Notice.kind, models.Notice.lead_minutes).where(
        models.Notice.user_id == user.id).order_by(models.Notice.id)).all()


def _referred(team, at):
    """A Bole case accepted and referred to the court at `at` (report in 24 h, answer 10 d)."""
    case = new_case(team["bole"], at=at)
    workflow.accept(db.session, case, team["bole"], at=at)
    workflow.refer(db.session, case, team["bole"], [unit("court")], at=at)
    db.session.commit()
    return case


def test_a_referral_is_warned_before_and_at_each_deadline_once(team):
    """The liaison is told 24 h and 2 h before the report-in deadline and when it is reached,
    then before the answer deadline; scanning again tells nobody twice; other people are not
    told about the unit's deadlines."""
    start = datetime.datetime(2026, 12, 1, 9, 0)
    case = _referred(team, start)
    court = team["court"]
    with freeze_time(start):
        assert notices.scan(db.session) == 1
        assert notices.scan(db.session) == 0
    assert _mine(court) == [("report_in_due", 1440)]
    with freeze_time(start + 22.5 * HOUR):
        assert notices.scan(db.session) == 1
        assert notices.scan(db.session) == 0
    with freeze_time(start + 24 * HOUR + datetime.timedelta(minutes=1)):
        assert notices.scan(db.session) == 1
    assert _mine(court) == [("report_in_due", 1440), ("report_in_due", 120),
                            ("report_in_due", 0)]
    referral = case.referrals[0]
    workflow.report_in(db.session, referral, court, at=start + 25 * HOUR)
    db.session.commit()
    with freeze_time(start + 9 * 24 * HOUR + HOUR):
        notices.scan(db.session)
        notices.scan(db.session)
    assert _mine(court)[-1] == ("answer_due", 1440)
    assert _mine(team["bole"]) == [] and _mine(team["korla"]) == []
    keys = db.session.scalars(select(models.Notice.key)).all()
    assert len(keys) == len(set(keys)) == 4


def test_acceptance_and_handling_deadlines_reach_the_centre(team):
    """A case not accepted in time warns the centre administrator and its registrar; one in
    hand near its handling deadline warns its handler and the administrator; not Korla."""
    start = datetime.datetime(2026, 12, 1, 9, 0)
    waiting = new_case(team["bole"], at=start)
    waiting.accept_due = start + 10 * HOUR
    in_hand = new_case(team["bole"], at=start)
    workflow.accept(db.session, in_hand, team["bole"], at=start)
    in_hand.handle_due = start + 20 * HOUR
    db.session.commit()
    assert in_hand.handler is not None
    with freeze_time(start):
        assert notices.scan(db.session) == 4
    assert sorted(_mine(team["boss"])) == [("accept_due", 1440), ("handle_due", 1440)]
    assert sorted(_mine(team["bole"])) == [("accept_due", 1440), ("handle_due", 1440)]
    assert _mine(team["korla"]) == [] and _mine(team["court"]) == []
    # Once accepted, the acceptance deadline is no one's concern: the 2-hour warning never comes.
    workflow.accept(db.session, waiting, team["bole"], at=start + HOUR)
    db.session.commit()
    with freeze_time(start + 9 * HOUR):
        notices.scan(db.session)
    assert ("accept_due", 120) not in _mine(team["boss"])


def test_a_returned_referral_and_a_poor_rating_are_told_at_once(team):
    """In the step's own transaction: the administrator, the handler and the sender hear of a
    return; a "dissatisfied" rating tells the administrator and the handler; a satisfied one,
    and a step that fails, tell nobody."""
    now = models.now()
    case = _referred(team, now)
    workflow.return_referral(db.session, case.referrals[0], team["court"], "不属于本单位职责",
                             at=now)
    db.session.commit()
    for who in ("boss", "bole"):
        assert _mine(team[who]) == [("returned", None)]
    notice = db.session.scalar(select(models.Notice).where(
        models.Notice.user_id == team["boss"].id))
    with app_text(team):
        assert "不属于本单位职责" in notices.text(notice) and case.case_no in notices.text(notice)
    workflow.conclude(db.session, case, team["bole"], "resolved", resolved_level="county", at=now)
    db.session.commit()
    with pytest.raises(workflow.WorkflowError):
        workflow.record_feedback(db.session, case, team["bole"], 9, "phone", at=now)
    db.session.rollback()
    workflow.record_feedback(db.session, case, team["bole"], 1, "phone", note="调解不公",
                             at=now)
    db.session.commit()
    assert _mine(team["boss"])[-1] == ("poor_rating", None)
    assert _mine(team["bole"])[-1] == ("poor_rating", None)
    assert db.session.scalar(select(func.count()).select_from(models.Notice)) == 4
    other = _referred(team, now)
    workflow.conclude(db.session, other, team["bole"], "withdrawn", at=now)
    workflow.record_feedback(db.session, other, team["bole"], 3, "phone", at=now)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(models.Notice)) == 4


def app_text(team):
    """The Chinese catalogue, outside a request."""
    from flask_babel import force_locale

    return force_locale("zh")


def test_the_message_centre_counts_opens_and_marks_read(team, client):
    """The menu bar counts unread messages; the list says each in Chinese; opening one marks
    it read and goes to its referral; another person's message is not found; all can be
    marked read at once."""
    start = models.now() - HOUR
    case = _referred(team, start)
    notices.scan(db.session)
    client.post("/login/", data={"username": "court", "password": PASSWORD})
    page = client.get("/messages/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "消息中心" in html
    assert 'zz-unread-count">1<' in html
    assert f"案件{case.case_no}" in html and "报到" in html
    notice = db.session.scalar(select(models.Notice))
    opened = client.get(f"/messages/open/{notice.id}")
    assert opened.status_code == 302 and \
        opened.headers["Location"].endswith(f"/show/{case.referrals[0].id}")
    assert "zz-unread-count" not in client.get("/messages/").get_data(as_text=True)
    client.post("/logout/")
    client.post("/login/", data={"username": "korla", "password": PASSWORD})
    assert client.get(f"/messages/open/{notice.id}").status_code == 404
    client.post("/logout/")
    workflow.return_referral(db.session, case.referrals[0], team["court"], "职责外",
                             at=models.now())
    db.session.commit()
    client.post("/login/", data={"username": "boss", "password": PASSWORD})
    home = client.get("/messages/").get_data(as_text=True)
    assert 'zz-unread-count">1<' in home and "退回" in home
    client.post("/messages/read-all")
    assert db.session.scalar(select(func.count()).select_from(models.Notice).where(
        models.Notice.user_id == team["boss"].id, models.Notice.read_at.is_(None))) == 0


def test_settings_keep_what_was_typed_and_say_why(team, client):
    """A refused form keeps every value and names the problem; a good one is saved."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    form = client.get("/messages/settings").get_data(as_text=True)
    assert "13900000001" in form  # the phone of the staff record, offered
    refused = client.post("/messages/settings", data={
        "by_sms": "y", "phone": "12345", "quiet_from": "22:00", "quiet_to": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "11位手机号码" in html and "免打扰时段" in html
    assert 'value="12345"' in html and 'value="22:00"' in html
    assert db.session.get(models.NoticePreference, team["bole"].id) is None
    saved = client.post("/messages/settings", data={
        "by_sms": "y", "phone": "13900000001", "quiet_from": "22:00", "quiet_to": "07:00"})
    assert saved.status_code == 302
    preference = db.session.get(models.NoticePreference, team["bole"].id)
    assert preference.by_sms and preference.quiet_to == datetime.time(7, 0)


class SmsProvider(http.server.BaseHTTPRequestHandler):
    """An SMS provider: fails while `down`, records what it is asked to send."""

    down = False
    got = []

    def do_POST(self):  # noqa: N802
        """Take one text message (or fail)."""
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if SmsProvider.down:
            self.send_response(503)
        else:
            SmsProvider.got.append((self.headers.get("Authorization"), body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        """Quiet."""


def test_text_messages_wait_out_quiet_hours_and_a_failing_gateway(app, team):
    """A copy by text message goes through the HTTP gateway in Chinese, not in quiet hours,
    retried while the provider fails, and never twice; e-mail goes to the account's address
    through the logging gateway."""
    server = http.server.HTTPServer(("127.0.0.1", 0), SmsProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SmsProvider.got, SmsProvider.down = [], True
    config = dict(app.config, SMS_GATEWAY="http", SMS_GATEWAY_TOKEN="t0ken",
                  SMS_GATEWAY_URL=f"http://127.0.0.1:{server.server_port}/sms")
    db.session.add(models.NoticePreference(user_id=team["court"].id, by_sms=True,
                                           phone="13900000002", by_email=True,
                                           quiet_from=datetime.time(22), quiet_to=datetime.time(7)))
    db.session.commit()
    night = datetime.datetime(2026, 12, 1, 23, 0)
    _referred(team, night - 20 * HOUR)
    logged = []
    mail = gateways.LogGateway("email")
    mail.send = lambda address, subject, words: logged.append((address, words))
    try:
        with freeze_time(night):
            assert notices.scan(db.session) == 1
            assert notices.deliver_due(db.session, config=config, chosen={"email": mail}) == 0
        delivery = db.session.scalars(select(models.NoticeDelivery)).all()
        assert {d.send_after for d in delivery} == {datetime.datetime(2026, 12, 2, 7, 0)}
        morning = datetime.datetime(2026, 12, 2, 7, 1)
        with freeze_time(morning):
            assert notices.deliver_due(db.session, config=config, chosen={"email": mail}) == 1
        sms = db.session.scalar(select(models.NoticeDelivery).filter_by(channel="sms"))
        assert sms.status == "pending" and sms.attempts == 1 and sms.error == "HTTP 503"
        SmsProvider.down = False
        with freeze_time(sms.send_after):
            assert notices.deliver_due(db.session, config=config) == 1
            assert notices.deliver_due(db.session, config=config) == 0
    finally:
        server.shutdown()
    assert len(SmsProvider.got) == 1
    token, body = SmsProvider.got[0]
    assert token == "Bearer t0ken" and body["phone"] == "13900000002" and "报到" in body["text"]
    assert logged == [("court@example.org", logged[0][1])] and "报到" in logged[0][1]
    assert {d.status for d in db.session.scalars(select(models.NoticeDelivery))} == {"sent"}


def test_the_windows_cover_every_moment_once():
    """The lead windows meet without a gap or an overlap, from the grace period to the
    longest lead."""
    now = datetime.datetime(2026, 12, 1, 12, 0)
    spans = sorted(notices.windows(now, [24, 2], 24), key=lambda span: span[1])
    assert [lead for lead, *_ in spans] == [0, 120, 1440]
    for (_a, _s, end), (_b, start, _e) in zip(spans, spans[1:]):
        assert end == start
    assert spans[0][1] == now - 24 * HOUR and spans[-1][2] == now + 24 * HOUR


def test_a_persons_phone_and_address_stay_out_of_the_audit_trail(team, client):
    """The message settings are personal data: audited, but never in clear."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    assert client.post("/messages/settings", data={
        "by_sms": "y", "phone": "13900000009", "email": "bole-private@example.org"}
    ).status_code == 302
    trail = " ".join(str(r.detail) for r in db.session.scalars(select(models.AuditLog)))
    assert "notice_preference" in " ".join(
        str(r.object_type) for r in db.session.scalars(select(models.AuditLog)))
    assert "13900000009" not in trail and "bole-private" not in trail
