"""Benchmark: lists, search, the case page, the dashboard and the PDF statistics at N disputes.

    .venv/bin/python bench/bench.py --disputes 1000000            # SQLite, builds or reuses data
    .venv/bin/python bench/bench.py --disputes 1000000 --engine postgresql
    .venv/bin/python bench/bench.py --disputes 10000 --gunicorn   # also 2 workers, 8 connections

Prints p50 / p95 in milliseconds and SQL statements per request; then the region dashboard of
last month cold (cache cleared before each request) and cached, the monthly region PDF, a PDF
with a case register of about 500 cases, and this process's resident memory. The data set is generated once
(`flask seed synthetic`) into bench/data/ (SQLite) or the database `zongzhi_bench` (PostgreSQL).
"""

import argparse
import datetime
import gc
import hashlib
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
USER, PASSWORD = "bench", "Bench#Zongzhi2025"
WARM_UP = 12


def database_url(engine, disputes):
    """Where the benchmark's data lives."""
    if engine == "postgresql":
        return os.environ.get("BENCH_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/zongzhi_bench")
    return f"sqlite:///{ROOT}/bench/data/bench-{disputes}.db"


def ensure_data(url, disputes, centres):
    """Build the data set unless it is already there with enough disputes."""
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql"):
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = url.rsplit("/", 1)[1]
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    os.makedirs(os.path.join(ROOT, "bench", "data"), exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "run.py"}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM dispute")).scalar()
    if have < disputes:
        print(f"generating {disputes - have} disputes …", flush=True)
        subprocess.run(flask + ["seed", "synthetic", "--centres", str(centres), "--disputes",
                                str(disputes - have)], cwd=ROOT, env=env, check=True)
    subprocess.run(flask + ["roles", "sync"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def cache_settings(url):
    """A cache of the benchmark's own (files beside the data, or a Redis prefix when REDIS_URL is
    set), so the app's own cache and another data set's are never read."""
    name = "bench-" + hashlib.sha1(url.encode()).hexdigest()[:8]
    return {"CACHE_DIR": os.path.join(ROOT, "bench", "data", "cache-" + name),
            "CACHE_KEY_PREFIX": name + ":"}


def make_app(url):
    """The app on the benchmark data, with a benchmark admin account; its cache starts empty."""
    from app import create_app
    from app.extensions import cache, db

    app = create_app(SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, AUTH_RATE_LIMITED=False,
                     RATELIMIT_ENABLED=False, **cache_settings(url))
    with app.app_context():
        cache.clear()
        sm = app.appbuilder.sm
        if sm.find_user(USER) is None:
            sm.add_user(USER, "性能测试", "", "bench@zongzhi.local", sm.find_role("admin"),
                        password=PASSWORD)
            db.session.commit()
    return app


def scenarios(app):
    """The requests measured, named."""
    from sqlalchemy import func, select

    from app import models
    from app.extensions import db

    with app.app_context():
        case_id = db.session.scalar(select(func.max(models.Dispute.id)))
        title_word = "借款逾期"  # in about one title in eight
        # The cursor of the 1000th newest case: the API's 41st page of 25.
        deep = db.session.execute(select(models.Dispute.registered_at, models.Dispute.id)
                                  .order_by(models.Dispute.registered_at.desc(),
                                            models.Dispute.id.desc())
                                  .offset(999).limit(1)).first()
        from app.screens.api import _cursor_text

        cursor = _cursor_text(*deep)
    return [
        ("list", "/disputemodelview/list/"),
        ("page 100", "/disputemodelview/list/?page_DisputeModelView=99"),
        ("filtered", "/disputemodelview/list/?_flt_0_status=referred"),
        ("sorted", "/disputemodelview/list/?_oc_DisputeModelView=case_no&_od_DisputeModelView=asc"),
        ("search common", "/disputemodelview/list/?_flt_0_title=" + urllib.parse.quote(title_word)),
        ("search rare", "/disputemodelview/list/?_flt_0_title="
         + urllib.parse.quote(f"纠纷{case_id - 7}号")),
        ("case page", f"/disputemodelview/show/{case_id}"),
        ("api list", "/api/v1/cases?limit=25"),
        ("api page 41", f"/api/v1/cases?limit=25&after={cursor}"),
        ("api filtered", "/api/v1/cases?limit=25&status=referred"),
        ("api case", f"/api/v1/cases/{case_id}"),
    ]


def in_process(app, repeat):
    """Time each scenario through the test client; count SQL statements."""
    from sqlalchemy import event

    from app.extensions import db

    client = app.test_client()
    response = client.post("/login/", data={"username": USER, "password": PASSWORD})
    assert response.status_code == 302, "benchmark login failed"
    counted = []
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *a: counted.append(1))
    rows = []
    for name, url in scenarios(app):
        # Warm up as a running server is: caches filled, statements prepared (psycopg prepares
        # a statement on its fifth use on a connection, PostgreSQL plans it generically after
        # five more).
        for _ in range(WARM_UP):
            client.get(url)
        times, statements = [], []
        for _ in range(repeat):
            counted.clear()
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            statements.append(len(counted))
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        rows.append((name, statistics.median(times), times[int(len(times) * 0.95) - 1],
                     statistics.median(statements)))
    return rows


def resident_mb():
    """This process's resident memory now, in MB (what one gunicorn worker would hold)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def register_period(app, target=500):
    """An area and day range whose case register holds about `target` cases."""
    from sqlalchemy import func, select

    from app import models, stats
    from app.extensions import db

    with app.app_context():
        last = db.session.scalar(select(func.max(models.Dispute.registered_at))).date()
        prefecture = db.session.scalar(select(models.Region).where(
            models.Region.level == "prefecture").order_by(models.Region.id))
        area = stats.Area(prefecture.id, prefecture.name, prefecture.path, prefecture.level)
        best = None
        for days in range(1, 60):
            period = stats.Period("range", last - datetime.timedelta(days=days + 7),
                                  last - datetime.timedelta(days=7))
            where = stats.in_period(models.Dispute.registered_at, period)
            count = db.session.scalar(select(func.count()).select_from(models.Dispute).where(
                where, models.Dispute.centre_id.in_(
                    select(models.Centre.id).join(models.Region).where(
                        models.Region.path.startswith(area.path)))))
            if best is None or abs(count - target) < abs(best[2] - target):
                best = (area, period, count)
            if count >= target:
                break
        return best


def measure_statistics(app, repeat):
    """The dashboard (cold: cache cleared; cached), and the PDF statistics, for the region."""
    from app import reports, stats
    from app.extensions import cache, db

    client = app.test_client()
    response = client.post("/login/", data={"username": USER, "password": PASSWORD})
    assert response.status_code == 302, "benchmark login failed"
    with app.app_context():
        month = stats.Period.month_of(datetime.date.today()).previous()
    url = f"/dashboard/?period={month.code}"
    rows = []
    for name, clear in (("dashboard cold", True), ("dashboard cached", False)):
        times = []
        client.get(url)
        for _ in range(repeat):
            if clear:
                with app.app_context():
                    cache.clear()
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        times.sort()
        rows.append((f"{name} ({month.code})", statistics.median(times),
                     times[int(len(times) * 0.95) - 1]))
    pdf_times = []
    for _ in range(max(3, repeat // 10)):
        with app.app_context():
            cache.clear()
        started = time.perf_counter()
        response = client.get(f"/dashboard/pdf?period={month.code}")
        pdf_times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
    pdf_times.sort()
    rows.append((f"PDF region month ({month.code})", statistics.median(pdf_times), pdf_times[-1]))
    area, period, count = register_period(app)
    register_times = []
    for _ in range(3):
        with app.app_context(), app.test_request_context():
            started = time.perf_counter()
            reports.statistics_pdf(db.session, area, period, register=True)
            register_times.append((time.perf_counter() - started) * 1000)
    register_times.sort()
    rows.append((f"PDF + register of {count} cases", statistics.median(register_times),
                 register_times[-1]))
    return rows, resident_mb()


def under_gunicorn(url, requests, connections=8, workers=2):
    """Throughput and latency of the list page through gunicorn on 127.0.0.1."""
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "DATABASE_URL": url, "AUTH_RATE_LIMITED": "0", **cache_settings(url)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null",
         "run:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/login/")
                break
            except OSError:
                time.sleep(0.2)
        cookie = _login(port)
        latencies, lock = [], threading.Lock()

        def worker(count):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(count):
                started = time.perf_counter()
                conn.request("GET", "/disputemodelview/list/", headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)

        # Warm up as in-process: every worker's caches filled and statements prepared.
        warm = [threading.Thread(target=worker, args=(WARM_UP * 2,)) for _ in range(connections)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        latencies.clear()
        threads = [threading.Thread(target=worker, args=(requests // connections,))
                   for _ in range(connections)]
        # This process holds the in-process measurements' heap: keep its collector from pausing
        # the client threads mid-run (the server's latency is what is measured).
        gc.collect()
        gc.freeze()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        latencies.sort()
        # Then every worker serves the dashboard and the monthly PDF, and we read its memory.
        month = datetime.date.today().replace(day=1) - datetime.timedelta(days=1)
        for path in (f"/dashboard/?period={month:%Y-%m}", f"/dashboard/pdf?period={month:%Y-%m}"):
            for _ in range(workers * 2):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", path, headers={"Cookie": cookie})
                conn.getresponse().read()
        return len(latencies) / elapsed, statistics.median(latencies), \
            latencies[int(len(latencies) * 0.99) - 1], _worker_rss(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _worker_rss(master):
    """Resident memory (MB) of each gunicorn worker of a master process."""
    sizes = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sizes


def _login(port):
    """Sign in through the real form (with its CSRF token); the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": USER, "password": PASSWORD, "csrf_token": token})
    conn.request("POST", "/login/", body, {"Content-Type": "application/x-www-form-urlencoded",
                                           "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie").split(";")[0]


def machine_speed():
    """Seconds for a fixed pure-Python loop: this VM's speed drifts by a third between runs,
    so figures from different runs compare only next to it."""
    started = time.perf_counter()
    sum(i * i for i in range(10**7))
    return time.perf_counter() - started


def main():
    """Parse arguments, build or reuse the data, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--disputes", type=int, default=1_000_000)
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--gunicorn", action="store_true", help="also measure under gunicorn")
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--no-stats", action="store_true",
                        help="skip the dashboard and PDF measurements")
    args = parser.parse_args()
    url = database_url(args.engine, args.disputes)
    ensure_data(url, args.disputes, args.centres)
    app = make_app(url)
    print(f"\nmachine speed: {machine_speed():.2f} s for the reference loop (lower is faster)")
    shared = "Redis" if os.environ.get("REDIS_URL") else "files"
    print(f"\n{args.engine}, {args.disputes} disputes, {args.repeat} requests each, in-process, "
          f"cache in {shared}")
    print(f"{'scenario':<14}{'p50 ms':>9}{'p95 ms':>9}{'SQL':>6}")
    for name, p50, p95, sql in in_process(app, args.repeat):
        print(f"{name:<14}{p50:>9.1f}{p95:>9.1f}{sql:>6.0f}")
    if not args.no_stats:
        rows, rss = measure_statistics(app, args.repeat)
        print(f"\n{'statistics':<34}{'p50 ms':>9}{'max/p95':>9}")
        for name, p50, p95 in rows:
            print(f"{name:<34}{p50:>9.1f}{p95:>9.1f}")
        print(f"resident memory of this process after the statistics: {rss:.0f} MB")
    if args.gunicorn:
        rate, p50, p99, rss = under_gunicorn(url, args.requests)
        print(f"\ngunicorn, 2 workers, 8 connections, list page: {rate:.0f} req/s, "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        print("resident memory of each worker after the list, the dashboard and the PDF: "
              + ", ".join(f"{size:.0f} MB" for size in rss))
    print(f"\nmachine speed: {machine_speed():.2f} s for the reference loop (lower is faster)")


if __name__ == "__main__":
    main()
