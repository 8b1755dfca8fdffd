"""Every figure the platform shows is computed here, in SQL, for a scope and a period."""

from sqlalchemy import case, func, select

from app import models, scope


def referral_timeliness(session, user_scope, start=None, end=None):
    """Per stationed unit: referrals, reported in on time, answered on time (counts and rates).

    On time means reported in by respond_due and answered by answer_due; referrals still open
    and already past a deadline count as late; those open and within it are not yet counted.
    """
    referral = models.Referral
    now = models.now()
    reported_late = case((referral.reported_at > referral.respond_due, 1),
                         (referral.reported_at.is_(None) & (referral.respond_due < now), 1),
                         else_=0)
    reported_due = case((referral.reported_at.isnot(None) | (referral.respond_due < now), 1),
                        else_=0)
    answered_late = case((referral.answered_at > referral.answer_due, 1),
                         (referral.answered_at.is_(None) & referral.status.in_(("sent", "reported"))
                          & (referral.answer_due < now), 1), else_=0)
    answered_due = case((referral.answered_at.isnot(None), 1),
                        (referral.status.in_(("sent", "reported")) & (referral.answer_due < now), 1),
                        else_=0)
    query = (select(referral.unit_id, func.count(), func.sum(reported_due), func.sum(reported_late),
                    func.sum(answered_due), func.sum(answered_late))
             .where(referral.status != "queued", referral.status != "cancelled")
             .group_by(referral.unit_id))
    where = scope.condition(models.Referral, user_scope)
    if where is not None:
        query = query.where(where)
    if start is not None:
        query = query.where(referral.sent_at >= start)
    if end is not None:
        query = query.where(referral.sent_at < end)
    result = {}
    for unit_id, total, r_due, r_late, a_due, a_late in session.execute(query):
        r_due, r_late, a_due, a_late = (int(v or 0) for v in (r_due, r_late, a_due, a_late))
        result[unit_id] = {
            "referrals": total,
            "report_in_due": r_due, "report_in_on_time": r_due - r_late,
            "report_in_rate": (r_due - r_late) / r_due if r_due else None,
            "answer_due": a_due, "answer_on_time": a_due - a_late,
            "answer_rate": (a_due - a_late) / a_due if a_due else None,
        }
    return result
