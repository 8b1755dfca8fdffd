"""The monthly rollups (stat_month, stat_month_part) the statistics read for whole months,
quarters and years.

It is never adjusted by hand: after every flush the rows of each (centre, month) that the
flush touched, through any timestamp of a case or a feedback record, old value or new, are
recomputed from the case rows with the statistics' own counting (stats.counts), in the same
transaction. Bulk loads that bypass the session call rebuild().
"""

import datetime

from sqlalchemy import delete, event, func, insert, inspect, select
from sqlalchemy.orm import Session

from app import models, stats

CASE_DATES = ("registered_at", "accepted_at", "declined_at", "concluded_at")


def _first(day):
    """The first day of the month of a date or timestamp."""
    if isinstance(day, datetime.datetime):
        day = day.date()
    return day.replace(day=1)


def _case_pairs(connection, dispute_ids):
    """(centre, month) pairs of every timestamp these cases have in the database now."""
    dispute = models.Dispute
    pairs = set()
    if not dispute_ids:
        return pairs
    columns = [getattr(dispute, name) for name in CASE_DATES]
    for centre_id, *moments in connection.execute(
            select(dispute.centre_id, *columns).where(dispute.id.in_(dispute_ids))):
        pairs.update((centre_id, _first(stats._as_datetime(m))) for m in moments if m)
    # A case's feedback counts at the case's centre: moving the case moves those counts too.
    return pairs | _feedback_pairs(connection, models.Feedback.dispute_id.in_(dispute_ids))


def _feedback_pairs(connection, where):
    """(centre, month) pairs of the feedback records matching a condition, in the database now."""
    feedback = models.Feedback
    return {(centre_id, _first(stats._as_datetime(collected))) for centre_id, collected in
            connection.execute(select(models.Dispute.centre_id, feedback.collected_at)
                               .join(models.Dispute, feedback.dispute_id == models.Dispute.id)
                               .where(where))}


# The columns the rollups count by: an edit that changes none of them changes no count.
COUNTED = {models.Dispute: ("centre_id", *CASE_DATES, "outcome", "resolved_level",
                            "conclude_seconds", "status", "referred_at", "category_id", "source",
                            "level"),
           models.Feedback: ("dispute_id", "collected_at", "satisfaction")}


def _counted_change(item):
    """True when a dirty row changes a column the rollup counts by."""
    state = inspect(item)
    return any(state.attrs[name].history.has_changes() for name in COUNTED[type(item)])


def _before_flush(session, flush_context, instances):
    """Note the (centre, month) pairs the rows about to change count in now, before the flush
    changes or deletes them (and the feedback a cascade will delete with a case)."""
    written = [i for i in (*session.new, *session.deleted) if type(i) in COUNTED]
    written += [i for i in session.dirty if type(i) in COUNTED and _counted_change(i)]
    if not written:
        return
    session.info.setdefault("rollup.items", []).extend(written)
    pairs = session.info.setdefault("rollup.pairs", set())
    old_cases = {i.id for i in written if isinstance(i, models.Dispute) and i.id}
    old_feedback = {i.id for i in written if isinstance(i, models.Feedback) and i.id}
    with session.no_autoflush:
        connection = session.connection()
        pairs.update(_case_pairs(connection, old_cases))
        if old_feedback:
            pairs.update(_feedback_pairs(connection, models.Feedback.id.in_(old_feedback)))
        doomed = {i.id for i in session.deleted if isinstance(i, models.Dispute) and i.id}
        if doomed:
            pairs.update(_feedback_pairs(connection, models.Feedback.dispute_id.in_(doomed)))


def _after_flush(session, flush_context):
    """Add the pairs the written rows count in after the flush, and recompute them all."""
    items = session.info.pop("rollup.items", [])
    pairs = session.info.pop("rollup.pairs", set())
    if not items:
        return
    connection = session.connection()
    cases = {i.id for i in items if isinstance(i, models.Dispute) and i.id}
    records = {i.id for i in items if isinstance(i, models.Feedback) and i.id}
    pairs.update(_case_pairs(connection, cases))
    if records:
        pairs.update(_feedback_pairs(connection, models.Feedback.id.in_(records)))
    if pairs:
        refresh(session, pairs)


def refresh(session, pairs, parts=True):
    """Recompute the rollup rows of these (centre id, first day of month) pairs: per month,
    one GROUP BY per measure over the statistics indexes."""
    table, part = models.StatMonth.__table__, models.StatMonthPart.__table__
    # Core statements on the session's connection: nothing here may start another flush.
    connection = session.connection()
    by_month = {}
    for centre_id, month in pairs:
        by_month.setdefault(month, set()).add(centre_id)
    for month, centres in sorted(by_month.items()):
        period = stats.Period.month_of(month)
        found = stats.counts_by_centre(connection, period, sorted(centres))
        _replace(connection, table, [table.c.month == month, table.c.centre_id.in_(centres)],
                 [{"month": month, "centre_id": centre, **values}
                  for centre, values in found.items() if any(values.values())])
        if not parts:
            continue
        found = stats.parts_by_centre(connection, period, sorted(centres))
        # The dimension leads the key: naming them all lets the delete use it.
        _replace(connection, part, [part.c.dimension.in_(models.StatMonthPart.DIMENSIONS),
                                    part.c.month == month, part.c.centre_id.in_(centres)],
                 [{"dimension": dimension, "month": month, "centre_id": centre, "code": code,
                   "cases": number}
                  for centre, counted in found.items()
                  for (dimension, code), number in counted.items()])


def _replace(connection, table, where, rows):
    """Delete a rollup's rows matching the conditions and insert the recomputed ones."""
    connection.execute(delete(table).where(*where))
    if rows:
        connection.execute(insert(table), rows)


def rebuild(session, parts=True):
    """Recompute the whole rollup from the case rows (after bulk loads and migrations);
    parts=False leaves stat_month_part alone (for migrations older than that table)."""
    session.connection().execute(delete(models.StatMonth.__table__))
    if parts:
        session.connection().execute(delete(models.StatMonthPart.__table__))
    dispute = models.Dispute
    pairs = set()
    for centre_id, *bounds in session.connection().execute(
            select(dispute.centre_id, func.min(dispute.registered_at),
                   func.max(func.coalesce(dispute.concluded_at, dispute.registered_at)))
            .group_by(dispute.centre_id)):
        first, last = (_first(stats._as_datetime(b)) for b in bounds)
        # Feedback is collected after conclusion; a year of slack covers late feedback.
        last = last.replace(year=last.year + 1)
        month = first
        while month <= last:
            pairs.add((centre_id, month))
            month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    refresh(session, pairs, parts)


def init_app(app):
    """Keep the rollup in step with every session's writes."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
