"""Benchmark: a document PDF (a notice of acceptance and an agreement) and a 10 MB upload.

    .venv/bin/python bench/documents.py

On a fresh SQLite database with the demo world: the time to draw each document (median of 10,
after one to load the font; budget 0.5 s), and for an upload of a 10 MB PDF through the app the
time and the peak of Python memory allocated while it is handled (tracemalloc; the file is
streamed from the request to the storage, so the peak stays far below its size).
"""

import io
import os
import statistics
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    folder = tempfile.mkdtemp(prefix="zongzhi-doc-bench-")
    url = f"sqlite:///{folder}/bench.db"
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app, documents, models
    from app.extensions import db
    from seeds import demo

    app = create_app(SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, AUTH_RATE_LIMITED=False,
                     FILE_STORAGE_DIR=os.path.join(folder, "files"))
    with app.app_context():
        upgrade()
        from app.cli import sync_roles

        sync_roles()
        demo.load(db.session, app.appbuilder.sm, cases=30)
        case = db.session.scalar(select(models.Dispute).where(
            models.Dispute.title.like("%刘某英%")))
        agreed = next(s for s in case.sessions if s.result == "agreed")
        with app.test_request_context():
            for code, subject in (("accept_notice", None), ("agreement", agreed)):
                kind = documents.KINDS[code]
                documents.render(case, kind, subject, "测试〔2025〕1号", models.now())
                times = []
                for _ in range(10):
                    started = time.perf_counter()
                    documents.render(case, kind, subject, "测试〔2025〕1号", models.now())
                    times.append(time.perf_counter() - started)
                print(f"{code:14} {statistics.median(times) * 1000:6.0f} ms (budget 500 ms)")
        client = app.test_client()
        response = client.post("/login/", data={"username": "staff",
                                                "password": demo.DEMO_PASSWORD})
        assert response.status_code == 302
        content = b"%PDF-1.4\n" + os.urandom(10 * 1024 * 1024 - 64) + b"\n%%EOF\n"
        tracemalloc.start()
        started = time.perf_counter()
        response = client.post(f"/attachments/upload/{case.id}", data={
            "kind": "evidence", "file": (io.BytesIO(content), "大文件.pdf")},
            content_type="multipart/form-data")
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        kept = db.session.scalar(select(models.Attachment).order_by(models.Attachment.id.desc()))
        print(f"upload 10 MB  {seconds * 1000:6.0f} ms, kept {kept.size / 1e6:.1f} MB, "
              f"Python peak while handling {peak / 1e6:.1f} MB (the request body itself is "
              f"{len(content) / 1e6:.1f} MB in the test client's memory before it starts)")


if __name__ == "__main__":
    main()
