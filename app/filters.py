"""List filters that the dashboard's drill-down links use: the same conditions as the figures."""

from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, false

from app import caches, choices, models, scope, search, stats
from app.extensions import db
from app.models import key_of


class FilterInPeriod(BaseFilter):
    """A timestamp within a statistics period (2025, 2025-Q1, 2025-03, a day or a range)."""

    name = _l("Within the period")
    arg_name = "inp"

    def apply(self, query, value):
        """Keep rows whose column falls in the period; an unreadable period keeps nothing."""
        try:
            period = stats.Period.parse(value)
        except stats.BadPeriod:
            return query.filter(false())
        return query.filter(stats.in_period(getattr(self.model, self.column_name), period))

    def describe(self, value):
        """The period in words."""
        try:
            return str(stats.Period.parse(value).label)
        except stats.BadPeriod:
            return str(value)


class FilterConcludedIn(BaseFilter):
    """A case with a conclusion in a period ("2025-03"), or resolved at a level in it
    ("2025-03|village"): the conclusions the figures count, a reopened case's earlier ones
    included."""

    name = _l("Concluded within the period")
    arg_name = "cnp"
    label = _l("Concluded")  # what the list's filter summary calls it

    @staticmethod
    def _parts(value):
        """(period, level or None), or None when the value cannot be read."""
        text, _bar, level = str(value).partition("|")
        try:
            return stats.Period.parse(text), level or None
        except stats.BadPeriod:
            return None

    def apply(self, query, value):
        """Keep the cases with such a conclusion; an unreadable value keeps nothing."""
        parts = self._parts(value)
        if parts is None:
            return query.filter(false())
        period, level = parts
        conclusion = models.Conclusion
        where = [conclusion.dispute_id == self.model.id,
                 stats.in_period(conclusion.concluded_at, period)]
        if level is not None:
            where += [conclusion.outcome == "resolved", conclusion.resolved_level == level]
        return query.filter(exists().where(*where))

    def describe(self, value):
        """The period (and the level resolved at) in words."""
        parts = self._parts(value)
        if parts is None:
            return str(value)
        period, level = parts
        if level is None:
            return str(period.label)
        return str(_l("%(period)s, resolved at %(level)s", period=period.label,
                      level=choices.HANDLING_LEVEL.label(level)))


class FilterInArea(BaseFilter):
    """A case whose centre lies in a region, prefecture or county (by region id)."""

    name = _l("Within the area")
    arg_name = "ina"
    label = _l("Area")  # what the list's filter summary calls it (not the column's name)

    def apply(self, query, value):
        """Keep the cases of centres under the region; an unknown region keeps nothing."""
        region = _region(value)
        if region is None:
            return query.filter(false())
        area = scope.of_region(region.path, region.parent_id, region.level)
        where = scope.condition(models.Dispute, area)
        return query if where is None else query.filter(where)

    def describe(self, value):
        """The region's name."""
        region = _region(value)
        return region.name if region is not None else str(value)


class FilterReached(BaseFilter):
    """A case that has reached a step of the status funnel (accepted, referred, concluded…)."""

    name = _l("Has reached")
    arg_name = "rch"

    def apply(self, query, value):
        """Keep the cases that reached the step."""
        where = stats.reached(value)
        return query.filter(false() if where is None else where)

    def describe(self, value):
        """The funnel step in words."""
        return f"{self.name}{choices.DISPUTE_STATUS.label(value)}"


class FilterOverdue(BaseFilter):
    """A referral past its report-in or answer deadline now."""

    name = _l("Overdue now")
    arg_name = "ovd"
    reads_clock = True  # its rows change with time alone: never count it from the cache

    def apply(self, query, value):
        """Keep the overdue referrals."""
        return query.filter(stats.overdue_referral(models.now()))

    def describe(self, value):
        """Nothing more than its name."""
        return str(self.name)


def _region(value):
    """The region a filter value names, or None."""
    key = key_of(value)
    return db.session.get(models.Region, key) if key is not None else None


class TextSearchFilter(BaseFilter):
    """The list filter 包含关键字: text search over title and description."""

    name = _l("Contains the words")
    arg_name = "fts"

    def apply(self, query, value):
        """Keep the cases whose text contains the words (whether a term is common is kept in
        the shared cache)."""
        where = search.condition(value, common=caches.is_common)
        return query if where is None else query.filter(where)
