"""Benchmark: the cost of a workflow step (accept + commit) at N disputes, and steps per second
with 8 clients stepping different cases of one centre through gunicorn.

    .venv/bin/python bench/steps.py --disputes 1000000                  # SQLite
    .venv/bin/python bench/steps.py --disputes 1000000 --engine postgresql --gunicorn

Uses (and builds on first use) the data set of bench/bench.py. In-process: registers --repeat
cases in the largest synthetic centre, then times accept + commit of each (p50, p90, SQL
statements). With --gunicorn: registers 8 × (5 + --per-client) cases in that centre, starts
gunicorn (4 workers), and 8 clients each accept theirs through the JSON API at once, the first 5
each untimed (every worker warmed on the path measured); prints steps per
second, errors, and the rollup check of that centre (0 differences expected). The cases made
are deleted afterwards (through the session, so the rollups follow).
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the data set, the app and the login of the list benchmark)

TITLE = "性能测试：受理步骤"
WARM_UP = 5  # untimed steps per client through gunicorn before the timed ones


def _centre(session):
    """The centre with the most cases (a busy month: the worst case for a rollup)."""
    from sqlalchemy import func, select

    from app import models

    return session.scalar(select(models.Dispute.centre_id).group_by(models.Dispute.centre_id)
                          .order_by(func.count().desc()).limit(1))


def _register(session, centre_id, count):
    """Register `count` cases in the centre through the workflow; their ids."""
    from sqlalchemy import select

    from app import models, workflow

    category = session.scalar(select(models.Category.id).limit(1))
    cases = []
    for _ in range(count):
        case = models.Dispute(centre_id=centre_id, category_id=category, title=TITLE,
                              description="性能测试", source="window", level="county", risk="low")
        session.add(case)
        workflow.register(session, case, None)
        cases.append(case)
    session.commit()
    return [case.id for case in cases]


def _clean_up(session):
    """Delete the cases this benchmark made (the rollups follow through the session)."""
    from sqlalchemy import select

    from app import models

    for case in session.scalars(select(models.Dispute).where(models.Dispute.title == TITLE)):
        session.delete(case)
    session.commit()


def in_process(app, repeat):
    """accept + commit, timed case by case; registration timed too."""
    from sqlalchemy import event

    from app import models, workflow
    from app.extensions import db

    with app.app_context():
        session = db.session
        actor = app.appbuilder.sm.find_user(bench.USER)
        centre_id = _centre(session)
        counted = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: counted.append(1))
        registered, accepted, statements = [], [], []
        for _ in range(repeat):
            started = time.perf_counter()
            case_id = _register(session, centre_id, 1)[0]
            registered.append((time.perf_counter() - started) * 1000)
            case = session.get(models.Dispute, case_id)
            counted.clear()
            started = time.perf_counter()
            workflow.accept(session, case, actor, version=case.version)
            session.commit()
            accepted.append((time.perf_counter() - started) * 1000)
            statements.append(len(counted))
        _clean_up(session)
    return registered, accepted, statements


def _quantile(values, share):
    """The value at a share of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(share * len(ordered))) - 1)]


def under_gunicorn(app, url, per_client, clients=8, workers=4):
    """Steps per second with `clients` clients accepting different cases of one centre."""
    import requests

    from app import rollup
    from app.extensions import db

    with app.app_context():
        centre_id = _centre(db.session)
        ids = _register(db.session, centre_id, (per_client + WARM_UP) * clients)
    warm, ids = ids[:WARM_UP * clients], ids[WARM_UP * clients:]
    port = 19000 + os.getpid() % 1000
    env = {**os.environ, "DATABASE_URL": url, "AUTH_RATE_LIMITED": "0",
           **bench.cache_settings(url)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null",
         "run:app"], cwd=bench.ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/health", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        sessions = []
        for _ in range(clients):
            http = requests.Session()
            page = http.get(base + "/login/").text
            token = bench.re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            http.post(base + "/login/", data={"username": bench.USER, "password": bench.PASSWORD,
                                              "csrf_token": token}, allow_redirects=False)
            http.headers["X-CSRFToken"] = token
            sessions.append(http)
        statuses, lock = [], threading.Lock()

        def work(index, cases):
            mine = cases[index::clients]
            for case_id in mine:
                answer = sessions[index].post(f"{base}/api/v1/cases/{case_id}/steps/accept",
                                              json={"version": 1}, timeout=60)
                with lock:
                    statuses.append(answer.status_code)

        def all_at_once(cases):
            threads = [threading.Thread(target=work, args=(i, cases)) for i in range(clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return time.perf_counter() - started

        # Every worker warmed on the measured path (its first steps fill SQLAlchemy's and
        # Jinja's caches), untimed; then the timed round.
        all_at_once(warm)
        statuses.clear()
        elapsed = all_at_once(ids)
    finally:
        server.terminate()
        server.wait(timeout=30)
    with app.app_context():
        db.session.rollback()
        differences = rollup.check(db.session, [centre_id])
        _clean_up(db.session)
    errors = sum(1 for status in statuses if status != 200)
    return len(statuses) / elapsed, errors, len(differences)


def main():
    """Parse arguments, build or reuse the data, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--disputes", type=int, default=1_000_000)
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--gunicorn", action="store_true")
    parser.add_argument("--per-client", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()
    url = bench.database_url(args.engine, args.disputes)
    bench.ensure_data(url, args.disputes, args.centres)
    app = bench.make_app(url)
    print(f"\nmachine speed: {bench.machine_speed():.2f} s for the reference loop (lower is faster)")
    registered, accepted, statements = in_process(app, args.repeat)
    print(f"\n{args.engine}, {args.disputes} disputes, {args.repeat} cases, in-process")
    print(f"register + commit: p50 {statistics.median(registered):.1f} ms, "
          f"p90 {_quantile(registered, 0.9):.1f} ms")
    print(f"accept + commit:   p50 {statistics.median(accepted):.1f} ms, "
          f"p90 {_quantile(accepted, 0.9):.1f} ms, min {min(accepted):.1f} ms, "
          f"{statistics.median(statements):.0f} SQL statements")
    if args.gunicorn:
        rate, errors, drift = under_gunicorn(app, url, args.per_client, workers=args.workers)
        print(f"\ngunicorn, {args.workers} workers, 8 clients accepting cases of one centre: "
              f"{rate:.0f} steps/s, {errors} errors, rollup differences afterwards: {drift}")
    print(f"\nmachine speed: {bench.machine_speed():.2f} s for the reference loop (lower is faster)")


if __name__ == "__main__":
    main()
