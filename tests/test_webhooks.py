"""Webhooks: a subscriber is sent its scope's events in order, signed, each with an
idempotency key; a receiver that fails, then recovers, loses nothing, and an idempotent one
sees nothing twice."""

import datetime
import hashlib
import hmac
import http.server
import json
import threading

from sqlalchemy import select

from app import models, webhooks
from app.extensions import db
from tests.test_workflow import new_case, people  # noqa: F401  (a fixture)


class Receiver(http.server.BaseHTTPRequestHandler):
    """A subscriber's endpoint: answers 500 while `down`, records what it is sent."""

    down = False
    got = []

    def do_POST(self):  # noqa: N802 — the http.server name
        """Record one delivery (or fail it)."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.down:
            self.send_response(500)
        else:
            Receiver.got.append((self.headers["Idempotency-Key"],
                                 self.headers["X-Zongzhi-Signature"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        """Quiet."""


def test_a_receiver_down_then_up_gets_everything_once_in_order(app, people):
    """Events while the receiver is down wait with growing retries; when it is back they come
    in feed order, correctly signed; delivering again sends nothing twice; another county's
    events are not sent."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got, Receiver.down = [], False
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clients", "create", "prefecture", "--role", "leader", "--scope",
                               "652701"]).exit_code == 0
    url = f"http://127.0.0.1:{server.server_port}/hook"
    subscribed = runner.invoke(args=["webhooks", "subscribe", "prefecture", url])
    assert subscribed.exit_code == 0, subscribed.output
    secret = subscribed.output.strip().splitlines()[-1]
    try:
        Receiver.down = True
        mine = [new_case(people["bole"], at=models.now()) for _ in range(3)]
        new_case(people["korla"], code="652801", at=models.now())
        assert webhooks.deliver_due(db.session) == 0
        subscription = db.session.scalar(select(models.WebhookSubscription))
        assert subscription.failures == 1 and subscription.last_error == "HTTP 500"
        first_wait = subscription.retry_at
        # Not tried again before its wait is over; tried again after, still down: a longer wait.
        assert webhooks.deliver_due(db.session) == 0
        assert db.session.get(models.WebhookSubscription, subscription.id).failures == 1
        later = first_wait + datetime.timedelta(seconds=1)
        webhooks.deliver_due(db.session, now=later)
        subscription = db.session.get(models.WebhookSubscription, subscription.id)
        assert subscription.failures == 2 and subscription.retry_at - later \
            > first_wait - models.now() - datetime.timedelta(seconds=2)
        Receiver.down = False
        assert webhooks.deliver_due(db.session, now=subscription.retry_at) == 3
        assert webhooks.deliver_due(db.session, now=subscription.retry_at) == 0
    finally:
        server.shutdown()
    keys = [key for key, _sig, _body in Receiver.got]
    assert len(keys) == len(set(keys)) == 3
    bodies = [json.loads(body) for _key, _sig, body in Receiver.got]
    assert [b["case"] for b in bodies] == [case.id for case in mine]
    assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)
    for _key, sig, body in Receiver.got:
        assert sig == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    subscription = db.session.get(models.WebhookSubscription, subscription.id)
    assert subscription.failures == 0 and subscription.retry_at is None
    assert subscription.last_seq == bodies[-1]["seq"] or subscription.last_seq > bodies[-1]["seq"]


def test_a_subscription_refuses_bad_input(app, people):
    """An address that is not http(s), an unknown action or client: refused, nothing saved."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clients", "create", "c1", "--role", "leader"]).exit_code == 0
    for args in (["c1", "ftp://x"], ["c1", "http://x", "--action", "fly"],
                 ["nobody", "http://x"]):
        assert runner.invoke(args=["webhooks", "subscribe", *args]).exit_code != 0
    db.session.rollback()
    assert db.session.scalar(select(models.WebhookSubscription)) is None


def test_the_job_queue_runs_a_delivery(app, people, monkeypatch):
    """The huey task runs the delivery in the app's context (here in huey's immediate mode)."""
    from app import jobs

    calls = []
    monkeypatch.setattr(webhooks, "deliver_due", lambda session: calls.append(session) or 0)
    monkeypatch.setattr(jobs, "_APP", [app])
    assert jobs.huey.immediate  # the suite's setting (tests/conftest.py)
    jobs.deliver_webhooks()
    assert len(calls) == 1


def test_a_revoked_client_is_sent_nothing(app, people):
    """Revoking a client stops its webhooks at once: nothing is sent, nothing acknowledged."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got, Receiver.down = [], False
    runner = app.test_cli_runner()
    assert runner.invoke(args=["clients", "create", "gone", "--role", "leader", "--scope",
                               "652701"]).exit_code == 0
    url = f"http://127.0.0.1:{server.server_port}/hook"
    assert runner.invoke(args=["webhooks", "subscribe", "gone", url]).exit_code == 0
    assert runner.invoke(args=["clients", "revoke", "gone"]).exit_code == 0
    try:
        new_case(people["bole"], at=models.now())
        assert webhooks.deliver_due(db.session) == 0
    finally:
        server.shutdown()
    assert Receiver.got == []
