"""The message centre: who is told what, and when.

Warnings come before a deadline (the lead times in NOTICE_LEAD_HOURS, e.g. 24 h and 2 h) and
when it is reached: a referral's report-in and answer deadlines (to the unit's liaisons), a
case's acceptance deadline (to the centre's administrators and whoever registered it) and its
handling deadline (to the handler and the centre's administrators). A returned referral and a
"dissatisfied" rating are told at once, in the step's own transaction, to the centre's
administrators, the handler and whoever sent the referral.

Every message is in the person's message centre; a copy goes by text message or e-mail when
their preferences ask for it, outside their quiet hours (app/gateways.py sends it). A message's
`key` names its subject (the deadline and its lead, or the event), and a person holds one
message per key: nobody is told twice, however often the scan runs.
"""

import datetime
import logging

from flask import current_app
from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role
from flask_babel import force_locale, gettext
from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import IntegrityError

from app import gateways, models, workflow

log = logging.getLogger(__name__)

# A return or a rating recorded for longer ago than this is history (an import), not news.
EVENT_MAX_AGE = datetime.timedelta(days=3)
SEND_ATTEMPTS = 3
BATCH = 200


# Deadlines: (kind, model, its deadline column, which rows still owe it).
def _deadlines():
    referral, dispute = models.Referral, models.Dispute
    return (
        ("report_in_due", referral, referral.respond_due, referral.status == "sent"),
        ("answer_due", referral, referral.answer_due, referral.status.in_(("sent", "reported"))),
        ("accept_due", dispute, dispute.accept_due, dispute.status == "registered"),
        ("handle_due", dispute, dispute.handle_due, dispute.status.in_(workflow.IN_HAND)),
    )


def windows(now, lead_hours, grace_hours):
    """[(lead in minutes, start, end)]: a deadline in (start, end] is warned with that lead;
    each lead covers up to the next shorter one, and lead 0 is a deadline just reached."""
    leads = sorted({round(h * 60) for h in lead_hours if h > 0}, reverse=True)
    found = []
    for i, lead in enumerate(leads):
        nearer = leads[i + 1] if i + 1 < len(leads) else 0
        found.append((lead, now + datetime.timedelta(minutes=nearer),
                      now + datetime.timedelta(minutes=lead)))
    found.append((0, now - datetime.timedelta(hours=grace_hours), now))
    return found


def _key(kind, subject_id, due, lead):
    return f"{kind}:{subject_id}:{due:%Y%m%d%H%M}:{lead}"


def centre_admins(session, centre_ids):
    """{centre id: {user id}}: the active centre administrators whose scope is the centre."""
    if not centre_ids:
        return {}
    rows = session.execute(
        select(models.Centre.id, models.UserScope.user_id)
        .join(models.UserScope, models.UserScope.region_id == models.Centre.region_id)
        .join(User, User.id == models.UserScope.user_id)
        .join(assoc_user_role, assoc_user_role.c.user_id == User.id)
        .join(Role, Role.id == assoc_user_role.c.role_id)
        .where(models.Centre.id.in_(centre_ids), Role.name == "centre_admin",
               User.active.is_(True), models.UserScope.unit_id.is_(None)))
    found = {}
    for centre_id, user_id in rows:
        found.setdefault(centre_id, set()).add(user_id)
    return found


def unit_liaisons(session, unit_ids):
    """{unit id: {user id}}: the active logins whose scope is the stationed unit."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(models.UserScope.unit_id, models.UserScope.user_id)
        .join(User, User.id == models.UserScope.user_id)
        .where(models.UserScope.unit_id.in_(unit_ids), User.active.is_(True)))
    found = {}
    for unit_id, user_id in rows:
        found.setdefault(unit_id, set()).add(user_id)
    return found


def handler_users(session, staff_ids):
    """{staff id: user id} for handlers with an active login."""
    staff_ids = {s for s in staff_ids if s is not None}
    if not staff_ids:
        return {}
    return dict(session.execute(
        select(models.Staff.id, models.Staff.user_id)
        .join(User, User.id == models.Staff.user_id)
        .where(models.Staff.id.in_(staff_ids), User.active.is_(True))).all())


def _quiet_until(preference, now):
    """When the person's quiet hours end, if they are in them now; else None."""
    start, end = preference.quiet_from, preference.quiet_to
    if start is None or end is None or start == end:
        return None
    moment = now.time()
    inside = start <= moment < end if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    until = datetime.datetime.combine(now.date(), end)
    return until if until > now else until + datetime.timedelta(days=1)


def _deliveries(preference, user_email, now):
    """The copies a person's preferences ask for: [NoticeDelivery] (not yet added)."""
    if preference is None:
        return []
    send_after = _quiet_until(preference, now) or now
    found = []
    if preference.by_sms and preference.phone:
        found.append(models.NoticeDelivery(channel="sms", address=preference.phone,
                                           send_after=send_after))
    email = preference.email or user_email
    if preference.by_email and email:
        found.append(models.NoticeDelivery(channel="email", address=email,
                                           send_after=send_after))
    return found


def _add(session, planned, now):
    """Add the planned messages [(user id, fields)] with the copies their people asked for."""
    user_ids = {user_id for user_id, _fields in planned}
    if not user_ids:
        return 0
    active = set(session.scalars(select(User.id).where(User.id.in_(user_ids),
                                                       User.active.is_(True))))
    planned = [(u, f) for u, f in planned if u in active]  # no message to a closed login
    user_ids &= active
    preferences = {p.user_id: p for p in session.scalars(
        select(models.NoticePreference).where(models.NoticePreference.user_id.in_(user_ids)))}
    by_email = [u for u, p in preferences.items() if p.by_email]
    emails = dict(session.execute(select(User.id, User.email).where(
        User.id.in_(by_email))).all()) if by_email else {}
    for user_id, fields in planned:
        notice = models.Notice(user_id=user_id, created_at=now, **fields)
        session.add(notice)
        for delivery in _deliveries(preferences.get(user_id), emails.get(user_id), now):
            delivery.notice = notice
            session.add(delivery)
    return len(planned)


def _candidates(session, now, config):
    """[(kind, row, due, lead)]: deadlines that fall in a warning window now."""
    found = []
    spans = windows(now, config["NOTICE_LEAD_HOURS"], config["NOTICE_REACHED_GRACE_HOURS"])
    for kind, model, column, owing in _deadlines():
        for lead, start, end in spans:
            rows = session.execute(select(model, column).where(
                owing, column > start, column <= end)).all()
            found.extend((kind, row, due, lead) for row, due in rows)
    return found


def scan(session, now=None, config=None):
    """Write the deadline warnings due now that nobody has had yet; the number written. Each
    window is a range of an indexed deadline column, so a million cases cost what the cases
    near a deadline do."""
    now = now or models.now()
    config = config or current_app.config
    found = _candidates(session, now, config)
    if not found:
        return 0
    referrals = [row for kind, row, _d, _l in found if isinstance(row, models.Referral)]
    cases = {row.id: row for kind, row, _d, _l in found if isinstance(row, models.Dispute)}
    # The cases of the referrals, for their centre and number (one query).
    missing = {r.dispute_id for r in referrals} - set(cases)
    if missing:
        cases.update({d.id: d for d in session.scalars(
            select(models.Dispute).where(models.Dispute.id.in_(missing)))})
    liaisons = unit_liaisons(session, {r.unit_id for r in referrals})
    admins = centre_admins(session, {d.centre_id for d in cases.values()})
    handlers = handler_users(session, {d.handler_id for d in cases.values()})
    units = dict(session.execute(
        select(models.StationedUnit.id, models.Department.name).join(models.Department)
        .where(models.StationedUnit.id.in_({r.unit_id for r in referrals}))).all()) \
        if referrals else {}
    planned = []
    for kind, row, due, lead in found:
        if isinstance(row, models.Referral):
            case, people = cases[row.dispute_id], liaisons.get(row.unit_id, set())
            fields = {"referral_id": row.id, "detail": units.get(row.unit_id)}
        else:
            case, fields = row, {"referral_id": None, "detail": None}
            people = set(admins.get(case.centre_id, set()))
            if kind == "accept_due" and case.registered_by_id is not None:
                people.add(case.registered_by_id)
            if kind == "handle_due" and case.handler_id in handlers:
                people.add(handlers[case.handler_id])
        key = _key(kind, row.id, due, lead)
        for user_id in people:
            planned.append((user_id, dict(kind=kind, key=key, dispute_id=case.id, due=due,
                                          lead_minutes=lead, **fields)))
    if not planned:
        return 0
    had = set()
    keys = sorted({fields["key"] for _u, fields in planned})
    users = sorted({user_id for user_id, _f in planned})
    for i in range(0, len(keys), 500):  # read through the unique (user, key) index
        had.update(session.execute(select(models.Notice.user_id, models.Notice.key).where(
            models.Notice.user_id.in_(users), models.Notice.key.in_(keys[i:i + 500]))).all())
    planned = [(u, f) for u, f in planned if (u, f["key"]) not in had]
    written = _add(session, planned, now)
    try:
        session.commit()
    except IntegrityError:
        # Another scan wrote some of them first: its messages stand, the next scan adds the rest.
        session.rollback()
        return 0
    return written


def _case_people(session, case):
    """Who answers for a case: its centre's administrators and its handler."""
    people = set(centre_admins(session, {case.centre_id}).get(case.centre_id, set()))
    people.update(handler_users(session, {case.handler_id}).values())
    return people


def _event_notices(session, now):
    """The messages a flush's returned referrals and poor ratings call for (planned)."""
    planned = []
    for obj in list(session.dirty) + list(session.new):
        if isinstance(obj, models.Referral):
            history = _history(obj, "status")
            if "returned" not in history or obj.returned_at is None or \
                    now - obj.returned_at > EVENT_MAX_AGE or obj.dispute is None:
                continue
            case = obj.dispute
            people = _case_people(session, case)
            if obj.sent_by_id is not None:
                people.add(obj.sent_by_id)
            fields = dict(kind="returned", key=f"returned:{obj.id}:{obj.returned_at:%Y%m%d%H%M%S}",
                          dispute_id=case.id, referral_id=obj.id,
                          detail=(obj.return_reason or "")[:200])
            planned.extend((user_id, fields) for user_id in people)
        elif isinstance(obj, models.Feedback) and obj in session.new:
            case = obj.dispute
            if obj.satisfaction != 1 or case is None or case.id is None or \
                    obj.collected_at is None or now - obj.collected_at > EVENT_MAX_AGE:
                continue
            people = _case_people(session, case)
            fields = dict(kind="poor_rating",
                          key=f"poor_rating:{case.id}:{obj.collected_at:%Y%m%d%H%M%S}",
                          dispute_id=case.id, detail=(obj.note or "")[:200])
            planned.extend((user_id, fields) for user_id in people)
    return planned


def _history(obj, attribute):
    """The values an attribute took in this flush (empty when it did not change)."""
    state = inspect(obj)
    if state.pending:
        return [getattr(obj, attribute)]
    return list(state.attrs[attribute].history.added or ())


def _before_flush(session, flush_context, instances):
    """Tell the right people about a returned referral or a poor rating, in the step's own
    transaction (so a step that fails tells nobody)."""
    if not any(isinstance(o, (models.Referral, models.Feedback))
               for o in (*session.new, *session.dirty)):
        return
    with session.no_autoflush:
        planned = _event_notices(session, models.now())
        if planned:
            _add(session, planned, models.now())


def unread(session, user_id):
    """How many messages the person has not opened."""
    return session.scalar(select(func.count()).select_from(models.Notice).where(
        models.Notice.user_id == user_id, models.Notice.read_at.is_(None)))


UNREAD_SHOWN = 99


def unread_up_to(session, user_id):
    """The unread count for the menu bar, read no further than UNREAD_SHOWN + 1 rows."""
    return len(session.scalars(select(models.Notice.id).where(
        models.Notice.user_id == user_id, models.Notice.read_at.is_(None))
        .limit(UNREAD_SHOWN + 1)).all())


def text(notice):
    """The message in words, in the current language."""
    if notice.kind == "export_ready":
        return gettext("Your export is ready: %(what)s. Open this message to download it.",
                       what=notice.detail or "")
    if notice.kind == "export_failed":
        return gettext("Your export of %(what)s failed; nothing was changed. Try again, or "
                       "narrow the list.", what=notice.detail or "")
    case = notice.dispute.case_no if notice.dispute is not None else ""
    due = f"{notice.due:%Y-%m-%d %H:%M}" if notice.due is not None else ""
    unit = notice.detail or ""
    lead = notice.lead_minutes or 0
    # The time left when the message was written (a scan finds a deadline anywhere in its lead).
    minutes = max(0, round((notice.due - notice.created_at).total_seconds() / 60)) \
        if notice.due is not None and notice.created_at is not None else lead
    left = gettext("%(hours)s h", hours=round(minutes / 60)) if minutes >= 60 else \
        gettext("%(minutes)s min", minutes=minutes)
    if notice.kind == "report_in_due":
        return gettext("Case %(case)s: %(unit)s must report in by %(due)s (%(left)s left).",
                       case=case, unit=unit, due=due, left=left) if lead else \
            gettext("Case %(case)s: the report-in deadline of %(unit)s (%(due)s) is reached.",
                    case=case, unit=unit, due=due)
    if notice.kind == "answer_due":
        return gettext("Case %(case)s: %(unit)s must answer by %(due)s (%(left)s left).",
                       case=case, unit=unit, due=due, left=left) if lead else \
            gettext("Case %(case)s: the answer deadline of %(unit)s (%(due)s) is reached.",
                    case=case, unit=unit, due=due)
    if notice.kind == "accept_due":
        return gettext("Case %(case)s must be accepted or declined by %(due)s (%(left)s left).",
                       case=case, due=due, left=left) if lead else \
            gettext("Case %(case)s: the acceptance deadline (%(due)s) is reached.",
                    case=case, due=due)
    if notice.kind == "handle_due":
        return gettext("Case %(case)s must be concluded by %(due)s (%(left)s left).",
                       case=case, due=due, left=left) if lead else \
            gettext("Case %(case)s: the handling deadline (%(due)s) is reached.",
                    case=case, due=due)
    if notice.kind == "returned":
        return gettext("Case %(case)s: the unit returned the referral: %(reason)s",
                       case=case, reason=notice.detail or "")
    return gettext("Case %(case)s: the party is dissatisfied. %(note)s", case=case,
                   note=notice.detail or "")


def _claim(session, delivery_id):
    """Take a waiting copy for sending (one sender wins); True when this one did."""
    taken = session.execute(
        update(models.NoticeDelivery)
        .where(models.NoticeDelivery.id == delivery_id, models.NoticeDelivery.status == "pending")
        .values(status="sending", attempts=models.NoticeDelivery.attempts + 1))
    session.commit()
    return taken.rowcount == 1


def deliver_due(session, now=None, config=None, chosen=None):
    """Send the text messages and e-mails whose time has come; the number sent. A copy is
    claimed before it is sent and never sent again once sent (a sender that dies mid-send
    leaves it "sending", not sent twice); a gateway failure is retried a few times."""
    now = now or models.now()
    config = config or current_app.config
    chosen = chosen or {}
    due = session.scalars(
        select(models.NoticeDelivery)
        .where(models.NoticeDelivery.status == "pending", models.NoticeDelivery.send_after <= now)
        .order_by(models.NoticeDelivery.send_after).limit(BATCH)).all()
    sent = 0
    for delivery in due:
        notice = delivery.notice
        preference = session.get(models.NoticePreference, notice.user_id)
        quiet = _quiet_until(preference, now) if preference is not None else None
        if quiet is not None:
            delivery.send_after = quiet
            session.commit()
            continue
        if not _claim(session, delivery.id):
            continue
        session.refresh(delivery)
        with force_locale(config.get("BABEL_DEFAULT_LOCALE", "zh")):
            subject, words = gettext("Comprehensive governance centre"), text(notice)
        try:
            gateway = chosen.get(delivery.channel) or \
                gateways.for_channel(config, delivery.channel)
            gateway.send(delivery.address, subject, words)
        except Exception as problem:  # noqa: BLE001 — any failure: tried again, or failed
            log.warning("%s copy %s not sent", delivery.channel, delivery.id, exc_info=True)
            delivery.error = (str(problem) if isinstance(problem, gateways.GatewayError)
                              else type(problem).__name__)[:300]
            if delivery.attempts >= SEND_ATTEMPTS:
                delivery.status = "failed"
            else:
                delivery.status = "pending"
                delivery.send_after = now + datetime.timedelta(minutes=2 ** delivery.attempts)
        else:
            delivery.status, delivery.sent_at, delivery.error = "sent", now, None
            sent += 1
        session.commit()
    return sent
