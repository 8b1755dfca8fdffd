"""The monthly rollups (stat_month, stat_month_part) the statistics read for whole months,
quarters and years, kept by deltas.

Each transaction adds exactly its own contribution: the first time a flush touches a case, a
conclusion or a feedback record, its row is read from the database as it stands (locked, FOR UPDATE, so no one
changes it until we commit); just before commit the same rows are read again, and the
difference of what the two versions count is added to the rollup rows with one atomic upsert
per table (INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n; MariaDB's ON DUPLICATE KEY
UPDATE). No month is regrouped and no row is deleted and re-inserted, so concurrent writes to
one centre and month add up instead of overwriting each other. Whatever changed a counted
column (a form, a relationship, a workflow step) is seen, because the database rows are
compared, not the attributes.

What a case and a feedback record count is defined here, in Python, from the statistics'
definitions (stats.steps_reached, stats.SATISFIED, stats.GRASSROOTS); `flask stats check`
compares every rollup row with the statistics' SQL over the case rows, and `flask stats
rebuild` recomputes them (after bulk loads that bypass the session).
"""

import datetime
import functools
from collections import Counter

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from app import models, stats

STATE = "rollup.state"
CASE_COLUMNS = ("id", "centre_id", "registered_at", "accepted_at", "declined_at", "status",
                "referred_at", "category_id", "source", "level")
CONCLUSION_COLUMNS = ("id", "dispute_id", "centre_id", "concluded_at", "outcome",
                      "resolved_level", "conclude_seconds")
FEEDBACK_COLUMNS = ("id", "dispute_id", "collected_at", "satisfaction")


def _first(day):
    """The first day of the month of a date or timestamp."""
    day = stats._as_datetime(day)
    if isinstance(day, datetime.datetime):
        day = day.date()
    return day.replace(day=1)


# --------------------------------------------------------------------------- what a row counts

def case_counts(row):
    """What one case row counts: {("month", month, centre, column) or ("part", dimension,
    month, centre, code): n}."""
    found = Counter()
    centre = row.centre_id
    registered = _first(row.registered_at)
    found["month", registered, centre, "registered"] += 1
    for column in ("accepted_at", "declined_at"):
        if getattr(row, column) is not None:
            found["month", _first(getattr(row, column)), centre, column[:-3]] += 1
    for dimension, code in (("category", str(row.category_id)), ("source", row.source),
                            ("level", row.level)):
        found["part", dimension, registered, centre, code] += 1
    for step in stats.steps_reached(row.status, row.referred_at):
        found["part", "funnel", registered, centre, step] += 1
    return found


def conclusion_counts(row):
    """What one conclusion counts, in its month at its centre."""
    found = Counter()
    month, centre = _first(row.concluded_at), row.centre_id
    seconds = int(row.conclude_seconds or 0)
    judged = row.outcome in stats.JUDGED_OUTCOMES  # the durations' cases (not withdrawn)
    found["month", month, centre, "concluded"] += 1
    if judged:
        found["month", month, centre, "conclude_seconds"] += seconds
        found["part", "days", month, centre, str(seconds // 86400)] += 1
    if row.outcome in ("resolved", "routed_on", "withdrawn"):
        found["month", month, centre, row.outcome] += 1
    if row.outcome == "resolved":
        found["part", "resolved", month, centre, row.resolved_level or ""] += 1
        if row.resolved_level in stats.GRASSROOTS:
            found["month", month, centre, "grassroots"] += 1
    return found


def feedback_counts(collected_at, satisfaction, centre):
    """What one feedback record counts, at its case's centre."""
    month = _first(collected_at)
    found = Counter({("month", month, centre, "feedback"): 1})
    if satisfaction in stats.SATISFIED:
        found["month", month, centre, "satisfied"] += 1
    return found


# --------------------------------------------------------------------------- reading rows

def _read_cases(connection, ids, lock):
    """{id: row} of these cases as the database has them now."""
    if not ids:
        return {}
    return {row.id: row for row in connection.execute(_case_query(lock), {"ids": sorted(ids)})}


@functools.lru_cache(maxsize=2)
def _case_query(lock):
    """The counted columns of some cases (built once)."""
    dispute = models.Dispute.__table__
    query = select(*[dispute.c[name] for name in CASE_COLUMNS]).where(
        dispute.c.id.in_(bindparam("ids", expanding=True))).order_by(dispute.c.id)
    return query.with_for_update() if lock else query


def _read_conclusions(connection, where, lock):
    """{id: row} of the conclusions matching a condition, as the database has them now."""
    table = models.Conclusion.__table__
    query = select(*[table.c[name] for name in CONCLUSION_COLUMNS]).where(where).order_by(
        table.c.id)
    if lock:
        query = query.with_for_update()
    return {row.id: row for row in connection.execute(query)}


def _read_feedback(connection, where, lock):
    """{id: (collected_at, satisfaction, centre, dispute id)} of the feedback matching a
    condition, as the database has it now, with the centre of its case."""
    feedback, dispute = models.Feedback.__table__, models.Dispute.__table__
    query = (select(feedback.c.id, feedback.c.collected_at, feedback.c.satisfaction,
                    dispute.c.centre_id, feedback.c.dispute_id)
             .join(dispute, feedback.c.dispute_id == dispute.c.id).where(where)
             .order_by(feedback.c.id))
    if lock:
        query = query.with_for_update()
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


class _Touched:
    """The rows a transaction has touched, with what they counted before it touched them."""

    def __init__(self):
        self.cases = {}      # id -> row before (None: new in this transaction)
        self.feedback = {}   # id -> (collected_at, satisfaction, centre, dispute id) or None
        self.conclusions = {}  # id -> row before or None
        self.new = []        # objects inserted: their keys are known after the flush

    def keys(self):
        """Keys of every touched row, the new ones included: (cases, feedback, conclusions)."""
        found = {models.Dispute: set(self.cases), models.Feedback: set(self.feedback),
                 models.Conclusion: set(self.conclusions)}
        for item in self.new:
            found[type(item)].add(item.id)
        return tuple(found[model] - {None}
                     for model in (models.Dispute, models.Feedback, models.Conclusion))


def _state(session):
    """This transaction's touched rows."""
    state = session.info.get(STATE)
    if state is None:
        state = session.info[STATE] = _Touched()
    return state


def _before_flush(session, flush_context, instances):
    """Read and lock, the first time this transaction touches them, the case and feedback
    rows this flush will write, and the cases whose feedback it writes."""
    cases, feedback, conclusions, fresh = set(), set(), set(), []
    for item in (*session.new, *session.dirty, *session.deleted):
        if isinstance(item, models.Conclusion):
            if item.id is None:
                fresh.append(item)
            elif item in session.deleted or session.is_modified(item):
                conclusions.add(item.id)
        elif isinstance(item, models.Dispute):
            if item.id is None:
                fresh.append(item)
            elif item in session.deleted or session.is_modified(item):
                cases.add(item.id)
        elif isinstance(item, models.Feedback):
            if item.id is None:
                fresh.append(item)
            elif item in session.deleted or session.is_modified(item):
                feedback.add(item.id)
            parent = item.dispute_id or getattr(item.dispute, "id", None)
            if parent is not None:
                cases.add(parent)  # locked: its centre is the feedback's centre
    if not (cases or feedback or conclusions or fresh):
        return
    state = _state(session)
    state.new.extend(fresh)
    # Rows this transaction inserted counted nothing before it, however often it flushes them
    # (a later flush must not read them back as their "before").
    new_cases, new_feedback, new_conclusions = state.keys()
    cases -= set(state.cases) | new_cases
    feedback -= set(state.feedback) | new_feedback
    conclusions -= set(state.conclusions) | new_conclusions
    if not (cases or feedback or conclusions):
        return
    with session.no_autoflush:
        connection = session.connection()
        rows = _read_cases(connection, cases, lock=True)
        state.cases.update({key: rows.get(key) for key in cases})
        table = models.Feedback.__table__
        if feedback:
            found = _read_feedback(connection, table.c.id.in_(sorted(feedback)), lock=True)
            state.feedback.update({key: found.get(key) for key in feedback})
        kept = models.Conclusion.__table__
        if conclusions:
            found = _read_conclusions(connection, kept.c.id.in_(sorted(conclusions)), lock=True)
            state.conclusions.update({key: found.get(key) for key in conclusions})
        # Deleting a case deletes its feedback and conclusions in the database (ON DELETE
        # CASCADE), unseen by the session: note those records too.
        doomed = {i.id for i in session.deleted if isinstance(i, models.Dispute) and i.id}
        if doomed:
            found = _read_feedback(connection, table.c.dispute_id.in_(sorted(doomed)), lock=True)
            state.feedback.update({key: value for key, value in found.items()
                                   if key not in state.feedback})
            found = _read_conclusions(connection, kept.c.dispute_id.in_(sorted(doomed)),
                                      lock=True)
            state.conclusions.update({key: value for key, value in found.items()
                                      if key not in state.conclusions})


def _before_commit(session):
    """Flush the last changes, then add the difference between what the touched rows count
    now and what they counted before to the rollups."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    state = session.info.pop(STATE, None)
    if state is None:
        return
    connection = session.connection()
    case_keys, feedback_keys, conclusion_keys = state.keys()
    before = {**state.cases}
    after = _read_cases(connection, case_keys, lock=True)
    table = models.Feedback.__table__
    feedback_after = _read_feedback(connection, table.c.id.in_(sorted(feedback_keys)),
                                    lock=True) if feedback_keys else {}
    kept = models.Conclusion.__table__
    conclusions_after = _read_conclusions(connection, kept.c.id.in_(sorted(conclusion_keys)),
                                          lock=True) if conclusion_keys else {}
    delta = Counter()
    for key in conclusion_keys:
        if conclusions_after.get(key) is not None:
            delta.update(conclusion_counts(conclusions_after[key]))
        if state.conclusions.get(key) is not None:
            delta.subtract(conclusion_counts(state.conclusions[key]))
    for key in case_keys:
        if after.get(key) is not None:
            delta.update(case_counts(after[key]))
        if before.get(key) is not None:
            delta.subtract(case_counts(before[key]))
    for key in feedback_keys:
        if feedback_after.get(key) is not None:
            delta.update(feedback_counts(*feedback_after[key][:3]))
        if state.feedback.get(key) is not None:
            delta.subtract(feedback_counts(*state.feedback[key][:3]))
    # A case moved to another centre takes its other feedback records' counts with it.
    moved = {key: (before[key].centre_id, after[key].centre_id) for key in case_keys
             if before.get(key) is not None and after.get(key) is not None
             and before[key].centre_id != after[key].centre_id}
    if moved:
        others = _read_feedback(connection, table.c.dispute_id.in_(sorted(moved)), lock=True)
        for key, (collected_at, satisfaction, _centre, case) in others.items():
            if key not in feedback_keys:
                old, new = moved[case]
                delta.subtract(feedback_counts(collected_at, satisfaction, old))
                delta.update(feedback_counts(collected_at, satisfaction, new))
    add(connection, delta)


def _forget(session, transaction):
    """A transaction that ends (committed or rolled back) leaves nothing noted behind."""
    if transaction.parent is None:
        session.info.pop(STATE, None)


# --------------------------------------------------------------------------- writing rollups

def add(connection, delta):
    """Add a Counter of contributions to the rollup rows: one upsert per table, its rows in
    key order (every transaction locks them in the same order)."""
    months, parts = {}, {}
    for key, number in delta.items():
        if not number:
            continue
        if key[0] == "month":
            _kind, month, centre, column = key
            months.setdefault((month, centre), dict.fromkeys(models.StatMonth.COUNTS, 0))[
                column] += number
        else:
            _kind, dimension, month, centre, code = key
            parts[dimension, month, centre, code] = number
    month_rows = [{"month": month, "centre_id": centre, **values}
                  for (month, centre), values in sorted(months.items())
                  if any(values.values())]
    part_rows = [{"dimension": d, "month": m, "centre_id": c, "code": code, "cases": n}
                 for (d, m, c, code), n in sorted(parts.items())]
    if month_rows:
        connection.execute(_upsert(connection, models.StatMonth.__table__,
                                   ("month", "centre_id"), models.StatMonth.COUNTS), month_rows)
    if part_rows:
        connection.execute(_upsert(connection, models.StatMonthPart.__table__,
                                   ("dimension", "month", "centre_id", "code"), ("cases",)),
                           part_rows)


def _upsert(connection, table, keys, counts):
    """INSERT … ON CONFLICT (keys) DO UPDATE SET each count = count + the inserted count."""
    return _upsert_for(connection.dialect.name, table, tuple(keys), tuple(counts))


@functools.lru_cache(maxsize=16)
def _upsert_for(name, table, keys, counts):
    """The upsert statement of a dialect and table, built once (building it is most of the
    cost of a small write)."""
    if name in ("postgresql", "sqlite"):
        statement = (postgresql if name == "postgresql" else sqlite).insert(table)
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={column: table.c[column] + statement.excluded[column] for column in counts})
    statement = mysql.insert(table)
    return statement.on_duplicate_key_update(
        {column: table.c[column] + statement.inserted[column] for column in counts})


# --------------------------------------------------------------------------- rebuild and check

def _months_between(first, last):
    """The first days of the months from first to last, inclusive."""
    month, found = first, []
    while month <= last:
        found.append(month)
        month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return found


def _pairs(session, centre_ids=None, start=None, end=None):
    """(centre, month) pairs the case rows may count in: every month from a centre's first
    registration to a year after its last registration or conclusion (late feedback), within
    [start, end)."""
    dispute, conclusion = models.Dispute, models.Conclusion
    spans = {}  # centre -> (first moment, last moment)
    for model, moment in ((dispute, dispute.registered_at), (conclusion, conclusion.concluded_at)):
        query = select(model.centre_id, func.min(moment), func.max(moment)).group_by(
            model.centre_id)
        if centre_ids:
            query = query.where(model.centre_id.in_(centre_ids))
        for centre, first, last in session.connection().execute(query):
            first, last = stats._as_datetime(first), stats._as_datetime(last)
            if centre in spans:
                first, last = min(first, spans[centre][0]), max(last, spans[centre][1])
            spans[centre] = (first, last)
    pairs = set()
    for centre, (first, last) in spans.items():
        last = _first(last)
        for month in _months_between(_first(first), last.replace(year=last.year + 1)):
            if (start is None or month >= start) and (end is None or month < end):
                pairs.add((centre, month))
    return pairs


def recompute(session, pairs):
    """{("month"…)/("part"…) key: n} for these (centre, month) pairs, from the case rows with
    the statistics' own SQL (stats.counts_by_centre, stats.parts_by_centre)."""
    connection = session.connection()
    by_month = {}
    for centre, month in pairs:
        by_month.setdefault(month, set()).add(centre)
    found = Counter()
    for month, centres in sorted(by_month.items()):
        period = stats.Period.month_of(month)
        for centre, values in stats.counts_by_centre(connection, period, sorted(centres)).items():
            for column, number in values.items():
                found["month", month, centre, column] += int(number or 0)
        for centre, counted in stats.parts_by_centre(connection, period, sorted(centres)).items():
            for (dimension, code), number in counted.items():
                found["part", dimension, month, centre, code] += int(number)
    return +found


def stored(session, centre_ids=None, start=None, end=None):
    """{key: n} of the rollup rows as stored (zeros left out), within the centres and months."""
    month_table, part_table = models.StatMonth.__table__, models.StatMonthPart.__table__
    found = Counter()
    for table, kind in ((month_table, "month"), (part_table, "part")):
        query = select(table).where(*_scope(table, centre_ids, start, end))
        for row in session.connection().execute(query):
            month = stats._as_date(row.month)
            if kind == "month":
                for column in models.StatMonth.COUNTS:
                    found["month", month, row.centre_id, column] += getattr(row, column)
            else:
                found["part", row.dimension, month, row.centre_id, row.code] += row.cases
    return Counter({key: n for key, n in found.items() if n})


def _scope(table, centre_ids, start, end):
    """Conditions keeping a rollup table to some centres and months."""
    where = []
    if centre_ids:
        where.append(table.c.centre_id.in_(centre_ids))
    if start is not None:
        where.append(table.c.month >= start)
    if end is not None:
        where.append(table.c.month < end)
    return where


def rebuild(session, centre_ids=None, start=None, end=None):
    """Recompute the rollup rows (all, or of some centres and months [start, end)) from the
    case rows: after bulk loads that bypass the session, or to repair what check() reports."""
    connection = session.connection()
    for table in (models.StatMonth.__table__, models.StatMonthPart.__table__):
        connection.execute(delete(table).where(*_scope(table, centre_ids, start, end)))
    counted = recompute(session, _pairs(session, centre_ids, start, end))
    add(connection, counted)
    return len(counted)


def check(session, centre_ids=None, start=None, end=None):
    """The differences between the stored rollup and a full recomputation:
    [(key, stored, recomputed)], empty when they agree."""
    pairs = _pairs(session, centre_ids, start, end)
    kept = stored(session, centre_ids, start, end)
    counted = recompute(session, pairs)
    return [(key, kept.get(key, 0), counted.get(key, 0))
            for key in sorted(set(kept) | set(counted), key=str)
            if kept.get(key, 0) != counted.get(key, 0)]
