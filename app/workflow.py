"""The closed loop of a case: the only module that changes a dispute's status, recording each step."""

from sqlalchemy import func, select

from app import models


def next_case_no(session, centre, year):
    """The next readable case number for a centre and year: <county code>-<year>-<sequence>."""
    prefix = f"{centre.region.code}-{year}-"
    last = session.scalar(
        select(func.max(models.Dispute.case_no)).where(models.Dispute.case_no.like(prefix + "%"))
    )
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:05d}"


def register(session, dispute, actor=None, at=None):
    """Register a new dispute: number it, set it to registered and record the step."""
    dispute.registered_at = at or dispute.registered_at or models.now()
    dispute.status = "registered"
    if dispute.case_no is None:
        centre = dispute.centre or session.get(models.Centre, dispute.centre_id)
        dispute.case_no = next_case_no(session, centre, dispute.registered_at.year)
    actor_id = getattr(actor, "id", None)
    if actor_id is not None and dispute.registered_by_id is None:
        dispute.registered_by_id = actor_id
    dispute.events.append(
        models.CaseEvent(at=dispute.registered_at, actor_id=actor_id, action="register",
                         from_status=None, to_status="registered")
    )
    return dispute
