"""Webhooks: each subscription is sent the published case events of its client's scope, in
feed order, one POST per event, signed with HMAC-SHA256 over the body and carrying an
idempotency key (subscription and seq: the same event always has the same key, so a
receiver that saw it already can ignore it). A failed delivery is tried again after a
growing wait (2, 4, 8 … seconds, at most ten minutes); nothing is skipped meanwhile."""

import datetime
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request

from flask_babel import gettext
from sqlalchemy import select

from app import choices, clients, models, outbox, scope

log = logging.getLogger(__name__)

BATCH = 50
TIMEOUT_SECONDS = 5
LONGEST_WAIT = 600


def signature(secret, body):
    """The signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url, body, headers):
    """POST a body; the HTTP status, or raises OSError for no answer."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _deliver(session, subscription, now):
    """Send one subscription what it has not acknowledged; the number of events sent."""
    wanted = {a.strip() for a in (subscription.actions or "").split(",") if a.strip()}
    where = scope.condition(models.Dispute, scope.scope_of(subscription.client.user))
    rows, _last = outbox.feed(session, subscription.last_seq, BATCH, where)
    sent = 0
    for row in rows:
        if wanted and row["action"] not in wanted:
            subscription.last_seq = row["seq"]
            continue
        body = json.dumps(row, ensure_ascii=False).encode()
        key = f"{subscription.id}-{row['seq']}"
        try:
            status = _post(subscription.url, body, {
                "Content-Type": "application/json", "Idempotency-Key": key,
                "X-Zongzhi-Event": row["action"], "X-Zongzhi-Signature":
                    signature(subscription.secret, body)})
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as failure:
            error = f"no answer: {failure}"[:300]
        if error is not None:
            subscription.failures += 1
            wait = min(2 ** subscription.failures, LONGEST_WAIT)
            subscription.retry_at = now + datetime.timedelta(seconds=wait)
            subscription.last_error = error
            log.info("webhook %s: %s (again in %s s)", subscription.id, error, wait)
            session.commit()
            return sent
        subscription.last_seq = row["seq"]
        subscription.failures, subscription.retry_at = 0, None
        subscription.last_delivered_at = now
        session.commit()  # acknowledged: never sent again
        sent += 1
    session.commit()  # the place of the events it did not want
    return sent


def deliver_due(session, now=None):
    """Publish, then send every active subscription whose wait is over what it has not had
    (rows locked while sent, skipped by a second worker); the number of events sent."""
    outbox.publish(session)
    now = now or models.now()
    sub = models.WebhookSubscription
    keys = session.scalars(select(sub.id).where(
        sub.active.is_(True), (sub.retry_at.is_(None)) | (sub.retry_at <= now))).all()
    sent = 0
    for key in keys:
        subscription = session.scalar(select(sub).where(sub.id == key)
                                      .with_for_update(skip_locked=True))
        if subscription is None:
            session.rollback()
            continue
        if clients.status(subscription.client, now) != "active" or \
                not subscription.client.user.is_active:
            session.rollback()  # a revoked or expired client is sent nothing
            continue
        sent += _deliver(session, subscription, now)
    session.commit()
    return sent


def subscribe(session, client, url, actions=()):
    """Send a client's URL the case events of its scope from now on: (subscription, the
    signing secret, shown once); ValueError says why not."""
    url = (url or "").strip()
    if not url.startswith(("http://", "https://")) or len(url) > 500 or " " in url:
        raise ValueError(gettext("Give the receiver's address, starting with http:// or "
                                 "https://."))
    unknown = set(actions) - set(choices.EVENT_ACTION.codes)
    if unknown:
        raise ValueError(gettext("Choose the events from the list."))
    outbox.publish(session)
    start = outbox.position(session)
    secret = secrets.token_hex(32)
    subscription = models.WebhookSubscription(client=client, url=url, secret=secret,
                                              actions=",".join(actions) or None, last_seq=start)
    session.add(subscription)
    session.commit()
    return subscription, secret
