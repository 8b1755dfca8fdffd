"""The statistics report behind the dashboard, the chart pages and the PDF, cached briefly.

Entries are keyed by the generation of the counted data (app.generations), which every committed
write to cases, referrals, feedback, service records or the centre set-up replaces, so a cached
figure never outlives the data it counts.
"""

from flask_babel import get_locale

from app import models, stats
from app.generations import Generation, remember

COUNTED = (models.Dispute, models.Referral, models.Feedback, models.ServiceRecord,
           models.Centre, models.StationedUnit, models.Category, models.Department,
           models.Region)
data = Generation("stats", COUNTED)


def cached(name, make, *parts):
    """A value from the cache under this generation and locale, made and stored when missing."""
    return remember(":".join(str(p) for p in (name, data.current(), get_locale(), *parts)), make)


def report(session, area, period, today=None):
    """stats.report for the area and period, from the cache when the data has not changed."""
    today = today or models.today()
    return cached("stats", lambda: stats.report(session, area, period, today),
                  area.region_id, period.code, today)


def areas(session, user_scope):
    """The areas a scope may choose (stats.areas_within), cached."""
    return cached("areas", lambda: stats.areas_within(session, user_scope),
                  user_scope.path, user_scope.unit_id)
