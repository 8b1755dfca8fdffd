"""Every hook on SQLAlchemy sessions and engines, installed in one place and in this order.

What a write triggers, in the order it happens:

- a transaction begins (engine ``begin``): on SQLite, ``transactions`` issues BEGIN itself
  (IMMEDIATE when the transaction will write), so two writers queue instead of failing.
- before each flush: ``outbox`` adds an outbox row for every new case event (so the hooks
  after it see the row too); ``notices`` adds the messages a returned referral or a poor
  rating calls for; ``generations`` notes which watched models change (for the caches);
  ``rollup`` reads and locks the counted rows as they were, the first time the transaction
  touches them; ``duties`` refuses a login holding incompatible duties; ``audit`` notes the
  changes it records.
- after each flush: ``transactions`` marks the transaction as one that wrote; ``audit`` writes
  its rows in the same transaction.
- before the commit: ``rollup`` adds the difference the transaction made to the rollups (one
  upsert per table), so figures and data commit together.
- after the commit: ``transactions`` forgets the transaction; ``generations`` replaces the
  generation tokens of the changed models, emptying the caches that count them; ``outbox``
  queues the delivery of committed case events to the webhooks (app.jobs).
- after a rollback: ``transactions`` and ``generations`` forget what they noted; when any
  transaction ends, ``rollup`` drops its notes.

Each hook listens on the Session class (every session, the command line's and the tests'
included) and is installed once, however many apps are built.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import audit, duties, generations, notices, outbox, rollup, transactions

HOOKS = (
    (Engine, "begin", transactions._begin),
    (Session, "before_flush", outbox._before_flush),
    (Session, "before_flush", notices._before_flush),
    (Session, "before_flush", generations._note_changes),
    (Session, "before_flush", rollup._before_flush),
    (Session, "before_flush", duties._check),
    (Session, "before_flush", audit._before_flush),
    (Session, "after_flush", transactions._note_write),
    (Session, "after_flush", audit._after_flush),
    (Session, "before_commit", rollup._before_commit),
    (Session, "after_commit", transactions._forget),
    (Session, "after_commit", generations._after_commit),
    (Session, "after_commit", outbox._after_commit),
    (Session, "after_rollback", transactions._forget),
    (Session, "after_rollback", generations._after_rollback),
    (Session, "after_rollback", outbox._after_rollback),
    (Session, "after_transaction_end", rollup._forget),
)


def install():
    """Listen with every hook, in the order above (once per process)."""
    for target, name, hook in HOOKS:
        if not event.contains(target, name, hook):
            event.listen(target, name, hook)
