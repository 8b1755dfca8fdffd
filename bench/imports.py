"""Benchmark: previewing and writing an import of 10,000 historic cases (xlsx) beside N cases.

    .venv/bin/python bench/imports.py --disputes 100000       # SQLite, builds or reuses data

Generates a case file of 10,000 rows for the data set's centres, then times reading it, the
preview (every row checked against the database) and writing it in one transaction with its
commit (into a copy of the SQLite data set, so the data set stays as it was; on PostgreSQL the
transaction is rolled back instead of committed); budgets: preview ≤ 15 s, import ≤ 30 s.
"""

import argparse
import datetime
import io
import os
import random
import shutil
import sys
import tempfile
import time

import xlsxwriter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the data set and the app are the list benchmark's)


def case_file(centres, categories, rows, seed=3):
    """An xlsx file of new historic cases with the import's headers."""
    from app import importing

    rng = random.Random(seed)
    kind = importing.KINDS["case"]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet()
    for index, f in enumerate(kind.fields):
        sheet.write_string(0, index, str(f.header))
    start = datetime.datetime(2022, 1, 1, 9)
    for row in range(1, rows + 1):
        registered = start + datetime.timedelta(hours=rng.randrange(0, 20000))
        concluded = registered + datetime.timedelta(days=rng.randrange(1, 40))
        values = {"case_no": f"HIST-{seed}-{row:06d}", "centre": rng.choice(centres),
                  "category": rng.choice(categories), "title": f"历史案件{row}号",
                  "description": "历史台账导入", "amount": str(rng.randrange(0, 90000)),
                  "source": "窗口来访", "level": "村级",
                  "registered_at": f"{registered:%Y-%m-%d %H:%M}", "accepted_at": "",
                  "concluded_at": f"{concluded:%Y-%m-%d %H:%M}", "outcome": "调解成功",
                  "resolved_level": "村级", "applicant_name": f"申请人{row}",
                  "applicant_id_number": "", "applicant_phone": "",
                  "respondent_name": f"被申请人{row}", "respondent_id_number": "",
                  "respondent_phone": ""}
        for index, f in enumerate(kind.fields):
            sheet.write_string(row, index, values[f.name])
    book.close()
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    url = bench.database_url(args.engine, args.disputes)
    bench.ensure_data(url, args.disputes, args.centres)
    copy = None
    if url.startswith("sqlite:///"):

        copy = os.path.join(tempfile.mkdtemp(), "import-bench.db")
        source = url[len("sqlite:///"):]
        shutil.copyfile(source, copy)
        if os.path.exists(source + "-wal"):  # what is not yet checkpointed into the file
            shutil.copyfile(source + "-wal", copy + "-wal")
        url = f"sqlite:///{copy}"
    app = bench.make_app(url)
    from sqlalchemy import select

    from app import importing, models, scope
    from app.extensions import db

    with app.test_request_context():
        centres = list(db.session.scalars(select(models.Centre.short_name)))
        categories = list(db.session.scalars(select(models.Category.name)))
        content = case_file(centres, categories, args.rows)
        kind = importing.KINDS["case"]
        started = time.perf_counter()
        table = importing.read_table("cases.xlsx", content, kind, args.rows)
        read = time.perf_counter() - started
        context = importing.Context(db.session, scope.WHOLE, None, "cases.xlsx")
        started = time.perf_counter()
        results = importing.preview(context, kind, table)
        previewed = time.perf_counter() - started
        counts = importing.counts(results)
        started = time.perf_counter()
        importing.write(context, kind, results)
        if copy is not None:
            db.session.commit()
        else:
            db.session.flush()
            db.session.rollback()
        written = time.perf_counter() - started
    print(f"{args.rows:,} rows ({len(content) / 1e6:.1f} MB) beside {args.disputes:,} cases on "
          f"{args.engine}: {counts}")
    print(f"read {read:.1f} s, preview {read + previewed:.1f} s (budget 15 s), "
          f"write{' and commit' if copy else ''} {written:.1f} s, "
          f"import {read + previewed + written:.1f} s (budget 30 s)")
    if copy is not None:
        shutil.rmtree(os.path.dirname(copy))


if __name__ == "__main__":
    main()
