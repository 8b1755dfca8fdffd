"""Who may see what: the one scope rule, from the region tree, applied to every query and write."""

from dataclasses import dataclass

from flask import has_request_context, request
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import and_, exists, false, inspect, literal, or_, select
from sqlalchemy.orm import aliased

from app import models
from app.extensions import db

# Reference data everybody who may open the screen may read in full.
UNSCOPED = {models.Department, models.DepartmentFunction, models.Category, models.LegalRoute,
            models.Language}
CASE_CHILDREN = (models.Party, models.Referral, models.MediationSession, models.Feedback,
                 models.CaseEvent)
CENTRE_CHILDREN = (models.StationedUnit, models.Staff, models.ServiceRecord)
# The logins a centre administrator manages: those of the people working in their area.
MANAGED_ROLES = ("staff", "unit_liaison")


class OutOfScope(Exception):
    """A write that would put a record outside the writer's scope."""


@dataclass(frozen=True)
class Scope:
    """A subtree of the region tree (by path prefix), optionally narrowed to one stationed unit."""

    path: str | None = None
    unit_id: int | None = None

    @property
    def empty(self):
        """True when the scope holds nothing at all."""
        return self.path is None and self.unit_id is None

    @property
    def whole(self):
        """True for the whole tree: queries need no filter."""
        return self.path == ""


NOTHING = Scope()
WHOLE = Scope(path="")


def of_region(path, parent_id, level):
    """The scope of a node of the region tree. Only the root of the tree (no parent, level
    region) holds everything; any other node, even one re-rooted without a parent, is its own
    path (the one rule for "the root means everything")."""
    return WHOLE if parent_id is None and level == "region" else Scope(path=path)


def scope_of(user):
    """The scope of a login, in one query: its UserScope row; the admin role without one sees all."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    unit_region = aliased(models.Region)
    row = db.session.execute(
        select(models.UserScope.unit_id, models.Region.path, unit_region.path,
               models.Region.parent_id, models.Region.level)
        .outerjoin(models.Region, models.UserScope.region_id == models.Region.id)
        .outerjoin(models.StationedUnit, models.UserScope.unit_id == models.StationedUnit.id)
        .outerjoin(models.Centre, models.StationedUnit.centre_id == models.Centre.id)
        .outerjoin(unit_region, models.Centre.region_id == unit_region.id)
        .where(models.UserScope.user_id == user.id)).first()
    if row is None:
        return WHOLE if any(r.name == "admin" for r in user.roles) else NOTHING
    unit_id, region_path, unit_path, parent_id, level = row
    if unit_id is not None:
        return Scope(path=unit_path, unit_id=unit_id) if unit_path else NOTHING
    if region_path is None:
        return NOTHING
    return of_region(region_path, parent_id, level)


def current():
    """The signed-in user's scope, worked out once per request."""
    if not has_request_context():
        return NOTHING
    # Kept on the request itself: an app context (and g) can outlive one request.
    known = request.environ.setdefault("zongzhi.scope", {})
    user_id = getattr(current_user, "id", None)
    if user_id not in known:
        known[user_id] = _shared_scope(current_user)
    return known[user_id]


def remembered_scope_of(user):
    """scope_of(user) as the app resolves it (the shared cache, when installed: the same
    answer, without its query on every step)."""
    if has_request_context() and user is not None and \
            getattr(user, "id", None) == getattr(current_user, "id", None):
        return current()
    return _shared_scope(user)


def _shared_scope(user):
    """scope_of(user) through the resolver installed (by default, computed)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    return (_resolver or scope_of)(user)


_resolver = None


def resolve_with(resolver):
    """Install how a login's scope is found (app.caches: scope_of from the shared cache); the
    rule stays scope_of's."""
    global _resolver
    _resolver = resolver


def _centres(scope):
    """The ids of the centres inside the scope's subtree."""
    return (select(models.Centre.id).join(models.Region, models.Centre.region_id == models.Region.id)
            .where(models.Region.path.startswith(scope.path)))


def _disputes(scope):
    """The condition a dispute must meet to be seen."""
    if scope.unit_id is not None:
        return models.Dispute.id.in_(
            select(models.Referral.dispute_id).where(models.Referral.unit_id == scope.unit_id))
    return models.Dispute.centre_id.in_(_centres(scope))


def _regions_near(scope):
    """Regions inside the subtree and those above it (whose experts serve it too)."""
    return or_(models.Region.path.startswith(scope.path),
               literal(scope.path).startswith(models.Region.path))


def _logins(scope):
    """Logins placed inside the scope (by their own scope's node or unit) that hold only the
    roles of the people working there: never an administrator's, leader's or auditor's."""
    if scope.unit_id is not None:
        return false()
    region, unit_region = aliased(models.Region), aliased(models.Region)
    placed = (select(models.UserScope.user_id)
              .outerjoin(region, models.UserScope.region_id == region.id)
              .outerjoin(models.StationedUnit, models.UserScope.unit_id == models.StationedUnit.id)
              .outerjoin(models.Centre, models.StationedUnit.centre_id == models.Centre.id)
              .outerjoin(unit_region, models.Centre.region_id == unit_region.id)
              .where(or_(region.path.startswith(scope.path),
                         unit_region.path.startswith(scope.path))))
    others = (select(assoc_user_role.c.user_id)
              .join(Role, Role.id == assoc_user_role.c.role_id)
              .where(Role.name.not_in(MANAGED_ROLES)))
    return and_(User.id.in_(placed), User.id.not_in(others))


def condition(model, scope=None, write=False):
    """The WHERE condition that keeps a model's rows to the scope; None when it needs none."""
    scope = current() if scope is None else scope
    if model in UNSCOPED:
        return None
    if scope.empty:
        return false()
    if model is User:  # the whole tree manages every login; a part, those working in it
        return None if scope.whole else _logins(scope)
    if scope.whole and not write:
        return None  # the whole tree: nothing to filter
    unit = scope.unit_id
    if model is models.Dispute:
        return _disputes(scope)
    if model is models.Referral and unit is not None:
        return models.Referral.unit_id == unit
    if model is models.Conclusion:  # the concluding centre's (or the unit's referred cases)
        if unit is not None:
            return model.dispute_id.in_(select(models.Dispute.id).where(_disputes(scope)))
        return model.centre_id.in_(_centres(scope))
    if model in CASE_CHILDREN:
        return model.dispute_id.in_(select(models.Dispute.id).where(_disputes(scope)))
    if model is models.Centre:
        return models.Centre.id.in_(_centres(scope))
    if model is models.StationedUnit and unit is not None:
        return models.StationedUnit.id == unit
    if model is models.Staff and unit is not None:
        return models.Staff.unit_id == unit
    if model is models.ServiceRecord and unit is not None:
        return false()
    if model in CENTRE_CHILDREN:
        return model.centre_id.in_(_centres(scope))
    if model is models.RotaSlot:
        units = select(models.StationedUnit.id).where(condition(models.StationedUnit, scope))
        return models.RotaSlot.unit_id.in_(units)
    if model is models.Region:
        return models.Region.path.startswith(scope.path) if write else _regions_near(scope)
    if model is models.Expert:
        regions = select(models.Region.id).where(
            models.Region.path.startswith(scope.path) if write else _regions_near(scope))
        return models.Expert.region_id.in_(regions)
    # Anything else (roles, audit records) is guarded by permissions, not by place.
    return None


def all_seen_with_case(model, scope=None):
    """Whether every row of a case's child model is seen by whoever sees the case (true but
    for referrals seen from a unit: a liaison sees only their own unit's)."""
    scope = current() if scope is None else scope
    if model not in CASE_CHILDREN:
        return False
    return not (model is models.Referral and scope.unit_id is not None)


def is_scoped(model):
    """True when the model's rows are kept to a scope at all."""
    return condition(model, Scope(path="-/")) is not None


def visible(model, pk, scope=None, write=False):
    """True when the row with this key exists inside the scope. A yes is remembered for the
    rest of the request (a step asks for its case twice: the view, then the workflow)."""
    if pk is None:
        return False
    known = request.environ.setdefault("zongzhi.visible", set()) \
        if has_request_context() else set()
    asked = (model, str(pk), scope if scope is not None else current(), write)
    if asked in known:
        return True
    where = condition(model, scope, write=write)
    query = select(model.id).where(model.id == pk)
    if where is not None:
        query = query.where(where)
    # Checked while a form's half-built row sits in the session: it must not be flushed yet.
    with db.session.no_autoflush:
        found = db.session.scalar(select(exists(query))) is True
    if found:
        known.add(asked)
    return found


def seen(model, pk, write=False):
    """Note for the rest of the request that the row lies inside the current scope (the caller
    has just read it through condition())."""
    if has_request_context():
        request.environ.setdefault("zongzhi.visible", set()).add(
            (model, str(pk), current(), write))


# What a written row hangs on: the record whose place decides where the row belongs.
OWNERS = {
    models.Dispute: (models.Centre, "centre_id"),
    models.StationedUnit: (models.Centre, "centre_id"),
    models.Staff: (models.Centre, "centre_id"),
    models.ServiceRecord: (models.Centre, "centre_id"),
    models.RotaSlot: (models.StationedUnit, "unit_id"),
    models.Centre: (models.Region, "region_id"),
    models.Region: (models.Region, "parent_id"),
    models.Expert: (models.Region, "region_id"),
    **{child: (models.Dispute, "dispute_id") for child in CASE_CHILDREN},
}


def _key(item, column):
    """The foreign key a write will store: from the relationship when one is set (a form sets
    the relationship; the column keeps the old key until the flush), else from the column."""
    relation = getattr(item, column[:-3], None)
    value = getattr(relation, "id", None)
    return getattr(item, column) if value is None else value


def _old_key(item, column):
    """The foreign key the row has in the database now (None for a new row)."""
    state = inspect(item)
    if state.key is None:
        return None
    history = state.attrs[column].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else getattr(item, column)


def ensure_writable(item, scope=None):
    """Refuse a row whose owner lies outside the scope (so a write cannot move data out)."""
    scope = current() if scope is None else scope
    model = type(item)
    if model not in OWNERS:
        return
    owner, column = OWNERS[model]
    key, old = _key(item, column), _old_key(item, column)
    if model is models.Region and key is None:
        allowed = scope.whole  # only a whole-tree scope may add a new root
    else:
        allowed = visible(owner, key, scope, write=True)
    if allowed and old is not None and old != key:  # moved: from inside the scope, too
        allowed = visible(owner, old, scope, write=True)
    if allowed and model is models.Centre and key is not None:
        # A centre's own administrator may not move it out from under their own node.
        allowed = visible(models.Region, key, scope, write=True) and (
            scope.whole or _region_path(key).startswith(scope.path))
    if allowed and model is models.Referral and scope.unit_id is not None:
        allowed = _key(item, "unit_id") == scope.unit_id
    if not allowed:
        raise OutOfScope(gettext("This record is outside your area of responsibility."))


def _region_path(region_id):
    """A region's stored path."""
    return db.session.scalar(select(models.Region.path).where(models.Region.id == region_id)) \
        or ""


class ScopeFilter(BaseFilter):
    """Flask-AppBuilder base filter that applies the scope rule to a view's queries."""

    name = "scope"
    arg_name = "scope"

    def apply(self, query, value):
        """Keep the query to the current user's scope."""
        where = condition(self.model)
        return query if where is None else query.filter(where)

