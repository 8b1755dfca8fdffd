"""Generation tokens: a cached value is keyed by the token of the data it was made from, and every
committed write to that data replaces the token, so nothing cached outlives what it shows.

A token may have parts (one per centre, say): a write replaces the tokens of the parts it
touches and the whole's ("*"), so a value made from one part's rows outlives writes elsewhere.
Columns a token ignores (sign-in bookkeeping on a login) change nothing.

The token lives in the shared cache (Redis when configured, files under the instance folder
otherwise) without expiry. Every new token is random, including the one made when the cache has
lost it (a restart, an eviction), so no token ever comes back and brings old values with it.
The tokens themselves are declared in app.caches.
"""

import time
import uuid

from flask import current_app, has_request_context, request
from sqlalchemy import inspect

from app.extensions import cache

_WATCHED = {}
WHOLE = "*"


# Values this worker read from the shared cache, by key: (value, until when). A key names the
# tokens its value was made under, so a copy is never stale while its key is asked for; it is
# kept no longer than the shared entry's lifetime. Bounded: emptied when full.
_LOCAL = {}
LOCAL_SIZE = 4096


def remember(key, make, timeout=None):
    """The value cached under a key, made and stored when missing (for `timeout` seconds, or
    the cache's default), read from this worker's copy while it is fresh."""
    now = time.monotonic()
    local = _LOCAL.get(key)
    if local is not None and local[1] > now:
        return local[0]
    found = cache.get(key)
    if found is None:
        found = make()
        cache.set(key, found, timeout=timeout)
    if len(_LOCAL) >= LOCAL_SIZE:
        _LOCAL.clear()
    lifetime = timeout if timeout is not None else current_app.config["CACHE_DEFAULT_TIMEOUT"]
    _LOCAL[key] = (found, now + (lifetime or 300))
    return found


def forget_local():
    """Drop this worker's copies (after the shared cache was emptied)."""
    _LOCAL.clear()


class Generation:
    """A token that changes after every committed write to rows of the given models.

    `parts(item)` names the parts a changed row belongs to (None: it cannot tell, which
    replaces every part's token through the "unknown" part that each part's token includes);
    `ignore` maps a model to the columns whose changes alone are no change.
    """

    def __init__(self, name, models, parts=None, ignore=None):
        self.name = name
        self.models = tuple(models)
        self.parts = parts
        self.ignore = dict(ignore or {})
        _WATCHED[name] = self

    @property
    def key(self):
        """The cache key of the whole's token."""
        return self._key(WHOLE)

    def _key(self, part):
        """The cache key of one part's token."""
        return f"generation:{self.name}" if part == WHOLE else f"generation:{self.name}:{part}"

    def current(self, part=WHOLE):
        """The token now, read once per request (a new one when the cache holds none); a
        part's token includes the "unknown" part's."""
        known = request.environ.setdefault("zongzhi.generations", {}) \
            if has_request_context() else {}
        key = self._key(part)
        if key not in known:
            token = cache.get(key)
            if token is None:
                cache.add(key, uuid.uuid4().hex, timeout=0)
                token = cache.get(key)
            known[key] = token
        if part in (WHOLE, "unknown") or self.parts is None:
            return known[key]
        return f"{known[key]}.{self.current('unknown')}"

    def invalidate(self, part=WHOLE):
        """Replace a token: every value cached under the old one is stale from now."""
        token = uuid.uuid4().hex
        cache.set(self._key(part), token, timeout=0)
        if has_request_context():
            request.environ.setdefault("zongzhi.generations", {})[self._key(part)] = token

    def _changed(self, item):
        """Whether a dirty row changed more than the columns ignored for its model."""
        ignored = next((cols for model, cols in self.ignore.items() if isinstance(item, model)),
                       None)
        if ignored is None:
            return True
        state = inspect(item)
        return any(attr.history.has_changes() for attr in state.attrs
                   if attr.key not in ignored)

    def changes(self, session):
        """The parts the session's pending changes touch (WHOLE alone for a token without
        parts); empty when they touch none of the watched rows."""
        found = set()
        for group, items in (("new", session.new), ("dirty", session.dirty),
                             ("deleted", session.deleted)):
            for item in items:
                if not isinstance(item, self.models) or \
                        (group == "dirty" and not self._changed(item)):
                    continue
                found.add(WHOLE)
                if self.parts is not None:
                    parts = self.parts(session, item)
                    found.update(("unknown",) if parts is None else parts)
        return found


def renew_all():
    """Replace every token: for bulk loads that write past the session (flask seed). Parts'
    tokens are replaced through their "unknown" part."""
    for generation in _WATCHED.values():
        generation.invalidate()
        if generation.parts is not None:
            generation.invalidate("unknown")


def _note_changes(session, flush_context, instances):
    """Remember which tokens (and parts) this transaction's writes change."""
    dirty = session.info.setdefault("generations.dirty", {})
    with session.no_autoflush:
        for name, generation in _WATCHED.items():
            parts = generation.changes(session)
            if parts:
                dirty.setdefault(name, set()).update(parts)


def _after_commit(session):
    """Replace the tokens of what was committed (in one round trip to the shared cache)."""
    fresh = {}
    for name, parts in session.info.pop("generations.dirty", {}).items():
        for part in parts:
            fresh[_WATCHED[name]._key(part)] = uuid.uuid4().hex
    if not fresh:
        return
    cache.set_many(fresh, timeout=0)
    if has_request_context():
        request.environ.setdefault("zongzhi.generations", {}).update(fresh)


def _after_rollback(session):
    """Forget the notes of a transaction that did not happen."""
    session.info.pop("generations.dirty", None)
