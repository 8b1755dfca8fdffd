"""Generation tokens: a cached value is keyed by the token of the data it was made from, and every
committed write to that data replaces the token, so nothing cached outlives what it shows.

The token lives in the shared cache (Redis when configured, files under the instance folder
otherwise) without expiry. Every new token is random, including the one made when the cache has
lost it (a restart, an eviction), so no token ever comes back and brings old values with it.
"""

import uuid

from flask import has_request_context, request

from app.extensions import cache

_WATCHED = {}


def remember(key, make):
    """The value cached under a key, made and stored when missing (for the cache's timeout)."""
    found = cache.get(key)
    if found is None:
        found = make()
        cache.set(key, found)
    return found


class Generation:
    """A token that changes after every committed write to rows of the given models."""

    def __init__(self, name, models):
        self.name = name
        self.models = tuple(models)
        self.key = f"generation:{name}"
        _WATCHED[name] = self

    def current(self):
        """The token now, read once per request (a new one when the cache holds none)."""
        known = request.environ.setdefault("zongzhi.generations", {}) \
            if has_request_context() else {}
        if self.name not in known:
            token = cache.get(self.key)
            if token is None:
                cache.add(self.key, uuid.uuid4().hex, timeout=0)
                token = cache.get(self.key)
            known[self.name] = token
        return known[self.name]

    def invalidate(self):
        """Replace the token: every value cached under the old one is stale from now."""
        token = uuid.uuid4().hex
        cache.set(self.key, token, timeout=0)
        if has_request_context():
            request.environ.setdefault("zongzhi.generations", {})[self.name] = token

    def touched_by(self, session):
        """Whether the session's pending changes include rows of the watched models."""
        return any(isinstance(item, self.models)
                   for item in (*session.new, *session.dirty, *session.deleted))


def renew_all():
    """Replace every token: for bulk loads that write past the session (flask seed)."""
    for generation in _WATCHED.values():
        generation.invalidate()


def _note_changes(session, flush_context, instances):
    """Remember which generations this transaction's writes change."""
    dirty = session.info.setdefault("generations.dirty", set())
    for name, generation in _WATCHED.items():
        if name not in dirty and generation.touched_by(session):
            dirty.add(name)


def _after_commit(session):
    """Replace the tokens of what was committed."""
    for name in session.info.pop("generations.dirty", ()):
        _WATCHED[name].invalidate()


def _after_rollback(session):
    """Forget the notes of a transaction that did not happen."""
    session.info.pop("generations.dirty", None)
