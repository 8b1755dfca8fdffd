"""Work lists for each role's home page: what is waiting for this person, inside their scope."""

import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import models, scope, stats, workflow

LIMIT = 10


def _inside(model, user_scope):
    """The scope's condition as a list (empty for the whole region, which needs none)."""
    where = scope.condition(model, user_scope)
    return [] if where is None else [where]


def _cases(session, where, user_scope, order=models.Dispute.registered_at.desc()):
    """Cases matching a condition inside the scope, newest first."""
    base = select(models.Dispute).where(*_inside(models.Dispute, user_scope), *where)
    rows = session.scalars(base.options(joinedload(models.Dispute.centre),
                                        joinedload(models.Dispute.category))
                           .order_by(order).limit(LIMIT)).all()
    return rows


def _referrals(session, where, user_scope):
    """Referrals matching a condition inside the scope."""
    base = select(models.Referral).where(*_inside(models.Referral, user_scope), *where)
    return session.scalars(base.options(joinedload(models.Referral.dispute),
                                        joinedload(models.Referral.unit))
                           .order_by(models.Referral.respond_due).limit(LIMIT)).all()


def for_user(session, user, now=None):
    """[(title, kind, rows)] for the user's roles: the boxes on their home page."""
    now = now or models.now()
    today = now.date()
    user_scope = scope.scope_of(user)
    roles = {role.name for role in user.roles}
    boxes = []
    open_case = models.Dispute.status.in_(workflow.IN_HAND)
    # "Overdue" is the statistics' rule, so the inbox and the dashboard count the same rows.
    overdue_referral = stats.overdue_referral(now)
    overdue_case = stats.overdue_case(now)
    if roles & {"staff", "admin"}:
        staff = session.scalar(select(models.Staff).filter_by(user_id=user.id))
        boxes.append((_l("To accept"), "case", _cases(
            session, [models.Dispute.status == "registered"], user_scope,
            models.Dispute.registered_at)))
        if staff is not None:
            boxes.append((_l("Mine in progress"), "case", _cases(
                session, [open_case, models.Dispute.handler_id == staff.id], user_scope)))
        boxes.append((_l("Overdue"), "case", _cases(session, [overdue_case], user_scope)))
        boxes.append((_l("Awaiting feedback"), "case", _cases(
            session, [models.Dispute.status == "concluded"], user_scope)))
        follow_ups = session.scalars(
            select(models.MediationSession)
            .join(models.Dispute)
            .where(*_inside(models.Dispute, user_scope),
                   models.MediationSession.follow_up_on <= today,
                   models.MediationSession.followed_up_at.is_(None))
            .options(joinedload(models.MediationSession.dispute))
            .order_by(models.MediationSession.follow_up_on).limit(LIMIT)).all()
        boxes.append((_l("Follow-ups due"), "session", follow_ups))
    if "unit_liaison" in roles:
        boxes.append((_l("Referrals to report in"), "referral", _referrals(
            session, [models.Referral.status == "sent"], user_scope)))
        boxes.append((_l("Referrals to answer"), "referral", _referrals(
            session, [models.Referral.status == "reported"], user_scope)))
        boxes.append((_l("Overdue referrals"), "referral", _referrals(
            session, [overdue_referral], user_scope)))
    if "centre_admin" in roles:
        rates = stats.referral_timeliness(session, user_scope)
        units = {u.id: u for u in session.scalars(
            select(models.StationedUnit).where(models.StationedUnit.id.in_(list(rates)))
            .options(joinedload(models.StationedUnit.department)))}
        boxes.append((_l("Referral timeliness by unit"), "rate", sorted(
            ((units[k].department.name, v) for k, v in rates.items() if k in units),
            key=lambda pair: (pair[1]["answer_rate"] is None, pair[1]["answer_rate"] or 0))))
        boxes.append((_l("Overdue in the centre"), "case", _cases(session, [overdue_case],
                                                                   user_scope)))
        boxes.append((_l("Overdue referrals"), "referral", _referrals(
            session, [overdue_referral], user_scope)))
    return boxes


def time_left(due, now=None):
    """(days, overdue?) between now and a deadline, for '剩余3天' / '已超期2天'."""
    if due is None:
        return None
    now = now or models.now()
    delta = due - now
    days = abs(delta).days + (1 if abs(delta).seconds else 0)
    return days, delta < datetime.timedelta(0)
