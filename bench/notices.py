"""Benchmark: the deadline scan (app/notices.py) at N disputes, and the menu bar's unread count.

    .venv/bin/python bench/notices.py --disputes 1000000                  # SQLite
    .venv/bin/python bench/notices.py --disputes 1000000 --engine postgresql

Uses (and builds on first use) the data set of bench/bench.py and gives every centre an
administrator and the first 300 stationed units a liaison (logins named bench-notice-…). Times
the whole scan (the windows read, the recipients found, the messages written and committed) at
three moments: now, and the two moments when the most open cases and open referrals have a
deadline within a day (the worst case for the data); prints each window's query plan on SQLite.
The messages written are deleted after each run. Budget: a scan over a million cases ≤ 2 s.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the data set and the app of the list benchmark)

PREFIX = "bench-notice-"


def _people(app, session):
    """A centre administrator per centre and a liaison for the first 300 units (made once)."""
    from sqlalchemy import select

    from app import models

    sm = app.appbuilder.sm
    if sm.find_user(PREFIX + "admin-0") is not None:
        return
    admin_role, liaison_role = sm.find_role("centre_admin"), sm.find_role("unit_liaison")
    for n, centre in enumerate(session.scalars(select(models.Centre).order_by(models.Centre.id))):
        user = sm.add_user(f"{PREFIX}admin-{n}", "中心管理员", "", f"a{n}@bench.local",
                           admin_role, password=bench.PASSWORD)
        session.add(models.UserScope(user_id=user.id, region_id=centre.region_id))
    units = session.scalars(select(models.StationedUnit.id).order_by(models.StationedUnit.id)
                            .limit(300)).all()
    for n, unit_id in enumerate(units):
        user = sm.add_user(f"{PREFIX}liaison-{n}", "联络员", "", f"l{n}@bench.local",
                           liaison_role, password=bench.PASSWORD)
        session.add(models.UserScope(user_id=user.id, unit_id=unit_id))
    session.commit()


def _busiest(session):
    """The moments with the most open cases, and the most open referrals, due within a day."""
    import datetime

    from sqlalchemy import String, cast, func, select

    from app import models, workflow

    def peak(column, owing):
        day = func.substr(cast(column, String), 1, 10)
        found = session.execute(select(day, func.count()).where(owing, column.is_not(None))
                                .group_by(day).order_by(func.count().desc()).limit(1)).first()
        return datetime.datetime.fromisoformat(found[0]) if found else None

    return (peak(models.Dispute.handle_due, models.Dispute.status.in_(workflow.IN_HAND)),
            peak(models.Referral.respond_due, models.Referral.status == "sent"))


def _plans(session, now):
    """SQLite's plan for each window query (an index range, never a scan of the table)."""
    from sqlalchemy import select, text

    from app import notices

    config = {"NOTICE_LEAD_HOURS": [24, 2], "NOTICE_REACHED_GRACE_HOURS": 24}
    lead, start, end = notices.windows(now, config["NOTICE_LEAD_HOURS"], 24)[0]
    for kind, model, column, owing in notices._deadlines():
        query = select(model.id, column).where(owing, column > start, column <= end)
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        print(f"  {kind}: " + "; ".join(row[-1] for row in plan))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--disputes", type=int, default=1_000_000)
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = bench.database_url(args.engine, args.disputes)
    bench.ensure_data(url, args.disputes, args.centres)
    app = bench.make_app(url)
    from sqlalchemy import delete, func, select

    from app import models, notices
    from app.extensions import db

    print(f"machine: reference loop {bench.machine_speed():.2f} s (0.40 s on a quiet machine)")
    with app.app_context():
        session = db.session
        _people(app, session)
        cases = session.scalar(select(func.count()).select_from(models.Dispute))
        print(f"{cases} disputes, engine {args.engine}")
        busy_case, busy_referral = _busiest(session)
        moments = [("now", models.now())]
        if busy_case:
            moments.append(("busiest day for cases", busy_case))
        if busy_referral:
            moments.append(("busiest day for referrals", busy_referral))
        if args.engine == "sqlite":
            print("query plans:")
            _plans(session, moments[-1][1])
        for label, now in moments:
            times, written = [], 0
            for _ in range(args.repeat):
                session.execute(delete(models.Notice))
                session.commit()
                started = time.perf_counter()
                written = notices.scan(session, now=now)
                times.append((time.perf_counter() - started) * 1000)
            session.execute(delete(models.Notice))
            session.commit()
            print(f"scan at {label} ({now:%Y-%m-%d %H:%M}): p50 {statistics.median(times):.0f} ms,"
                  f" max {max(times):.0f} ms, {written} messages written")
        user = app.appbuilder.sm.find_user(PREFIX + "admin-0")
        times = []
        for _ in range(200):
            started = time.perf_counter()
            notices.unread(session, user.id)
            times.append((time.perf_counter() - started) * 1000)
        print(f"unread count (menu bar): p50 {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
