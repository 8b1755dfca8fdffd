"""What the app keeps in the shared cache, under which token, for how long, and what empties it.

Every cached value is keyed by generation tokens (app.generations) of the data it was made
from; a committed write to that data replaces the token. Each kind of value also has its own
lifetime setting (seconds), after which it is made again even if nothing changed:

- menus (MENU_CACHE_SECONDS): the menu bar, per set of roles and language, under `access`;
- scopes (SCOPE_CACHE_SECONDS): each login's area of responsibility, under `access`;
- list counts (COUNT_CACHE_SECONDS): per login, list and filters, under `cases` (of the one
  centre a login's scope covers, or of all) or `reference`, and `access`; a filter that reads
  the clock is never cached;
- statistics (STATS_CACHE_SECONDS): the report behind the dashboard and the PDF, per area,
  period, day and language, under `stats`; the figures that move with the clock (overdue now,
  referral timeliness) are computed on every request;
- search probes (SEARCH_PROBE_SECONDS): whether a search term is common among the newest cases;
- search forms: per list screen and language (no data in them: nothing to empty);
- unread messages (COUNT_CACHE_SECONDS): per person, under `notices` (one token per person).

Tokens: `access` watches logins, roles, permissions, scopes, regions, centres and units (a
sign-in's bookkeeping, last login and login counts, is not a change); `cases` the cases and
everything hanging on them, one token per centre; `reference` every other row of the domain;
`stats` the rows the statistics count; `notices` a person's messages.
"""

import hashlib
import json

from flask import current_app, has_request_context
from flask import session as browser
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import (Group, Permission, PermissionView, Role, User,
                                                   ViewMenu)
from flask_babel import get_locale
from sqlalchemy import inspect, select

from app import models, notices, scope, search, stats
from app.extensions import db
from app.generations import Generation, remember

# FAB writes these on every sign-in (and a failed one): they decide nothing cached.
SIGN_IN_COLUMNS = {"last_login", "login_count", "fail_login_count", "changed_on"}
CASE_TREE = (models.Dispute, models.Party, models.Referral, models.MediationSession,
             models.Feedback, models.Conclusion, models.CaseEvent, models.CaseDocument,
             models.Attachment)
# Bookkeeping no cached value is made from (messages have a token of their own, per person).
UNCOUNTED = (models.LoginSession, models.AuditLog, models.AccountState, models.Heartbeat,
             models.Notice, models.NoticeDelivery, models.NoticePreference, models.JobRun,
             models.OutboxEvent, models.OutboxCursor, models.ApiCall,
             models.WebhookSubscription)
COUNTED = (models.Dispute, models.Referral, models.Feedback, models.ServiceRecord,
           models.Centre, models.StationedUnit, models.Category, models.Department,
           models.Region)


def _centres_of(session, item):
    """The centres a changed row of the case tree belongs to (before and after a move), or
    None when it cannot tell; read from what the session holds, without loading anything."""
    state = inspect(item)
    if isinstance(item, models.Dispute):
        history = state.attrs.centre_id.history
        found = {*history.added, *history.unchanged, *history.deleted}
        centre = state.dict.get("centre")
        if centre is not None:
            found.add(centre.id)
        found.discard(None)
        return found or None
    case = state.dict.get("dispute")
    if case is None and item.dispute_id is not None:
        case = session.get(models.Dispute, item.dispute_id)  # the identity map, as a rule
    return _centres_of(session, case) if case is not None else None


access = Generation("access", (User, Role, Group, Permission, PermissionView, ViewMenu,
                               models.UserScope, models.Region, models.Centre,
                               models.StationedUnit), ignore={User: SIGN_IN_COLUMNS})
cases = Generation("cases", CASE_TREE, parts=_centres_of)
reference = Generation("reference", [
    mapper.class_ for mapper in Model.registry.mappers
    if mapper.class_.__module__ == models.__name__
    and mapper.class_ not in (*CASE_TREE, *UNCOUNTED)])
statistics = Generation("stats", COUNTED)
messages = Generation("notices", (models.Notice,), parts=lambda session, item: {item.user_id})


def _seconds(name):
    """A cache lifetime setting."""
    return current_app.config[name]


# Scopes ---------------------------------------------------------------------------------------

def cached_scope_of(user):
    """scope.scope_of(user), from the shared cache while nothing it depends on has changed."""
    return remember(f"scope:{access.current()}:{user.id}", lambda: scope.scope_of(user),
                    _seconds("SCOPE_CACHE_SECONDS"))


def _centre_map():
    """Which centre a region path or a stationed unit is (for per-centre count tokens)."""
    def make():
        rows = db.session.execute(
            select(models.Centre.id, models.Region.path, models.StationedUnit.id)
            .join(models.Region, models.Centre.region_id == models.Region.id)
            .outerjoin(models.StationedUnit, models.StationedUnit.centre_id == models.Centre.id))
        paths, units = {}, {}
        for centre, path, unit in rows:
            paths[path] = centre
            if unit is not None:
                units[unit] = centre
        return {"paths": paths, "units": units}

    return remember(f"centres:{access.current()}", make, _seconds("SCOPE_CACHE_SECONDS"))


def centre_of(user_scope):
    """The one centre a scope lies within (a county centre's area, or a unit), or None."""
    if user_scope.empty or user_scope.whole:
        return None
    found = _centre_map()
    if user_scope.unit_id is not None:
        return found["units"].get(user_scope.unit_id)
    return found["paths"].get(user_scope.path)


# List counts ----------------------------------------------------------------------------------

def count_token(model):
    """The tokens a list count of this model for the signed-in login is keyed by."""
    rows = ""
    if issubclass(model, CASE_TREE):
        centre = centre_of(scope.current()) if has_request_context() else None
        rows = cases.current(centre if centre is not None else "*")
    # Every count is also keyed by the rest of the domain (a filter may join it) and access.
    return f"{rows}:{reference.current()}:{access.current()}"


def count(key, make):
    """A list count from the cache (key made with count_token)."""
    return remember(key, make, _seconds("COUNT_CACHE_SECONDS"))


# Statistics -----------------------------------------------------------------------------------

def stats_value(name, make, *parts):
    """A statistics value under the counted data's token and the language."""
    return remember(":".join(str(p) for p in (name, statistics.current(), get_locale(), *parts)),
                    make, _seconds("STATS_CACHE_SECONDS"))


def report(session, area, period, today=None, clock=None):
    """stats.report for the area and period: the day's figures from the cache while the data
    is unchanged, the clock's figures (stats.clock_figures) computed now, or as given."""
    today = today or models.today()
    data = stats_value("stats", lambda: stats.report(session, area, period, today, clock=False),
                       area.region_id, period.code, today)
    return {**data, **(clock or stats.clock_figures(session, area, period))}


def areas(session, user_scope):
    """stats.areas_within for a scope, cached."""
    return stats_value("areas", lambda: stats.areas_within(session, user_scope),
                       user_scope.path, user_scope.unit_id)


def digest(value):
    """A short fingerprint of plain data (JSON-able), for a cache key."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Search ---------------------------------------------------------------------------------------

def is_common(term, dialect):
    """search.is_common, kept for SEARCH_PROBE_SECONDS."""
    return remember(f"search-common:{term}", lambda: search.is_common(term, dialect),
                    _seconds("SEARCH_PROBE_SECONDS"))


def unread(user_id):
    """notices.unread_up_to(user_id) while the person's messages are unchanged (the menu bar
    shows it on every page)."""
    return remember(f"unread:{messages.current(user_id)}:{user_id}",
                    lambda: notices.unread_up_to(db.session, user_id),
                    _seconds("COUNT_CACHE_SECONDS"))


def menu(roles, render):
    """The menu bar for a set of roles and the language, rendered once while access is
    unchanged."""
    key = f"navbar:{access.current()}:{get_locale()}:{browser.get('locale')}:{roles}"
    return remember(key, render, _seconds("MENU_CACHE_SECONDS"))


def init_app(app):
    """Logins' scopes are found through the shared cache."""
    scope.resolve_with(cached_scope_of)
