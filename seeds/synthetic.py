"""A synthetic region of many centres and a million disputes, for measuring, never for people.

Rows are written with bulk INSERTs in batches and explicit keys, so a million cases (with their
parties, referrals, feedback and timeline) take minutes. Deterministic for a seed.
"""

import datetime
import random

from sqlalchemy import func, insert, select, text

from app import models
from app.personal import complete_id_number
from seeds import demo

BATCH = 5000
SOURCES = (("window", 40), ("grid", 25), ("hotline", 15), ("online", 10), ("township", 10))
LEVELS = (("village", 55), ("township", 35), ("county", 10))
RISKS = (("low", 70), ("medium", 23), ("high", 7))


def _weighted(rng, pairs):
    """A code drawn with the given weights."""
    total = sum(w for _, w in pairs)
    roll = rng.uniform(0, total)
    for code, weight in pairs:
        roll -= weight
        if roll <= 0:
            return code
    return pairs[-1][0]


def _next_id(session, model):
    """The first free primary key of a table."""
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def make_centres(session, count, rng):
    """Enough centres: the article's eleven plus synthetic counties under the prefectures."""
    demo.load_world(session)
    centres = list(session.scalars(select(models.Centre).order_by(models.Centre.id)))
    prefectures = list(session.scalars(select(models.Region).filter_by(level="prefecture")
                                       .order_by(models.Region.id)))
    departments = list(session.scalars(select(models.Department).order_by(models.Department.id)))
    number = 0
    while len(centres) < count:
        number += 1
        code = f"69{number:04d}"  # outside the GB/T 2260 range: never a real county
        if session.scalar(select(models.Region.id).filter_by(code=code)):
            continue
        prefecture = prefectures[number % len(prefectures)]
        county = models.Region(code=code, name=f"合成县{number:04d}", level="county",
                               parent=prefecture)
        centre = models.Centre(name=f"合成县{number:04d}社会治安综合治理中心",
                               short_name=f"合成县{number:04d}", region=county, is_pilot=False,
                               standard_status="standardised", notes="合成数据，仅用于性能测试")
        session.add(centre)
        for index, department in enumerate(rng.sample(departments, 8)):
            session.add(models.StationedUnit(centre=centre, department=department,
                                             mode="resident" if index < 5 else "rotating"))
        centres.append(centre)
    session.commit()
    return centres[:count]


def generate(session, centres=100, disputes=1_000_000, seed=1, progress=None, today=None):
    """Add `disputes` cases spread over `centres` centres and the last three years."""
    rng = random.Random(seed)
    today = today or models.today()
    start = today - datetime.timedelta(days=3 * 365)
    span = (today - start).days
    chosen = make_centres(session, centres, rng)
    codes = {c.id: c.region.code for c in chosen}
    units = {}
    for unit in session.scalars(select(models.StationedUnit).where(
            models.StationedUnit.centre_id.in_(list(codes)))):
        units.setdefault(unit.centre_id, []).append(unit.id)
    categories = list(session.scalars(select(models.Category.id)))
    routes = list(session.scalars(select(models.LegalRoute.id)))
    ids = {m: _next_id(session, m) for m in (models.Dispute, models.Party, models.Referral,
                                              models.Feedback, models.CaseEvent,
                                              models.Conclusion)}
    sequence = {}
    existing = session.scalar(select(func.count(models.Dispute.id)))
    rows = {m: [] for m in ids}
    centre_ids = list(codes)
    # A few busy centres and many quiet ones, as in life.
    weights = [1 / (rank + 1) ** 0.6 for rank in range(len(centre_ids))]
    done = 0
    while done < disputes:
        centre_id = rng.choices(centre_ids, weights)[0]
        day = start + datetime.timedelta(days=int(span * rng.random() ** 0.8))
        registered = datetime.datetime.combine(day, datetime.time(8 + rng.randrange(10),
                                                                  rng.randrange(60)))
        key = (centre_id, day.year)
        sequence[key] = sequence.get(key, existing + 100000) + 1
        dispute_id = ids[models.Dispute]
        ids[models.Dispute] += 1
        age = (today - day).days
        status, accepted, referred, concluded, closed = "registered", None, None, None, None
        events = [("register", None, "registered", registered)]
        if age > 2 or rng.random() < 0.5:
            accepted = registered + datetime.timedelta(hours=rng.randrange(1, 48))
            status = "accepted"
            events.append(("accept", "registered", "accepted", accepted))
        if status == "accepted" and rng.random() < 0.3:
            referred = accepted + datetime.timedelta(hours=2)
            status = "referred"
            events.append(("refer", "accepted", "referred", referred))
            rid = ids[models.Referral]
            ids[models.Referral] += 1
            answered = referred + datetime.timedelta(days=rng.randrange(1, 15))
            done_referral = answered.date() < today
            rows[models.Referral].append({
                "id": rid, "dispute_id": dispute_id, "unit_id": rng.choice(units[centre_id]),
                "status": "answered" if done_referral else "reported", "position": 1,
                "summoned": False, "sent_at": referred,
                "respond_due": referred + datetime.timedelta(days=1),
                "answer_due": referred + datetime.timedelta(days=10),
                "reported_at": referred + datetime.timedelta(hours=rng.randrange(1, 40)),
                "answered_at": answered if done_referral else None,
                "result": "已办理" if done_referral else None})
        outcome = resolved = None
        if status in ("accepted", "referred") and age > 3:
            concluded = (referred or accepted) + datetime.timedelta(
                days=int(rng.expovariate(1 / 6)) + 1, hours=rng.randrange(8))
            if concluded.date() < today:
                outcome = _weighted(rng, (("resolved", 85), ("routed_on", 10), ("withdrawn", 5)))
                events.append(("conclude", status, "concluded", concluded))
                status = "concluded"
                level = _weighted(rng, LEVELS)
                resolved = level if outcome == "resolved" else None
                if rng.random() < 0.7:
                    closed = concluded + datetime.timedelta(days=rng.randrange(1, 5))
                    if closed.date() < today:
                        events.append(("feedback", "concluded", "closed", closed))
                        status = "closed"
                        rows[models.Feedback].append({
                            "id": ids[models.Feedback], "dispute_id": dispute_id,
                            "satisfaction": _weighted(rng, ((3, 85), (2, 11), (1, 4))),
                            "channel": "phone", "collected_at": closed})
                        ids[models.Feedback] += 1
                    else:
                        closed = None
            else:
                concluded = None
        if rng.random() < 0.03 and status == "registered" and age > 2:
            status = "declined"
            events.append(("decline", "registered", "declined", registered))
        rows[models.Dispute].append({
            "id": dispute_id, "case_no": f"{codes[centre_id]}-{day.year}-{sequence[key]:07d}",
            "centre_id": centre_id, "category_id": rng.choice(categories),
            "route_id": rng.choice(routes), "title": f"合成纠纷{dispute_id}号：{rng.choice(demo.TITLES['other'] + demo.TITLES['neighbour'] + demo.TITLES['private_lending'])}",
            "description": f"合成数据第{dispute_id}号案件的事实描述，涉及{rng.choice(('邻里', '借款', '工资', '土地', '婚姻'))}问题。",
            "amount": rng.randrange(0, 200000) if rng.random() < 0.5 else None,
            "source": _weighted(rng, SOURCES), "level": _weighted(rng, LEVELS),
            "risk": _weighted(rng, RISKS), "status": status, "outcome": outcome,
            "resolved_level": resolved,
            "registered_at": registered, "accepted_at": accepted, "referred_at": referred,
            "concluded_at": concluded if status in ("concluded", "closed") else None,
            "conclude_seconds": models.conclude_seconds(
                registered, concluded if status in ("concluded", "closed") else None),
            "closed_at": closed if status == "closed" else None,
            "declined_at": registered if status == "declined" else None,
            "accept_due": registered + datetime.timedelta(days=3),
            "handle_due": accepted + datetime.timedelta(days=30) if accepted else None,
            "extension_days": 0, "version": 1})
        if status in ("concluded", "closed"):
            rows[models.Conclusion].append({
                "id": ids[models.Conclusion], "dispute_id": dispute_id, "centre_id": centre_id,
                "concluded_at": concluded, "outcome": outcome, "resolved_level": resolved,
                "conclude_seconds": models.conclude_seconds(registered, concluded)})
            ids[models.Conclusion] += 1
        for role in ("applicant", "respondent"):
            born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(20000))
            rows[models.Party].append({
                "id": ids[models.Party], "dispute_id": dispute_id, "role": role,
                "name": demo.SURNAMES[rng.randrange(len(demo.SURNAMES))] + "某",
                "id_number": complete_id_number(
                    f"{codes[centre_id][:6]}{born:%Y%m%d}{rng.randrange(1000):03d}"),
                "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"})
            ids[models.Party] += 1
        for action, before, after, at in events:
            rows[models.CaseEvent].append({
                "id": ids[models.CaseEvent], "dispute_id": dispute_id, "at": at,
                "action": action, "from_status": before if action != "decline" else "registered",
                "to_status": after})
            ids[models.CaseEvent] += 1
        done += 1
        if len(rows[models.Dispute]) >= BATCH or done == disputes:
            written = len(rows[models.Dispute])
            _flush(session, rows)
            if progress is not None:
                progress(written)
    _fix_sequences(session)
    return done


def _flush(session, rows):
    """Write the buffered rows, parents first, in one transaction."""
    for model in (models.Dispute, models.Party, models.Referral, models.Feedback,
                  models.CaseEvent, models.Conclusion):
        if rows[model]:
            session.execute(insert(model.__table__), rows[model])
            rows[model].clear()
    session.commit()


def _fix_sequences(session):
    """PostgreSQL hands out ids from sequences: move them past the keys written here."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("dispute", "party", "referral", "feedback", "case_event", "conclusion"):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    session.commit()
