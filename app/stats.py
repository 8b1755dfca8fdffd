"""Every figure the platform shows is computed here, in SQL, for an area and a period.

Figures are aggregated by the database (COUNT, SUM, GROUP BY), each from one covering index or
from the monthly rollups (stat_month, stat_month_part) for whole months; case rows are never
brought into Python to be counted (the median and p90 fetch only the ranked durations).
Durations are the stored whole seconds of Dispute.conclude_seconds, so SQLite, PostgreSQL and
MariaDB give identical results.
"""

import datetime
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, case, func, select, true

from app import choices, models, scope, workflow

# Which feedback answers count as satisfied: 满意 and 基本满意.
SATISFIED = (3, 2)
# Levels that count as resolved at the grassroots: village and township.
GRASSROOTS = ("village", "township")
# Outcomes that count towards the success rate (withdrawn cases are left out).
JUDGED_OUTCOMES = ("resolved", "routed_on")
OPEN_STATUSES = workflow.OPEN  # the workflow owns what "open" means
# A centre enters the ranking with at least this many concluded cases in the period.
RANKING_MIN_CASES = 10
TREND_MONTHS = 12
# The steps of the status funnel, in order.
FUNNEL = ("registered", "accepted", "referred", "concluded", "closed")


# --------------------------------------------------------------------------- periods

QUARTER_NAMES = {1: _l("first quarter"), 2: _l("second quarter"), 3: _l("third quarter"),
                 4: _l("fourth quarter")}


def _shift_year(day, years):
    """The same calendar day some years away (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _add_months(day, months):
    """The first day of the month some months away from the given first of a month."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


class BadPeriod(ValueError):
    """A period text that cannot be read."""


@dataclass(frozen=True)
class Period:
    """A span of days [start, end) named as a day, a month, a quarter, a year or a day range."""

    kind: str
    start: datetime.date
    end: datetime.date

    @classmethod
    def parse(cls, text):
        """Read 2025, 2025-Q1, 2025-03, 2025-03-07 or 2025-03-01~2025-03-15 (end included)."""
        text = (text or "").strip()
        try:
            if m := re.fullmatch(r"(\d{4})", text):
                year = int(m[1])
                return cls("year", datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1))
            if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text):
                start = datetime.date(int(m[1]), 3 * int(m[2]) - 2, 1)
                return cls("quarter", start, _add_months(start, 3))
            if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
                start = datetime.date(int(m[1]), int(m[2]), 1)
                return cls("month", start, _add_months(start, 1))
            if m := re.fullmatch(r"(\d{4}-\d{1,2}-\d{1,2})", text):
                day = datetime.date.fromisoformat(_iso(m[1]))
                return cls("day", day, day + datetime.timedelta(days=1))
            if m := re.fullmatch(r"(\d{4}-\d{1,2}-\d{1,2})\s*(?:~|\.\.|至)\s*(\d{4}-\d{1,2}-\d{1,2})",
                                 text):
                start = datetime.date.fromisoformat(_iso(m[1]))
                last = datetime.date.fromisoformat(_iso(m[2]))
                if last < start:
                    raise BadPeriod(gettext("The period ends before it starts."))
                return cls("range", start, last + datetime.timedelta(days=1))
        except ValueError as error:
            if isinstance(error, BadPeriod):
                raise
            raise BadPeriod(gettext("There is no such date.")) from None
        raise BadPeriod(gettext("Write the period as 2025, 2025-Q1, 2025-03, 2025-03-07 or "
                                "2025-03-01~2025-03-15."))

    @classmethod
    def month_of(cls, day):
        """The calendar month holding the day."""
        start = day.replace(day=1)
        return cls("month", start, _add_months(start, 1))

    @property
    def code(self):
        """The text that parses back to this period."""
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month + 2) // 3}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "day":
            return self.start.isoformat()
        return f"{self.start.isoformat()}~{self.last.isoformat()}"

    @property
    def last(self):
        """The last day inside the period."""
        return self.end - datetime.timedelta(days=1)

    @property
    def label(self):
        """The period in words, for screens and reports."""
        start = self.start
        if self.kind == "year":
            return gettext("Year %(year)d", year=start.year)
        if self.kind == "quarter":
            return gettext("%(year)d, %(quarter)s", year=start.year,
                           quarter=QUARTER_NAMES[(start.month + 2) // 3])
        if self.kind == "month":
            return gettext("%(year)d-%(month)d", year=start.year, month=start.month)
        if self.kind == "day":
            return gettext("%(year)d-%(month)d-%(day)d", year=start.year, month=start.month,
                           day=start.day)
        last = self.last
        return gettext("%(y1)d-%(m1)d-%(d1)d to %(y2)d-%(m2)d-%(d2)d", y1=start.year,
                       m1=start.month, d1=start.day, y2=last.year, m2=last.month, d2=last.day)

    @property
    def days(self):
        """How many days the period spans."""
        return (self.end - self.start).days

    def days_elapsed(self, today):
        """Days of the period up to and including today (a period still running is not over)."""
        end = min(self.end, today + datetime.timedelta(days=1))
        return max((end - self.start).days, 0)

    def previous(self):
        """The period just before: the previous month, quarter or year, or as many days."""
        if self.kind == "year":
            return Period("year", _shift_year(self.start, -1), self.start)
        if self.kind in ("quarter", "month"):
            months = 3 if self.kind == "quarter" else 1
            return Period(self.kind, _add_months(self.start, -months), self.start)
        return Period(self.kind, self.start - datetime.timedelta(days=self.days), self.start)

    def year_before(self):
        """The same period one year earlier."""
        return Period(self.kind, _shift_year(self.start, -1), _shift_year(self.end, -1))

    def bounds(self):
        """The period as [start, end) timestamps."""
        return (datetime.datetime.combine(self.start, datetime.time()),
                datetime.datetime.combine(self.end, datetime.time()))

    def months(self, count=TREND_MONTHS):
        """The `count` calendar months ending with the period's last month."""
        last = self.last.replace(day=1)
        return [_add_months(last, -i) for i in range(count - 1, -1, -1)]


def _iso(text):
    """2025-3-7 as 2025-03-07."""
    year, month, day = text.split("-")
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


# --------------------------------------------------------------------------- areas

@dataclass(frozen=True)
class Area:
    """A node of the region tree whose centres the figures cover."""

    region_id: int | None
    name: str
    path: str
    level: str
    parent_id: int | None = None

    @property
    def scope(self):
        """The scope rule for this area (scope.of_region: the whole tree needs no filter)."""
        return scope.of_region(self.path, self.parent_id, self.level)


def areas_within(session, user_scope):
    """The areas a scope may choose, in one query: its own node, and the prefectures and the
    counties with a centre below it, in tree order."""
    if user_scope.empty or user_scope.unit_id is not None:
        return []
    region = models.Region
    has_centre = select(models.Centre.id).where(models.Centre.region_id == region.id).exists()
    query = (select(region.id, region.name, region.path, region.level, region.parent_id)
             .where(region.path.startswith(user_scope.path),
                    region.level.in_(("region", "prefecture")) | (
                        (region.level == "county") & has_centre))
             .order_by(region.path))
    return [Area(*row) for row in session.execute(query)]


def area_for(session, user_scope, region_id=None, choices_=None):
    """The chosen area if the scope covers it, else the scope's own (top) area; None if none."""
    choices_ = areas_within(session, user_scope) if choices_ is None else choices_
    if not choices_:
        return None
    for area in choices_:
        if region_id is not None and str(area.region_id) == str(region_id):
            return area
    return choices_[0]


def area_by_code(session, text):
    """An area from a region code, a region name or a centre name (for the command line)."""
    region = session.scalar(select(models.Region).where(
        (models.Region.code == text) | (models.Region.name == text)))
    if region is None:
        centre = session.scalar(select(models.Centre).where(
            (models.Centre.name == text) | (models.Centre.short_name == text)))
        region = centre.region if centre is not None else None
    if region is None:
        return None
    return Area(region.id, region.name, region.path, region.level, region.parent_id)


# --------------------------------------------------------------------------- definitions

@dataclass(frozen=True)
class Figure:
    """A figure's name, unit and plain definition, shown on the 指标说明 page and in reports."""

    code: str
    name: object
    unit: object
    definition: object

    def explain(self):
        """The definition with the codes the computation really uses filled in."""
        return str(self.definition) % {
            "satisfied": "、".join(str(choices.SATISFACTION.label(c)) for c in SATISFIED),
            "grassroots": "、".join(str(choices.HANDLING_LEVEL.label(c)) for c in GRASSROOTS),
            "judged": "、".join(str(choices.OUTCOME.label(c)) for c in JUDGED_OUTCOMES),
            "open": "、".join(str(choices.DISPUTE_STATUS.label(c)) for c in OPEN_STATUSES),
            "minimum": RANKING_MIN_CASES,
            "months": TREND_MONTHS,
        }


FIGURES = [
    Figure("registered", _l("Cases registered"), _l("cases"),
           _l("Disputes whose registration time falls in the period.")),
    Figure("accepted", _l("Cases accepted"), _l("cases"),
           _l("Disputes whose acceptance time falls in the period.")),
    Figure("declined", _l("Cases declined"), _l("cases"),
           _l("Disputes declined (not accepted, with a reason) in the period.")),
    Figure("concluded", _l("Cases concluded"), _l("cases"),
           _l("Conclusions whose time falls in the period, whatever the outcome. A case "
              "concluded, reopened and concluded again counts once for each conclusion, each in "
              "the period it happened: reopening never takes back a conclusion already counted, "
              "so a past period's figures do not change.")),
    Figure("resolved", _l("Cases resolved"), _l("cases"),
           _l("Cases concluded in the period with the outcome “resolved by mediation”.")),
    Figure("success_rate", _l("Success rate"), "%",
           _l("Resolved cases ÷ cases concluded in the period with the outcome %(judged)s; "
              "withdrawn cases are left out (and counted on their own).")),
    Figure("withdrawn", _l("Cases withdrawn"), _l("cases"),
           _l("Cases concluded in the period because the party withdrew: in neither the success "
              "rate nor the days to conclude.")),
    Figure("days_mean", _l("Average days to conclude"), _l("days"),
           _l("For each conclusion in the period with the outcome %(judged)s (the success "
              "rate's cases; withdrawn ones are left out): the time from the case's registration "
              "to that conclusion, in days (to the second, summed in whole seconds), averaged. "
              "A case concluded a second time after reopening is measured again from its "
              "registration.")),
    Figure("days_median", _l("Median days to conclude"), _l("days"),
           _l("The middle value of the same durations; with an even number of cases, the "
              "average of the two middle values.")),
    Figure("days_p90", _l("90th percentile of days to conclude"), _l("days"),
           _l("The duration that 90%% of the cases concluded in the period do not exceed "
              "(nearest rank: in ascending order, the value at position 0.9 × n rounded up).")),
    Figure("days_change", _l("Change in average days"), "%",
           _l("(Average days this period − average days in the baseline period) ÷ average days "
              "in the baseline period; the baseline is the previous period or the same period "
              "last year. Negative means faster.")),
    Figure("satisfaction_rate", _l("Satisfaction rate"), "%",
           _l("Feedback collected in the period answered %(satisfied)s ÷ all feedback collected "
              "in the period; every feedback record counts once.")),
    Figure("grassroots_share", _l("Share resolved at village and township level"), "%",
           _l("Cases resolved in the period at the %(grassroots)s level ÷ all cases resolved "
              "in the period.")),
    Figure("resolved_per_day", _l("Disputes resolved per day"), _l("cases/day"),
           _l("Cases resolved in the period ÷ days of the period up to today.")),
    Figure("petitions", _l("Petitions received"), _l("visits"),
           _l("The sum of the service records of the kind “petitions received” that lie in the "
              "period. Records are kept per calendar month (a record may not cross a month's "
              "end), so a month, quarter or year counts its months; a range of days counts the "
              "records lying wholly within it. Compared with the previous period (month on "
              "month) and the same period last year (year on year).")),
    Figure("overdue_cases", _l("Overdue cases now"), _l("cases"),
           _l("Open cases (%(open)s) past their acceptance or handling deadline at the time of "
              "the statistics, whenever they were registered.")),
    Figure("overdue_referrals", _l("Overdue referrals now"), _l("referrals"),
           _l("Referrals not reported in by their report-in deadline, or not answered by their "
              "answer deadline, at the time of the statistics.")),
    Figure("report_in_rate", _l("Report-in on-time rate"), "%",
           _l("Per stationed unit, for referrals sent in the period: reported in by the "
              "deadline ÷ referrals due (reported in, or past the deadline without it). A "
              "referral cancelled when its case was concluded counts if its deadline had passed "
              "by then (as late), and leaves the rate otherwise.")),
    Figure("answer_rate", _l("Answer on-time rate"), "%",
           _l("Per stationed unit, for referrals sent in the period: answered by the deadline ÷ "
              "referrals due (answered, or still open past the deadline, or cancelled after it "
              "as late).")),
    Figure("services", _l("Service counts"), _l("times"),
           _l("Service records by kind (visitors, notarisations, legal aid…), summed over the "
              "monthly records lying in the period.")),
    Figure("ranking", _l("Centre ranking"), "",
           _l("Centres with at least %(minimum)s cases concluded in the period, ranked by "
              "success rate (higher first), then by average days (fewer first); centres with "
              "equal figures share a rank.")),
    Figure("trend", _l("Monthly trend"), _l("cases"),
           _l("Cases registered and concluded in each of the %(months)s months ending with the "
              "period.")),
    Figure("funnel", _l("Status funnel, as of now"), _l("cases"),
           _l("Of the cases registered in the period, how many have reached each step by now: "
              "registered, accepted, referred, concluded, feedback received. This figure is as "
              "of now: it grows as the period's cases move on, and a reopened case counts at the "
              "step it is at now.")),
]
FIGURE_BY_CODE = {figure.code: figure for figure in FIGURES}


# --------------------------------------------------------------------------- figures

def _ratio(part, whole):
    """part ÷ whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


def within(model, query, area):
    """Keep a query of a model's rows to the area (the scope rule every screen uses)."""
    where = scope.condition(model, area.scope)
    return query if where is None else query.where(where)


def change(current, base):
    """Relative change from base to current, or None when it cannot be computed."""
    if current is None or base in (None, 0):
        return None
    return (current - base) / base


def in_period(column, period):
    """The column's time falls in the period."""
    start, end = period.bounds()
    return and_(column >= start, column < end)


def _durations_at(session, area, period, ranks):
    """{rank: duration in seconds} at 1-based ranks in ascending order, for cases concluded in
    the period. The cases per whole day taken (from stat_month_part for whole months) tell
    which day each rank falls in; then only that day's durations are sorted, and only the
    ranked ones returned (sorting all of a month's cases took 57 ms at a million). Each
    conclusion counts (a case concluded twice has two durations, each from registration)."""
    dispute = models.Conclusion
    seconds = dispute.conclude_seconds
    concluded = (in_period(dispute.concluded_at, period), dispute.outcome.in_(JUDGED_OUTCOMES))
    if _whole_months(period):
        per_day = {int(day): n for day, n in rolled_up_parts(session, area, period, "days").items()}
    else:
        day = _day_of(seconds)
        per_day = {int(d): int(n) for d, n in session.execute(within(
            dispute, select(day, func.count()).where(*concluded).group_by(day), area))}
    wanted = {}  # day -> {rank: rank within the day}
    below = 0
    for day in sorted(per_day):
        for rank in ranks:
            if below < rank <= below + per_day[day]:
                wanted.setdefault(day, {})[rank] = rank - below
        below += per_day[day]
    found = {}
    for day, within_day in wanted.items():
        first, last = min(within_day.values()), max(within_day.values())
        values = session.scalars(within(dispute, select(seconds).where(
            *concluded, seconds >= day * 86400, seconds < (day + 1) * 86400), area)
            .order_by(seconds).offset(first - 1).limit(last - first + 1)).all()
        for rank, position in within_day.items():
            found[rank] = int(values[position - first])
    return found


def counts(session, area, period):
    """The raw counts behind the headline figures, from the case rows of the area."""
    return _counting(session, period, area.scope, False).get(
        None, dict.fromkeys(models.StatMonth.COUNTS, 0))


def counts_by_centre(session, period, centre_ids):
    """The same counts for each of these centres (what the monthly rollup stores): one
    GROUP BY centre per measure."""
    # Grouped over the whole month and picked here: a centre condition would lead the planner
    # to a centre index and a walk through each centre's whole history.
    found = _counting(session, period, None, True)
    return {centre: found.get(centre, dict.fromkeys(models.StatMonth.COUNTS, 0)) for centre in centre_ids}


def _counting(session, period, area_scope, by_centre):
    """{centre: counts} (by_centre) or {None: counts} from the case rows (their conclusions,
    their feedback) within a scope (None: everything)."""
    dispute, feedback, conclusion = models.Dispute, models.Feedback, models.Conclusion
    key = [dispute.centre_id] if by_centre else []
    where = None if area_scope is None else scope.condition(dispute, area_scope)
    found = {}

    def slot(values):
        return found.setdefault(values[0] if values else None, dict.fromkeys(models.StatMonth.COUNTS, 0))

    def run(query, key=key, where=where):
        query = query if where is None else query.where(where)
        return session.execute(query.group_by(*key) if key else query)

    for name, column in (("registered", dispute.registered_at),
                         ("accepted", dispute.accepted_at), ("declined", dispute.declined_at)):
        for *values, number in run(select(*key, func.count()).select_from(dispute)
                                   .where(in_period(column, period))):
            slot(values)[name] = number
    # Every conclusion in the period, a reopened case's earlier ones included.
    by = [conclusion.centre_id] if by_centre else []
    concluded = (select(*by, conclusion.outcome, conclusion.resolved_level, func.count(),
                        func.sum(conclusion.conclude_seconds).cast(BigInteger))
                 .where(in_period(conclusion.concluded_at, period))
                 .group_by(conclusion.outcome, conclusion.resolved_level))
    for *values, outcome, level, number, seconds in run(
            concluded, by, None if area_scope is None
            else scope.condition(conclusion, area_scope)):
        row = slot(values)
        row["concluded"] += number
        if outcome in JUDGED_OUTCOMES:  # durations: the success rate's cases only
            row["conclude_seconds"] += int(seconds or 0)
        if outcome in ("resolved", "routed_on", "withdrawn"):
            row[outcome] += number
        if outcome == "resolved" and level in GRASSROOTS:
            row["grassroots"] += number
    answers = select(*key, func.count(),
                     func.sum(case((feedback.satisfaction.in_(SATISFIED), 1), else_=0))).where(
        in_period(feedback.collected_at, period))
    if where is not None or key:
        answers = answers.join(dispute, feedback.dispute_id == dispute.id)
    for *values, total, satisfied in run(answers):
        if total:
            row = slot(values)
            row["feedback"], row["satisfied"] = total, int(satisfied or 0)
    return found


def _whole_months(period):
    """True when the period is made of whole calendar months (the rollup's grain)."""
    return period.kind in ("month", "quarter", "year")


def _rollup_area(query, area, rollup=models.StatMonth):
    """Keep a rollup query to the area's centres (the scope rule for centres)."""
    where = scope.condition(models.Centre, area.scope)
    if where is None:
        return query
    return query.where(rollup.centre_id.in_(select(models.Centre.id).where(where)))


def _day_of(seconds):
    """Whole days of a duration in seconds (the grain of the duration histogram)."""
    return seconds // 86400


def parts_by_centre(session, period, centre_ids):
    """What stat_month_part stores for each of these centres: {(dimension, code): cases} of
    the cases registered in the period by category, source and level, the funnel steps they
    reached, and the conclusions in the period by whole days taken and by resolution level.
    One pass over the registration index (which holds every column the first four need), two
    over the conclusions' index."""
    dispute = models.Dispute
    found = {centre: {} for centre in centre_ids}

    def add(centre, key, number):
        if number and centre in found:
            found[centre][key] = found[centre].get(key, 0) + int(number)

    # A few centres (a write's refresh) are picked in the query; all of them (a rebuild) not.
    chosen = dispute.centre_id.in_(centre_ids) if len(centre_ids) <= 20 else true()
    sums = [func.count()] + [func.sum(case((reached(step), 1), else_=0)) for step in FUNNEL[1:]]
    columns = (dispute.centre_id, dispute.category_id, dispute.source, dispute.level)
    for centre, category, source, level, *numbers in session.execute(
            select(*columns, *sums).where(in_period(dispute.registered_at, period), chosen)
            .group_by(*columns)):
        for key in (("category", str(category)), ("source", source), ("level", level)):
            add(centre, key, numbers[0])
        for step, number in zip(FUNNEL, numbers, strict=True):
            add(centre, ("funnel", step), number)
    conclusion = models.Conclusion
    chosen = conclusion.centre_id.in_(centre_ids) if len(centre_ids) <= 20 else true()
    day = _day_of(conclusion.conclude_seconds)
    for centre, days, number in session.execute(
            select(conclusion.centre_id, day, func.count())
            .where(in_period(conclusion.concluded_at, period),
                   conclusion.outcome.in_(JUDGED_OUTCOMES), chosen)
            .group_by(conclusion.centre_id, day)):
        add(centre, ("days", str(int(days))), number)
    for centre, level, number in session.execute(
            select(conclusion.centre_id, conclusion.resolved_level, func.count())
            .where(in_period(conclusion.concluded_at, period), conclusion.outcome == "resolved",
                   chosen)
            .group_by(conclusion.centre_id, conclusion.resolved_level)):
        add(centre, ("resolved", level or ""), number)
    return found


def rolled_up_parts(session, area, period, dimension):
    """{code: cases} of one dimension of stat_month_part, over the area and the months of a
    whole-month period."""
    part = models.StatMonthPart
    query = (select(part.code, func.sum(part.cases))
             .where(part.dimension == dimension, part.month >= period.start,
                    part.month < period.end)
             .group_by(part.code))
    return {code: int(number) for code, number in
            session.execute(_rollup_area(query, area, part)) if number}


def rolled_up(session, area, period):
    """The same counts summed from the monthly rollup, for a period of whole months."""
    rollup = models.StatMonth
    query = select(*[func.coalesce(func.sum(getattr(rollup, name)), 0)
                     for name in rollup.COUNTS]).where(
        rollup.month >= period.start, rollup.month < period.end)
    row = session.execute(_rollup_area(query, area)).one()
    return {name: int(value) for name, value in zip(rollup.COUNTS, row, strict=True)}


def summary(session, area, period, today=None, detail=True):
    """The headline figures of an area over a period (median and p90 only with detail).
    Whole months, quarters and years read the monthly rollup; other periods the case rows."""
    today = today or models.today()
    found = (rolled_up(session, area, period) if period.kind in ("month", "quarter", "year")
             else counts(session, area, period))
    concluded, resolved = found["concluded"], found["resolved"]
    # One denominator for success and days: the cases resolved or routed on (not withdrawn).
    judged = resolved + found["routed_on"]
    median = p90 = None
    if judged and detail:
        middle = [(judged + 1) // 2, judged // 2 + 1]
        if judged % 2:
            middle = middle[:1]
        p90_rank = math.ceil(0.9 * judged)
        ranked = _durations_at(session, area, period, [*middle, p90_rank])
        median = sum(ranked[rank] for rank in middle) / len(middle) / 86400
        p90 = ranked[p90_rank] / 86400
    elapsed = period.days_elapsed(today)
    return {
        "registered": found["registered"], "accepted": found["accepted"],
        "declined": found["declined"], "concluded": concluded, "resolved": resolved,
        "withdrawn": found["withdrawn"], "routed_on": found["routed_on"],
        "success_rate": _ratio(resolved, judged),
        "days_mean": found["conclude_seconds"] / judged / 86400 if judged else None,
        "days_median": median, "days_p90": p90,
        "feedback": found["feedback"], "satisfied": found["satisfied"],
        "satisfaction_rate": _ratio(found["satisfied"], found["feedback"]),
        "grassroots": found["grassroots"], "grassroots_share": _ratio(found["grassroots"],
                                                                      resolved),
        "resolved_per_day": _ratio(resolved, elapsed), "days_elapsed": elapsed,
        "petitions": petitions(session, area, period),
    }


def _record_in(period):
    """The conditions of a service record lying wholly in the period: records are kept per
    month, so a month, quarter or year holds its months' records; a range of days only the
    records it holds whole."""
    record = models.ServiceRecord
    return (record.period_start >= period.start, record.period_end < period.end)


def petitions(session, area, period):
    """Petitions received: the sum of the (monthly) petition records lying in the period."""
    record = models.ServiceRecord
    query = select(func.coalesce(func.sum(record.count), 0)).where(
        record.kind == "petition", *_record_in(period))
    return int(session.scalar(within(models.ServiceRecord, query, area)) or 0)


def services(session, area, period):
    """Service counts by kind, for the (monthly) service records lying in the period, in the
    kinds' order."""
    record = models.ServiceRecord
    rows = dict(session.execute(within(models.ServiceRecord,
        select(record.kind, func.sum(record.count)).where(*_record_in(period))
        .group_by(record.kind), area)).all())
    return [{"code": code, "label": str(label), "value": int(rows.get(code) or 0)}
            for code, label in choices.SERVICE_KIND.pairs]


# Figures that are rates: their changes are differences in percentage points (百分点), not
# relative changes (94.4 % against 85.7 % is +8.7 points, not +10.2 %).
RATES = ("success_rate", "satisfaction_rate", "grassroots_share")


def points(current, base):
    """The difference of two rates (in fractions: 0.087 is 8.7 points), or None."""
    if current is None or base is None:
        return None
    return current - base


def baselines(period, today):
    """The periods a period is compared with: the previous one and the same one last year,
    cut to as many days as have passed when the period is still running (1 December is
    compared with 1 November, not with the whole of November)."""
    previous, last_year = period.previous(), period.year_before()
    elapsed = period.days_elapsed(today)
    if 0 < elapsed < period.days:
        span = datetime.timedelta(days=elapsed)
        previous = Period("range", previous.start, min(previous.end, previous.start + span))
        last_year = Period("range", last_year.start, min(last_year.end, last_year.start + span))
    return previous, last_year


def compare(session, area, period, today=None):
    """This period's headline figures with the previous period and the same period last year
    (as many days of them as have passed of a running period); counts change in percent,
    rates in percentage points."""
    today = today or models.today()
    current = summary(session, area, period, today)
    before, year_ago = baselines(period, today)
    previous = summary(session, area, before, today)
    last_year = summary(session, area, year_ago, today)
    changes = {}
    for key in ("registered", "accepted", "declined", "concluded", "resolved", "withdrawn",
                "success_rate", "days_mean", "days_median", "days_p90", "satisfaction_rate",
                "grassroots_share", "resolved_per_day", "petitions"):
        measure = points if key in RATES else change
        changes[key] = {"previous": measure(current[key], previous[key]),
                        "last_year": measure(current[key], last_year[key]),
                        "unit": "points" if key in RATES else "percent"}
    return {"current": current, "previous": previous, "last_year": last_year,
            "change": changes, "running": before.kind == "range" and period.kind != "range",
            "baselines": (before.label, year_ago.label)}


def _grouped(session, area, period, column, moment=None, *where):
    """{code: rows} for cases (or the model of the moment: conclusions) whose moment
    (registration, unless told) falls in the period and that meet the further conditions,
    grouped by a column."""
    moment = models.Dispute.registered_at if moment is None else moment
    return dict(session.execute(within(moment.class_,
        select(column, func.count()).where(in_period(moment, period), *where)
        .group_by(column), area)).all())


def registered_breakdowns(session, area, period):
    """Cases registered in the period by category, source and level, and the status funnel:
    from stat_month_part for whole months, else a GROUP BY each over the statistics index and
    one pass of conditional sums."""
    dispute = models.Dispute
    categories = dict(session.execute(select(models.Category.id, models.Category.name)).all())
    rolled = _whole_months(period)
    found = {}
    for name, column, labels in (
            ("category", dispute.category_id, categories.get),
            ("source", dispute.source, lambda c: str(choices.DISPUTE_SOURCE.label(c))),
            ("level", dispute.level, lambda c: str(choices.HANDLING_LEVEL.label(c)))):
        if rolled:
            cast = int if name == "category" else str
            grouped = {cast(code): n for code, n in
                       rolled_up_parts(session, area, period, name).items()}
        else:
            grouped = _grouped(session, area, period, column)
        counted = [{"code": code, "label": labels(code), "value": number}
                   for code, number in grouped.items()]
        found[name] = sorted(counted, key=lambda item: (-item["value"], str(item["label"])))
    # The level cases were resolved at (the 基层化解 figure's level), by conclusion in the
    # period: not the level they were registered at.
    if rolled:
        levels = rolled_up_parts(session, area, period, "resolved")
    else:
        conclusion = models.Conclusion
        levels = _grouped(session, area, period, conclusion.resolved_level,
                          conclusion.concluded_at, conclusion.outcome == "resolved")
    found["resolved_level"] = sorted(
        ({"code": code or "", "label": str(choices.HANDLING_LEVEL.label(code)) if code else
          gettext("Level not recorded"), "value": number}
         for code, number in levels.items() if number),
        key=lambda item: (-item["value"], str(item["label"])))
    if rolled:
        steps = rolled_up_parts(session, area, period, "funnel")
        row = [steps.get(step, 0) for step in FUNNEL]
    else:
        sums = [func.count()] + [func.sum(case((reached(step), 1), else_=0))
                                 for step in FUNNEL[1:]]
        row = session.execute(within(models.Dispute,
            select(*sums).where(in_period(dispute.registered_at, period)), area)).one()
    found["funnel"] = [{"code": step, "label": str(choices.DISPUTE_STATUS.label(step)),
                        "value": int(value or 0)} for step, value in zip(FUNNEL, row, strict=True)]
    return found


def by_centre(session, area, period):
    """Cases registered in the period by centre, largest first."""
    names = dict(session.execute(select(models.Centre.id, models.Centre.short_name)).all())
    if _whole_months(period):
        rollup = models.StatMonth
        grouped = {centre: int(n) for centre, n in session.execute(_rollup_area(
            select(rollup.centre_id, func.sum(rollup.registered))
            .where(rollup.month >= period.start, rollup.month < period.end)
            .group_by(rollup.centre_id).having(func.sum(rollup.registered) > 0), area))}
    else:
        grouped = _grouped(session, area, period, models.Dispute.centre_id)
    found = [{"code": code, "label": names.get(code), "value": number}
             for code, number in grouped.items()]
    return sorted(found, key=lambda item: (-item["value"], str(item["label"])))


def trend(session, area, period):
    """Cases registered and concluded in each of the months ending with the period (from the
    monthly rollup)."""
    months = period.months()
    rollup = models.StatMonth
    query = (select(rollup.month, func.sum(rollup.registered), func.sum(rollup.concluded))
             .where(rollup.month >= months[0], rollup.month <= months[-1])
             .group_by(rollup.month))
    found = {_as_date(month): (int(r or 0), int(c or 0))
             for month, r, c in session.execute(_rollup_area(query, area))}
    return [{"month": f"{first:%Y-%m}", "registered": found.get(first, (0, 0))[0],
             "concluded": found.get(first, (0, 0))[1]} for first in months]


def _as_datetime(value):
    """A timestamp from what a driver returns (SQLite may hand back text)."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def _as_date(value):
    """A date from what a driver returns for a DATE column (SQLite may hand back text)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    return value


def overdue(session, area, now=None):
    """Open cases past their acceptance or handling deadline, and overdue referrals, now."""
    now = now or models.now()
    cases = session.scalar(within(models.Dispute,
                                  select(func.count()).where(overdue_case(now)), area))
    units = overdue_referrals(session, area, now)
    return {"cases": cases, "referrals": sum(u["value"] for u in units), "by_unit": units}


def overdue_referrals(session, area, now=None):
    """Per stationed unit: referrals past their report-in or answer deadline now."""
    now = now or models.now()
    referral = models.Referral
    rows = session.execute(within(models.Referral,
        select(referral.unit_id, func.count()).where(overdue_referral(now))
        .group_by(referral.unit_id), area)).all()
    labels = _unit_labels(session, [unit for unit, _n in rows])
    found = [{"code": unit, "label": labels.get(unit, ""), "value": number}
             for unit, number in rows]
    return sorted(found, key=lambda item: (-item["value"], item["label"]))


def overdue_case(now):
    """The condition of an open case past its acceptance or handling deadline now."""
    dispute = models.Dispute
    return (and_(dispute.status == "registered", dispute.accept_due < now)
            | and_(dispute.status.in_(workflow.IN_HAND), dispute.handle_due < now))


def overdue_referral(now):
    """The condition of a referral past its report-in or answer deadline now."""
    referral = models.Referral
    return referral.status.in_(("sent", "reported")) & (
        ((referral.status == "sent") & (referral.respond_due < now))
        | (referral.answer_due < now))


# A case has reached a funnel step by its status and its referral time (which the statistics
# index holds): the SQL condition (reached) and the Python test (steps_reached) side by side.
NOT_YET_ACCEPTED = ("registered", "declined")
CONCLUDED_STATUSES = ("concluded", "closed")


def reached(step):
    """The condition of a dispute that has reached a step of the status funnel."""
    dispute = models.Dispute
    conditions = {
        "registered": dispute.id.isnot(None),
        "accepted": dispute.status.notin_(NOT_YET_ACCEPTED),
        "referred": dispute.referred_at.isnot(None),
        "concluded": dispute.status.in_(CONCLUDED_STATUSES),
        "closed": dispute.status == "closed",
    }
    return conditions.get(step)


def steps_reached(status, referred_at):
    """The funnel steps a case with this status and referral time has reached (as reached())."""
    tests = {"registered": True, "accepted": status not in NOT_YET_ACCEPTED,
             "referred": referred_at is not None, "concluded": status in CONCLUDED_STATUSES,
             "closed": status == "closed"}
    return [step for step in FUNNEL if tests[step]]


def _unit_labels(session, unit_ids):
    """"Centre·Department" for each stationed unit id."""
    if not unit_ids:
        return {}
    unit = models.StationedUnit
    rows = session.execute(
        select(unit.id, models.Centre.short_name, models.Department.name)
        .join(models.Centre, unit.centre_id == models.Centre.id)
        .join(models.Department, unit.department_id == models.Department.id)
        .where(unit.id.in_(unit_ids))).all()
    return {uid: f"{centre}·{department}" for uid, centre, department in rows}


def timeliness(session, area, period, now=None, by="unit"):
    """Per stationed unit (or per department across the area's centres), for referrals sent in
    the period: on-time report-in and answer rates."""
    start, end = period.bounds()
    rates = referral_timeliness(session, area.scope, start, end, now, by=by)
    if by == "department":
        labels = dict(session.execute(select(models.Department.id, models.Department.name)).all())
    else:
        labels = _unit_labels(session, list(rates))
    rows = [{"code": unit, "label": labels.get(unit, ""), **figures}
            for unit, figures in rates.items()]
    return sorted(rows, key=lambda r: (-r["referrals"], r["label"]))


def ranking(session, area, period, minimum=RANKING_MIN_CASES):
    """Centres by success rate then average days, ties sharing a rank; centres with fewer than
    `minimum` concluded cases are listed after them without a rank."""
    dispute = models.Conclusion  # every conclusion in the period
    seconds = dispute.conclude_seconds
    if _whole_months(period):
        rollup = models.StatMonth
        rows = session.execute(_rollup_area(
            select(rollup.centre_id, func.sum(rollup.concluded), func.sum(rollup.resolved),
                   func.sum(rollup.resolved + rollup.routed_on),
                   func.sum(rollup.conclude_seconds))
            .where(rollup.month >= period.start, rollup.month < period.end)
            .group_by(rollup.centre_id).having(func.sum(rollup.concluded) > 0), area)).all()
    else:
        rows = session.execute(within(dispute,
            select(dispute.centre_id, func.count(),
                   func.sum(case((dispute.outcome == "resolved", 1), else_=0)),
                   func.sum(case((dispute.outcome.in_(JUDGED_OUTCOMES), 1), else_=0)),
                   func.sum(case((dispute.outcome.in_(JUDGED_OUTCOMES), seconds), else_=0))
                   .cast(BigInteger))
            .where(in_period(dispute.concluded_at, period))
            .group_by(dispute.centre_id), area)).all()
    rows = [(centre, int(n), *rest) for centre, n, *rest in rows]
    names = dict(session.execute(select(models.Centre.id, models.Centre.short_name)).all())
    entries = []
    for centre_id, concluded, resolved, judged, secs in rows:
        resolved, judged, secs = int(resolved or 0), int(judged or 0), int(secs or 0)
        # Compared as exact fractions, so that equal figures really tie on every engine.
        order = (-Fraction(resolved, judged) if judged else Fraction(1),
                 Fraction(secs, judged) if judged else Fraction(0))
        entries.append((order, {"code": centre_id, "label": names.get(centre_id, ""),
                                "concluded": concluded, "resolved": resolved,
                                "success_rate": _ratio(resolved, judged),
                                "days_mean": secs / judged / 86400 if judged else None}))
    entries.sort(key=lambda pair: (pair[1]["concluded"] < minimum, pair[0], pair[1]["label"]))
    ranked = []
    for position, (order, entry) in enumerate(entries, start=1):
        if entry["concluded"] < minimum:
            entry["rank"] = None
        elif position > 1 and order == entries[position - 2][0]:
            entry["rank"] = ranked[-1]["rank"]
        else:
            entry["rank"] = position
        ranked.append(entry)
    return ranked


def referral_timeliness(session, user_scope, start=None, end=None, now=None, by="unit"):
    """Per stationed unit: referrals, reported in on time, answered on time (counts and rates).

    On time means reported in by respond_due and answered by answer_due; referrals still open
    and already past a deadline count as late; those open and within it are not yet counted.
    A referral cancelled (its case concluded first) counts up to its cancellation: a deadline
    already passed then is missed, one still ahead leaves the rate; cancelled ones are counted.
    """
    referral = models.Referral
    now = now or models.now()
    waiting = referral.status.in_(("sent", "reported", "cancelled"))
    # Until when an unanswered referral's clock ran: now, or its cancellation.
    stop = case((referral.status == "cancelled", referral.cancelled_at), else_=now)
    reported_late = case((referral.reported_at > referral.respond_due, 1),
                         (referral.reported_at.is_(None) & (referral.respond_due < stop), 1),
                         else_=0)
    reported_due = case((referral.reported_at.isnot(None) | (referral.respond_due < stop), 1),
                        else_=0)
    answered_late = case((referral.answered_at > referral.answer_due, 1),
                         (referral.answered_at.is_(None) & waiting
                          & (referral.answer_due < stop), 1), else_=0)
    answered_due = case((referral.answered_at.isnot(None), 1),
                        (waiting & (referral.answer_due < stop), 1), else_=0)
    cancelled = case((referral.status == "cancelled", 1), else_=0)
    key = referral.unit_id
    query = select(key, func.count(), func.sum(reported_due), func.sum(reported_late),
                   func.sum(answered_due), func.sum(answered_late), func.sum(cancelled))
    if by == "department":
        key = models.StationedUnit.department_id
        query = query.with_only_columns(key, *query.selected_columns[1:]).join(
            models.StationedUnit, referral.unit_id == models.StationedUnit.id)
    query = query.where(referral.status != "queued").group_by(key)
    where = scope.condition(models.Referral, user_scope)
    if where is not None:
        query = query.where(where)
    if start is not None:
        query = query.where(referral.sent_at >= start)
    if end is not None:
        query = query.where(referral.sent_at < end)
    result = {}
    for unit_id, total, r_due, r_late, a_due, a_late, dropped in session.execute(query):
        r_due, r_late, a_due, a_late = (int(v or 0) for v in (r_due, r_late, a_due, a_late))
        result[unit_id] = {
            "referrals": total, "cancelled": int(dropped or 0),
            "report_in_due": r_due, "report_in_on_time": r_due - r_late,
            "report_in_rate": (r_due - r_late) / r_due if r_due else None,
            "answer_due": a_due, "answer_on_time": a_due - a_late,
            "answer_rate": (a_due - a_late) / a_due if a_due else None,
        }
    return result


def timeliness_by(area):
    """How referral timeliness is broken down for an area: by unit in a county, by department
    above."""
    return "unit" if area.level == "county" else "department"


def clock_figures(session, area, period, now=None):
    """The report's figures that change with the clock as well as the data: cases and
    referrals overdue now, and referral timeliness (an open referral turns late when its
    deadline passes). Never cached."""
    return {"overdue": overdue(session, area, now),
            "timeliness": timeliness(session, area, period, now, by=timeliness_by(area))}


def report(session, area, period, today=None, now=None, clock=True):
    """Everything the dashboard and the PDF show, for one area and period, as plain data
    (without the clock_figures when clock is False: what may be cached for the day)."""
    today = today or models.today()
    breakdowns = registered_breakdowns(session, area, period)
    before, year_ago = baselines(period, today)
    return {
        "area": {"id": area.region_id, "name": area.name, "level": area.level},
        "period": {"code": period.code, "label": period.label,
                   "start": period.start.isoformat(), "end": period.last.isoformat(),
                   "previous": before.label, "last_year": year_ago.label,
                   "running": 0 < period.days_elapsed(today) < period.days},
        "kpi": compare(session, area, period, today),
        "trend": trend(session, area, period),
        "by_category": breakdowns["category"],
        "by_source": breakdowns["source"],
        # 按化解层级: cases resolved in the period by the level they were resolved at; the
        # level they were registered at is a different figure, named so.
        "by_level": breakdowns["resolved_level"],
        "by_registered_level": breakdowns["level"],
        "by_centre": by_centre(session, area, period),
        "funnel": breakdowns["funnel"],
        # Above a county, units are many (one per department per centre): the dashboard and
        # the PDF both summarise them by department.
        "timeliness_by": timeliness_by(area),
        "services": services(session, area, period),
        "ranking": ranking(session, area, period),
        "ranking_minimum": RANKING_MIN_CASES,
        **(clock_figures(session, area, period, now) if clock else {}),
    }

