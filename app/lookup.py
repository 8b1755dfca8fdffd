"""Search-as-you-type for related fields: what each lookup searches and the JSON endpoint behind it."""

from flask import abort, jsonify, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.sqla.models import User
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app import models, scope, search as text_search
from app.extensions import db

PAGE = 20

# kind: (model, searched columns, the view whose list permission the lookup needs, order)
LOOKUPS = {
    "dispute": (models.Dispute, ("case_no", "title"), "DisputeModelView", "registered_at"),
    "expert": (models.Expert, ("name", "organisation"), "ExpertModelView", "name"),
    "staff": (models.Staff, ("name", "position"), "StaffModelView", "name"),
    "party": (models.Party, ("name",), "PartyModelView", "name"),
    "centre": (models.Centre, ("name", "short_name"), "CentreModelView", "name"),
    "unit": (models.StationedUnit, (), "StationedUnitModelView", "id"),
    "region": (models.Region, ("name", "code"), "RegionModelView", "path"),
    "user": (User, ("username", "first_name", "last_name"), "UserDBModelView", "username"),
    "category": (models.Category, ("name", "code"), "CategoryModelView", "name"),
    "department": (models.Department, ("name", "code"), "DepartmentModelView", "name"),
    "language": (models.Language, ("name", "code"), "LanguageModelView", "name"),
    "route": (models.LegalRoute, ("name", "code"), "LegalRouteModelView", "sort_order"),
    "function": (models.DepartmentFunction, ("name", "code"), "DepartmentFunctionModelView", "name"),
}


def search(kind, term, page=1):
    """Rows of a lookup whose searched columns contain the term, one page at a time."""
    model, columns, _, order = LOOKUPS[kind]
    query = select(model)
    term = (term or "").strip()
    if term:
        if kind == "unit":
            query = query.join(models.StationedUnit.department).join(models.StationedUnit.centre)
            fields = [models.Department.name, models.Centre.short_name, models.Centre.name]
        else:
            fields = [getattr(model, name) for name in columns]
        query = query.where(or_(*(text_search.contains(field, term) for field in fields)))
    where = scope.condition(model)
    if where is not None:
        query = query.where(where)
    column = getattr(model, order)
    query = query.order_by(column.desc() if kind == "dispute" else column, model.id)
    query = query.offset((page - 1) * PAGE).limit(PAGE + 1)
    if kind == "unit":
        query = query.options(
            joinedload(models.StationedUnit.centre), joinedload(models.StationedUnit.department)
        )
    rows = db.session.scalars(query).unique().all()
    return rows[:PAGE], len(rows) > PAGE


class LookupView(BaseView):
    """The JSON endpoint that feeds search-as-you-type select boxes."""

    route_base = "/lookup"
    default_view = "lookup"

    @expose("/<kind>")
    def lookup(self, kind):
        """Matching rows as Select2 results, for a user allowed to list them."""
        if not current_user.is_authenticated:
            abort(401)
        if kind not in LOOKUPS:
            abort(404)
        view_name = LOOKUPS[kind][2]
        if not self.appbuilder.sm.has_access("can_list", view_name):
            abort(403)
        try:
            page = min(max(1, int(request.args.get("page", 1))), 1000)
        except ValueError:
            page = 1
        rows, more = search(kind, request.args.get("q", ""), page)
        return jsonify(
            results=[{"id": row.id, "text": str(row)} for row in rows],
            pagination={"more": more},
        )
