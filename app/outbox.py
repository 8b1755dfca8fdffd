"""The outbox: every case event is written, in the event's own transaction, for other systems
to follow. After commit the publisher gives each its place in the feed (`seq`, in the order
the publisher finds them committed), so a subscriber reading the feed by cursor never skips
an event whose transaction committed after a later-numbered one."""

import logging

from flask import current_app, has_app_context
from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from app import clock, models

log = logging.getLogger(__name__)

CURSOR = "events"
BATCH = 1000


def _before_flush(session, flush_context, instances):
    """Each new case event gets its outbox row, flushed with it."""
    for obj in list(session.new):
        if isinstance(obj, models.CaseEvent):
            session.add(models.OutboxEvent(event=obj))
            session.info["zz_outbox"] = True


def _after_commit(session):
    """Events committed: queue their delivery to the webhooks (app.jobs)."""
    if session.info.pop("zz_outbox", False) and has_app_context() and \
            current_app.config.get("QUEUE_WEBHOOKS", True):
        from app import jobs  # not at the top: importing it opens the queue's file or Redis

        jobs.events_committed()


def _after_rollback(session):
    """Nothing was committed."""
    session.info.pop("zz_outbox", None)


def _publish_once(session, batch):
    """One publishing transaction; the number of events given a place."""
    cursor = models.OutboxCursor
    # The write first: it takes the cursor's lock (SQLite's write lock) before anything is read.
    if not session.execute(update(cursor).where(cursor.name == CURSOR)
                           .values(last=cursor.last)).rowcount:
        session.execute(insert(cursor).values(name=CURSOR, last=0))
    last = session.scalar(select(cursor.last).where(cursor.name == CURSOR).with_for_update())
    ids = session.scalars(select(models.OutboxEvent.id).where(models.OutboxEvent.seq.is_(None))
                          .order_by(models.OutboxEvent.id).limit(batch)).all()
    if ids:  # one statement for the batch (an UPDATE by primary key, executed many times)
        session.execute(update(models.OutboxEvent), [
            {"id": key, "seq": number} for number, key in enumerate(ids, start=last + 1)])
        session.execute(update(cursor).where(cursor.name == CURSOR)
                        .values(last=last + len(ids)))
    session.commit()
    return len(ids)


def publish(session, batch=BATCH, attempts=3):
    """Give every committed, unpublished event its place; a busy database is tried again, and
    what cannot be published now is published by the next call (the feed stays in order);
    with nothing to publish it only reads (a feed read takes no write lock)."""
    session.commit()  # a fresh transaction: its reads see everything committed before the lock
    if not session.scalar(select(exists().where(models.OutboxEvent.seq.is_(None)))):
        session.commit()
        return 0
    done = 0
    for _attempt in range(attempts):
        try:
            while True:
                found = _publish_once(session, batch)
                done += found
                if found < batch:
                    return done
        except (OperationalError, IntegrityError):
            session.rollback()
            log.warning("outbox not published this time", exc_info=True)
    return done


def position(session):
    """The place of the newest published event (0 before the first)."""
    return session.scalar(select(models.OutboxCursor.last)
                          .where(models.OutboxCursor.name == CURSOR)) or 0


def feed(session, after, limit, where=None):
    """Published events after a place in the feed, oldest first, within a scope condition on
    their disputes: (rows, the place to read on from)."""
    event, dispute = models.CaseEvent, models.Dispute
    query = (select(models.OutboxEvent.seq, event.id, event.at, event.action, event.from_status,
                    event.to_status, dispute.id, dispute.case_no, dispute.centre_id)
             .join(event, event.id == models.OutboxEvent.event_id)
             .join(dispute, dispute.id == event.dispute_id)
             .where(models.OutboxEvent.seq > after)
             .order_by(models.OutboxEvent.seq).limit(limit))
    if where is not None:
        query = query.where(where)
    rows = [{"seq": seq, "event": key, "at": clock.iso(at), "action": action,
             "from": old, "to": new, "case": case, "case_no": case_no, "centre": centre}
            for seq, key, at, action, old, new, case, case_no, centre in session.execute(query)]
    return rows, rows[-1]["seq"] if rows else after
