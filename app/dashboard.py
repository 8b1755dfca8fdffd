"""The statistics report behind the dashboard, the chart pages and the PDF, cached briefly.

Entries are keyed by a generation number that every committed write to cases, referrals,
feedback or service records moves on, so a cached figure never outlives the data it counts.
"""

import datetime

from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import models, stats
from app.extensions import cache

COUNTED = (models.Dispute, models.Referral, models.Feedback, models.ServiceRecord,
           models.Centre, models.StationedUnit, models.Category, models.Department,
           models.Region)
GENERATION = "stats-generation"


def generation():
    """The current generation of the counted data (0 until the first write)."""
    return cache.get(GENERATION) or 0


def invalidate():
    """Move the generation on: every cached report is stale from now."""
    cache.cache.inc(GENERATION)


def cached(name, make, *parts):
    """A value from the cache under this generation and locale, made and stored when missing."""
    key = ":".join(str(p) for p in (name, generation(), get_locale(), *parts))
    found = cache.get(key)
    if found is None:
        found = make()
        cache.set(key, found)
    return found


def report(session, area, period, today=None):
    """stats.report for the area and period, from the cache when the data has not changed."""
    today = today or datetime.date.today()
    return cached("stats", lambda: stats.report(session, area, period, today),
                  area.region_id, period.code, today)


def areas(session, user_scope):
    """The areas a scope may choose (stats.areas_within), cached."""
    return cached("areas", lambda: stats.areas_within(session, user_scope),
                  user_scope.path, user_scope.unit_id)


def _note_changes(session, flush_context, instances):
    """Remember that this transaction wrote counted rows."""
    if session.info.get("stats.dirty"):
        return
    for item in (*session.new, *session.dirty, *session.deleted):
        if isinstance(item, COUNTED):
            session.info["stats.dirty"] = True
            return


def _after_commit(session):
    """Invalidate the cached reports once counted rows are committed."""
    if session.info.pop("stats.dirty", False):
        invalidate()


def _after_rollback(session):
    """Forget the note of a transaction that did not happen."""
    session.info.pop("stats.dirty", None)


def init_app(app):
    """Watch every session for writes that change the figures."""
    if not event.contains(Session, "before_flush", _note_changes):
        event.listen(Session, "before_flush", _note_changes)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
