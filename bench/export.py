"""Benchmark: the case register exported from the list (Excel and CSV) at N cases.

    .venv/bin/python bench/export.py --disputes 100000          # SQLite, builds or reuses data
    .venv/bin/python bench/export.py --disputes 100000 --engine postgresql

Each export runs in a fresh child process (as a worker would), logged in as the benchmark
administrator; prints the seconds it took, the rows in the file, its size and the child's peak
resident memory, against the budget (100,000 cases in at most 20 s and 150 MB).
"""

import argparse
import multiprocessing
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the data set and the app are the list benchmark's)


def _export(url, fmt, queue):
    """One export in this (child) process: (seconds, bytes, rows, peak RSS in MB)."""
    app = bench.make_app(url)
    app.config["EXPORT_MAX_ROWS"] = 10_000_000
    client = app.test_client()
    response = client.post("/login/", data={"username": bench.USER, "password": bench.PASSWORD})
    assert response.status_code == 302, "benchmark login failed"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.get(f"/disputemodelview/export-rows/{fmt}/", buffered=False)
    size = sum(len(chunk) for chunk in response.response)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, size, peak, base))


def _rows(url):
    """How many cases the data set holds."""
    from sqlalchemy import create_engine, text

    with create_engine(url).connect() as connection:
        return connection.execute(text("SELECT count(*) FROM dispute")).scalar()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    url = bench.database_url(args.engine, args.disputes)
    bench.ensure_data(url, args.disputes, args.centres)
    print(f"{_rows(url):,} cases on {args.engine}")
    context = multiprocessing.get_context("spawn")
    for fmt in ("xlsx", "csv"):
        queue = context.Queue()
        child = context.Process(target=_export, args=(url, fmt, queue))
        child.start()
        seconds, size, peak, base = queue.get()
        child.join()
        print(f"{fmt:5} {seconds:6.1f} s  {size / 1e6:6.1f} MB file  peak RSS {peak:6.0f} MB "
              f"(app loaded: {base:.0f} MB)  budget: 20 s, 150 MB")


if __name__ == "__main__":
    main()
