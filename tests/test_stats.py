"""The statistics module against plain computations over the same rows, on every engine."""

import datetime
import math
import random
import statistics as pystats

import pytest
from sqlalchemy import select

from app import models, stats
from app.extensions import db

T = datetime.datetime
CENTRES = ("博乐市", "奇台县", "昌吉市", "库尔勒市")


def _centre(short_name):
    """A seeded centre by its short name."""
    return db.session.scalar(select(models.Centre).filter_by(short_name=short_name))


def _area(code):
    """The area of a region code."""
    return stats.area_by_code(db.session, code)


def add_case(centre, registered, concluded=None, outcome=None, level="village",
             resolved_level=None, category=None, source="window", status=None, number=[0],
             **extra):
    """A dispute with the given times, written directly (figures do not care how it got there)."""
    number[0] += 1
    category = category or db.session.scalar(select(models.Category).order_by(models.Category.id))
    if status is None:
        status = "concluded" if concluded else "registered"
    extra = {"title": "测试案件", "description": "测试", **extra}
    case = models.Dispute(
        case_no=f"T-{number[0]:06d}", centre=centre, category=category, source=source, level=level, status=status, registered_at=registered,
        concluded_at=concluded, outcome=outcome,
        resolved_level=resolved_level or (level if outcome == "resolved" else None), **extra)
    if concluded and outcome:
        case.conclusions.append(models.Conclusion.of(case))
    db.session.add(case)
    return case


def add_conclusion(case, at, outcome, resolved_level=None):
    """An earlier conclusion of a case, undone by a reopening (the case's columns do not show it)."""
    case.conclusions.append(models.Conclusion(
        centre_id=case.centre.id, concluded_at=at, outcome=outcome,
        resolved_level=resolved_level if outcome == "resolved" else None,
        conclude_seconds=models.conclude_seconds(case.registered_at, at)))


@pytest.fixture
def cases(world):
    """About 150 random cases over 2024-2025 in four centres of three prefectures, with feedback
    and petition records; deterministic."""
    rng = random.Random(7)
    centres = [_centre(name) for name in CENTRES]
    categories = list(db.session.scalars(select(models.Category)))
    for _ in range(150):
        registered = T(2024, 1, 1) + datetime.timedelta(seconds=rng.randrange(0, 730 * 86400))
        kind = rng.random()
        extra = {}
        if rng.random() < 0.7:
            extra["accepted_at"] = registered + datetime.timedelta(hours=rng.randrange(1, 72))
        elif rng.random() < 0.3:
            extra["declined_at"] = registered + datetime.timedelta(hours=rng.randrange(1, 72))
        if kind < 0.6:
            concluded = registered + datetime.timedelta(seconds=rng.randrange(3600, 60 * 86400))
            outcome = rng.choice(("resolved", "resolved", "resolved", "routed_on", "withdrawn"))
            case = add_case(rng.choice(centres), registered, concluded, outcome,
                            level=rng.choice(("village", "township", "county")),
                            category=rng.choice(categories),
                            source=rng.choice(("window", "grid", "hotline")), **extra)
            if rng.random() < 0.7:
                db.session.add(models.Feedback(dispute=case, satisfaction=rng.choice((1, 2, 3, 3)),
                                               channel="phone",
                                               collected_at=concluded + datetime.timedelta(days=1)))
            if rng.random() < 0.2:  # concluded once before, reopened, concluded again
                add_conclusion(case, (registered + (concluded - registered) / 3).replace(microsecond=0),
                               rng.choice(("resolved", "routed_on", "withdrawn")),
                               rng.choice(("village", "township", "county")))
        else:
            status = rng.choice(("registered", "accepted", "referred"))
            case = add_case(rng.choice(centres), registered, status=status,
                            category=rng.choice(categories),
                            accept_due=registered + datetime.timedelta(days=3),
                            handle_due=registered + datetime.timedelta(days=30), **extra)
            if status != "registered" and rng.random() < 0.3:  # concluded, reopened, in hand
                add_conclusion(case, registered + datetime.timedelta(
                    seconds=rng.randrange(3600, 40 * 86400)), "resolved",
                    rng.choice(("village", "township", "county")))
    for centre in centres:
        for month in range(1, 13):
            for year in (2024, 2025):
                db.session.add(models.ServiceRecord(
                    centre=centre, kind="petition", count=rng.randrange(0, 20),
                    period_start=datetime.date(year, month, 1),
                    period_end=datetime.date(year, month, 1)))
    db.session.commit()


def _rows(area):
    """All disputes of an area, as plain objects (the oracle's input)."""
    rows = db.session.scalars(select(models.Dispute).join(models.Centre).join(
        models.Region, models.Centre.region_id == models.Region.id)).all()
    return [d for d in rows if d.centre.region.path.startswith(area.path)]


def _within(moment, period):
    """The oracle's own test of a timestamp against a period."""
    return moment is not None and period.start <= moment.date() < period.end


def oracle(area, period, today):
    """The headline figures computed plainly in Python from the rows."""
    rows = _rows(area)
    # Every conclusion in the period counts, a reopened case's earlier ones included.
    concluded = [(d, c) for d in rows for c in d.conclusions if _within(c.concluded_at, period)]
    resolved = [c for _d, c in concluded if c.outcome == "resolved"]
    judged = [(d, c) for d, c in concluded if c.outcome in ("resolved", "routed_on")]
    # Durations over the success rate's cases (resolved or routed on; withdrawn left out),
    # each conclusion's from the registration.
    days = sorted((c.concluded_at - d.registered_at).total_seconds() / 86400 for d, c in judged)
    feedback = [f for d in rows for f in d.feedback if _within(f.collected_at, period)]
    grassroots = [c for c in resolved if c.resolved_level in ("village", "township")]
    elapsed = max((min(period.end, today + datetime.timedelta(days=1)) - period.start).days, 0)
    petitions = sum(r.count for r in db.session.scalars(select(models.ServiceRecord))
                    if r.kind == "petition" and period.start <= r.period_start
                    and r.period_end < period.end
                    and r.centre.region.path.startswith(area.path))
    return {
        "registered": sum(_within(d.registered_at, period) for d in rows),
        "accepted": sum(_within(d.accepted_at, period) for d in rows),
        "declined": sum(_within(d.declined_at, period) for d in rows),
        "concluded": len(concluded), "resolved": len(resolved),
        "success_rate": len(resolved) / len(judged) if judged else None,
        "days_mean": sum(days) / len(days) if days else None,
        "days_median": pystats.median(days) if days else None,
        "days_p90": days[math.ceil(0.9 * len(days)) - 1] if days else None,
        "satisfaction_rate": (sum(f.satisfaction in (2, 3) for f in feedback) / len(feedback)
                              if feedback else None),
        "grassroots_share": len(grassroots) / len(resolved) if resolved else None,
        "resolved_per_day": len(resolved) / elapsed if elapsed else None,
        "petitions": petitions,
    }


def _same(actual, expected):
    """Equal, allowing for floating point in the last digits."""
    if expected is None or actual is None:
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


AREAS = ("650000", "652300", "652701", "653128")  # region, a prefecture, a county, an empty one
PERIODS = ("2025", "2024-Q3", "2025-03", "2025-02-10~2025-04-20", "2025-06-15", "2019")


@pytest.mark.parametrize("code", AREAS)
@pytest.mark.parametrize("text", PERIODS)
def test_summary_matches_a_plain_computation(cases, code, text):
    """Every headline figure equals the oracle's, for areas and periods including empty ones."""
    area, period, today = _area(code), stats.Period.parse(text), datetime.date(2025, 12, 31)
    actual = stats.summary(db.session, area, period, today)
    for key, expected in oracle(area, period, today).items():
        assert _same(actual[key], expected), (key, actual[key], expected)


def test_the_fixture_is_not_trivial(cases):
    """The oracle comparisons above compare real numbers, not zeros."""
    figures = stats.summary(db.session, _area("650000"), stats.Period.parse("2025"),
                            datetime.date(2025, 12, 31))
    assert figures["concluded"] > 30 and figures["feedback"] > 20 and figures["petitions"] > 0
    assert 0 < figures["success_rate"] < 1 and figures["days_median"] != figures["days_mean"]


def test_breakdowns_trend_and_funnel_match(cases):
    """Category, source, level, centre, funnel and monthly trend against plain counts."""
    area, period = _area("650000"), stats.Period.parse("2025")
    rows = [d for d in _rows(area) if _within(d.registered_at, period)]

    def counts(key):
        found = {}
        for d in rows:
            found[key(d)] = found.get(key(d), 0) + 1
        return found

    breakdowns = stats.registered_breakdowns(db.session, area, period)
    assert {i["code"]: i["value"] for i in breakdowns["category"]} == \
        counts(lambda d: d.category_id)
    assert {i["code"]: i["value"] for i in breakdowns["source"]} == \
        counts(lambda d: d.source)
    assert {i["code"]: i["value"] for i in breakdowns["level"]} == \
        counts(lambda d: d.level)
    # The resolution level: cases resolved (concluded in the period) by the level resolved at.
    resolved = {}
    for c in (c for d in _rows(area) for c in d.conclusions):
        if c.outcome == "resolved" and _within(c.concluded_at, period):
            resolved[c.resolved_level or ""] = resolved.get(c.resolved_level or "", 0) + 1
    assert {i["code"]: i["value"] for i in breakdowns["resolved_level"]} == resolved
    assert sum(resolved.values()) == stats.summary(db.session, area, period)["resolved"]
    # The same from the case rows for a range (not whole months: no rollup).
    span = stats.Period.parse("2025-02-10~2025-07-20")
    ranged = {}
    for c in (c for d in _rows(area) for c in d.conclusions):
        if c.outcome == "resolved" and _within(c.concluded_at, span):
            ranged[c.resolved_level or ""] = ranged.get(c.resolved_level or "", 0) + 1
    assert ranged and {i["code"]: i["value"] for i in stats.registered_breakdowns(
        db.session, area, span)["resolved_level"]} == ranged
    assert {i["code"]: i["value"] for i in stats.by_centre(db.session, area, period)} == \
        counts(lambda d: d.centre_id)
    funnel = {i["code"]: i["value"] for i in breakdowns["funnel"]}
    assert funnel == {"registered": len(rows),
                      "accepted": sum(d.status not in ("registered", "declined") for d in rows),
                      "referred": sum(d.referred_at is not None for d in rows),
                      "concluded": sum(d.status in ("concluded", "closed") for d in rows),
                      "closed": sum(d.status == "closed" for d in rows)}
    assert 0 < funnel["concluded"] < funnel["accepted"] < funnel["registered"]
    trend = stats.trend(db.session, area, stats.Period.parse("2025-06"))
    assert [t["month"] for t in trend][0] == "2024-07" and trend[-1]["month"] == "2025-06"
    for point in trend:
        month = stats.Period.parse(point["month"])
        assert point["registered"] == sum(_within(d.registered_at, month) for d in _rows(area))
        assert point["concluded"] == sum(_within(c.concluded_at, month)
                                         for d in _rows(area) for c in d.conclusions)


def test_overdue_counts_open_cases_past_their_deadline(cases):
    """Overdue cases now: open and past the accept or handle deadline."""
    area, now = _area("650000"), T(2025, 6, 1)
    expected = sum(
        (d.status == "registered" and d.accept_due is not None and d.accept_due < now)
        or (d.status in ("accepted", "referred") and d.handle_due is not None
            and d.handle_due < now) for d in _rows(area))
    assert stats.overdue(db.session, area, now)["cases"] == expected > 0


def test_single_case_median_p90_and_mean_agree(world):
    """With one concluded case every duration figure is its duration."""
    add_case(_centre("博乐市"), T(2025, 3, 7, 9), T(2025, 3, 10, 21), "resolved")
    db.session.commit()
    figures = stats.summary(db.session, _area("652701"), stats.Period.parse("2025-03"),
                            datetime.date(2025, 3, 31))
    assert figures["days_mean"] == figures["days_median"] == figures["days_p90"] == 3.5
    assert figures["success_rate"] == 1 and figures["resolved_per_day"] == 1 / 31


def test_withdrawn_cases_are_in_neither_the_success_rate_nor_the_days(world):
    """Two cases resolved in 2 days, one routed on in 4, one withdrawn after 30: success 2/3,
    days over the three judged cases, the withdrawn one counted on its own; the same for a
    whole month (rollups) and for a range (case rows)."""
    centre = _centre("博乐市")
    for days, outcome in ((2, "resolved"), (2, "resolved"), (4, "routed_on"),
                          (30, "withdrawn")):
        add_case(centre, T(2025, 1, 1), T(2025, 1, 1) + datetime.timedelta(days=days), outcome)
    db.session.commit()
    for period in ("2025-01", "2025-01-01~2025-02-28"):
        figures = stats.summary(db.session, _area("652701"), stats.Period.parse(period))
        assert figures["concluded"] == 4 and figures["withdrawn"] == 1, period
        assert figures["success_rate"] == 2 / 3, period
        assert figures["days_mean"] == 8 / 3 and figures["days_median"] == 2, period
        assert figures["days_p90"] == 4, period


def test_service_records_are_kept_per_month_and_counted_where_they_lie(world, login_as):
    """A record crossing a month's end is refused on the form; a total spread by month keeps
    its sum; a month counts its records, a range of days only those lying wholly in it."""
    split = models.ServiceRecord.split_by_month(datetime.date(2025, 1, 26),
                                               datetime.date(2025, 3, 12), 396)
    assert [(a.isoformat(), b.isoformat()) for a, b, _n in split] == [
        ("2025-01-26", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-12")]
    assert sum(n for *_d, n in split) == 396 and [n for *_d, n in split] == [52, 241, 103]
    centre = _centre("博乐市")
    client = login_as("admin")
    response = client.post("/servicerecordmodelview/add", data={
        "centre": centre.id, "kind": "petition", "count": "30", "period_start": "2026-11-25",
        "period_end": "2026-12-01"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "同一个月" in page and 'value="30"' in page
    area = _area("652701")
    periods = [stats.Period.parse(p) for p in ("2026-11", "2026-Q4", "2026-11-25~2026-12-01")]
    before = [stats.petitions(db.session, area, p) for p in periods]  # the demo's own records
    for first, last, count in ((datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), 40),
                               (datetime.date(2026, 12, 1), datetime.date(2026, 12, 31), 9)):
        db.session.add(models.ServiceRecord(centre=centre, kind="petition", count=count,
                                            period_start=first, period_end=last))
    db.session.commit()
    after = [stats.petitions(db.session, area, p) for p in periods]
    # November holds its record, the quarter both; 25 November to 1 December neither whole.
    assert [a - b for a, b in zip(after, before)] == [40, 49, 0]


def test_median_of_an_even_count_averages_the_middle_two(world):
    """Durations 1, 2, 4, 10 days: median 3, p90 10 (nearest rank), mean 4.25."""
    centre = _centre("博乐市")
    for days in (1, 2, 4, 10):
        add_case(centre, T(2025, 1, 1), T(2025, 1, 1) + datetime.timedelta(days=days), "resolved")
    db.session.commit()
    figures = stats.summary(db.session, _area("652701"), stats.Period.parse("2025-Q1"))
    assert (figures["days_median"], figures["days_p90"], figures["days_mean"]) == (3, 10, 4.25)


def test_ranking_ties_share_a_rank_and_small_centres_are_left_out(world):
    """Equal success rate and days share a rank; a centre below the minimum is not ranked."""
    start = T(2025, 5, 1)
    plan = {"博乐市": (10, 8), "奇台县": (10, 8), "昌吉市": (12, 12), "库尔勒市": (5, 5)}
    for name, (total, resolved) in plan.items():
        for i in range(total):
            add_case(_centre(name), start, start + datetime.timedelta(days=2),
                     "resolved" if i < resolved else "routed_on")
    db.session.commit()
    ranked = stats.ranking(db.session, _area("650000"), stats.Period.parse("2025-05"), minimum=10)
    assert [(e["label"], e["rank"]) for e in ranked] == [("昌吉市", 1), ("博乐市", 2),
                                                          ("奇台县", 2), ("库尔勒市", None)]


def test_comparisons_use_the_previous_period_and_last_year(cases):
    """Changes are relative to the previous period and to the same period a year before."""
    area, period = _area("650000"), stats.Period.parse("2025-Q2")
    result = stats.compare(db.session, area, period, datetime.date(2025, 12, 31))
    for base in ("previous", "last_year"):
        now, then = result["current"]["registered"], result[base]["registered"]
        assert result["change"]["registered"][base] == pytest.approx((now - then) / then)
    # The baselines carry every figure, median and P90 included (the PDF compares them too).
    assert result["previous"] == stats.summary(db.session, area, stats.Period.parse("2025-Q1"),
                                               datetime.date(2025, 12, 31))
    assert result["previous"]["days_median"] is not None
    assert result["change"]["accepted"]["previous"] is not None


@pytest.mark.parametrize("text, code, previous, year_before", [
    ("2025", "2025", "2024", "2024"),
    ("2025-q1", "2025-Q1", "2024-Q4", "2024-Q1"),
    ("2025-1", "2025-01", "2024-12", "2024-01"),
    ("2024-02-29", "2024-02-29", "2024-02-28", "2023-02-28"),
    ("2025-03-01~2025-03-10", "2025-03-01~2025-03-10", "2025-02-19~2025-02-28",
     "2024-03-01~2024-03-10"),
])
def test_periods_parse_and_compare(app, text, code, previous, year_before):
    """Period texts, their previous period and the same period a year before."""
    with app.test_request_context():
        period = stats.Period.parse(text)
        assert (period.code, period.previous().code, period.year_before().code) == \
            (code, previous, year_before)
        assert stats.Period.parse(period.code) == period


@pytest.mark.parametrize("text", ["", "2025-13", "2025-02-30", "2025-03-10~2025-03-01", "今年"])
def test_bad_periods_are_refused_with_a_message(app, text):
    """Unreadable periods raise BadPeriod with a Chinese message."""
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        with pytest.raises(stats.BadPeriod) as refused:
            stats.Period.parse(text)
        assert str(refused.value)


def test_every_figure_has_a_definition_with_its_parameters_filled(app):
    """The 指标说明 definitions name the answers and levels the computation uses."""
    with app.test_request_context():
        texts = {f.code: f.explain() for f in stats.FIGURES}
    assert "%(" not in "".join(texts.values())
    assert str(10) in texts["ranking"]


def _rollup_agrees(months):
    """For each month, the rollups' counts equal the case rows' counts, for every area: the
    headline counts, the breakdowns and funnel, and the median and p90 found through the
    duration histogram (a month read from the rollups, the same days from the case rows)."""
    session = db.session
    for code in ("650000", "652701", "652325"):
        area = _area(code)
        for month in months:
            period = stats.Period.parse(month)
            same_days = stats.Period("range", period.start, period.last)
            assert stats.rolled_up(session, area, period) == \
                stats.counts(session, area, period), (code, month)
            assert stats.registered_breakdowns(session, area, period) == \
                stats.registered_breakdowns(session, area, same_days), (code, month)
            rolled, rows = (stats.summary(session, area, p) for p in (period, same_days))
            assert (rolled["days_median"], rolled["days_p90"]) == \
                (rows["days_median"], rows["days_p90"]), (code, month)
    centres = session.scalars(select(models.Centre.id)).all()
    for month in months:
        period = stats.Period.parse(month)
        stored = {}
        for dimension, centre, code, cases in session.execute(
                select(models.StatMonthPart.dimension, models.StatMonthPart.centre_id,
                       models.StatMonthPart.code, models.StatMonthPart.cases)
                .where(models.StatMonthPart.month == period.start)):
            if cases:  # a count brought back to zero may stay as a row of 0
                stored.setdefault(centre, {})[(dimension, code)] = cases
        assert {c: stored.get(c, {}) for c in centres} == \
            stats.parts_by_centre(session, period, centres), month


def test_the_monthly_rollup_follows_every_kind_of_write(world):
    """Conclusions, reopening, moving a case, late feedback and deletion keep the rollup exact;
    a rebuild from the case rows gives the same rows."""
    from app import rollup

    bole, qitai = _centre("博乐市"), _centre("奇台县")
    case = add_case(bole, T(2025, 3, 30, 9))
    other = add_case(bole, T(2025, 3, 2), T(2025, 4, 2), "resolved")
    db.session.commit()
    months = ("2025-03", "2025-04", "2025-05", "2025-06")
    _rollup_agrees(months)
    case.status, case.concluded_at, case.outcome = "concluded", T(2025, 4, 3), "resolved"
    case.resolved_level = "village"
    case.conclusions.append(models.Conclusion.of(case))
    db.session.commit()
    _rollup_agrees(months)
    db.session.add(models.Feedback(dispute=case, satisfaction=3, channel="phone",
                                   collected_at=T(2025, 5, 1)))
    db.session.commit()
    _rollup_agrees(months)
    case.status, case.concluded_at, case.outcome, case.resolved_level = "accepted", None, None, None
    case.centre = qitai
    db.session.commit()
    _rollup_agrees(months)
    # Reopened and moved: April keeps the conclusion, at the centre that concluded it.
    april = stats.rolled_up(db.session, _area("652701"), stats.Period.parse("2025-04"))
    assert april["concluded"] == 2 and april["resolved"] == 2
    # Reclassified: another category, source and level move the breakdowns' counts.
    case.category = db.session.scalar(select(models.Category).order_by(models.Category.id.desc()))
    case.source, case.level, case.referred_at = "hotline", "county", T(2025, 4, 5)
    db.session.commit()
    _rollup_agrees(months)
    # Only the relationship changed (as the edit form does it): the category's count moves.
    case.category = db.session.scalar(select(models.Category).order_by(models.Category.id))
    db.session.commit()
    _rollup_agrees(months)
    assert rollup.check(db.session) == []
    db.session.add(models.Feedback(dispute=other, satisfaction=1, channel="sms",
                                   collected_at=T(2025, 6, 1)))
    db.session.commit()
    db.session.delete(other)
    db.session.commit()
    _rollup_agrees(months)
    assert stats.rolled_up(db.session, _area("652701"), stats.Period.parse("2025-06")) == \
        dict.fromkeys(models.StatMonth.COUNTS, 0)
    assert rollup.check(db.session) == []
    before = rollup.stored(db.session)
    rollup.rebuild(db.session)
    db.session.commit()
    assert rollup.stored(db.session) == before
    assert before  # the rollups are not trivially empty


def test_a_case_flushed_then_changed_in_one_transaction_counts_once(world):
    """A case inserted, flushed, then concluded and given feedback before the one commit (as a
    registration that links a repeat, or the demo seed, does) counts in full, not from its
    state at the first flush."""
    from app import rollup

    bole = _centre("博乐市")
    case = add_case(bole, T(2025, 3, 3, 9))
    db.session.flush()
    case.status, case.concluded_at, case.outcome = "concluded", T(2025, 3, 5), "resolved"
    case.resolved_level = "village"
    case.conclusions.append(models.Conclusion.of(case))
    db.session.flush()
    db.session.add(models.Feedback(dispute=case, satisfaction=3, channel="phone",
                                   collected_at=T(2025, 3, 6)))
    db.session.flush()
    case.status = "closed"
    db.session.commit()
    assert rollup.check(db.session) == []
    _rollup_agrees(("2025-03",))


def test_the_stats_commands_find_and_repair_a_drifted_rollup(app, world):
    """`flask stats check` exits 0 on exact rollups and 1 naming the difference after a row is
    changed behind the app's back; `flask stats rebuild` (a centre and months) repairs it."""
    bole = _centre("博乐市")
    add_case(bole, T(2025, 3, 2), T(2025, 4, 2), "resolved")
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
    db.session.execute(models.StatMonth.__table__.update().where(
        models.StatMonth.centre_id == bole.id).values(registered=models.StatMonth.registered + 5))
    db.session.commit()
    found = runner.invoke(args=["stats", "check"])
    assert found.exit_code == 1 and "registered" in found.output
    repaired = runner.invoke(args=["stats", "rebuild", "--centre", "博乐市", "--from", "2025-01",
                                   "--to", "2025-12"])
    assert repaired.exit_code == 0, repaired.output
    assert runner.invoke(args=["stats", "check"]).exit_code == 0
