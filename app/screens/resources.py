"""The API's other resources, read as the screens read them: parties, referrals, mediation
sessions, feedback, stationed units, staff, experts and service records, each a list (filters,
keyset pages by id, either order) and its rows; and the statistics report of an area and
period. Each needs the rights its screen needs (the screen's permission names), keeps to the
caller's scope and masks personal data as the screens do. Their OpenAPI schemas are made from
the columns they show."""

import datetime
import decimal

from flask import abort, jsonify, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access_api
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, select

from app import caches, clock, models, personal, scope, stats, workflow
from app.screens import cases
from app.extensions import db
from app.openapi import Doc, key, query
from app.screens import api
from app.screens.api import MAX_PAGE, BadArgument, _bad, _limit, _number

KINDS = {Integer: "integer", Boolean: "boolean"}


def _type(column):
    """The JSON schema of a column's values."""
    kind = next((v for k, v in KINDS.items() if isinstance(column.type, k)), "string")
    schema = {"type": [kind, "null"] if column.nullable else kind}
    if isinstance(column.type, DateTime):
        schema["format"] = "date-time"
    elif isinstance(column.type, Date):
        schema["format"] = "date"
    elif isinstance(column.type, Numeric):
        schema["description"] = "a decimal number, as text"
    return schema


def _body_type(column, options=None):
    """The JSON schema of a writable column in a new row's body."""
    schema = dict(_type(column))
    kind = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
    if column.foreign_keys:
        schema.update(type="integer", minimum=1, maximum=models.LARGEST_KEY)
    elif options is not None:
        schema = {"type": "integer" if kind == "integer" else "string",
                  "enum": list(options.codes)}
    elif kind == "integer":
        schema.update(type="integer", minimum=0, maximum=models.LARGEST_KEY)
    elif kind == "string" and "format" not in schema:
        length = getattr(column.type, "length", None)
        schema.update(type="string", minLength=1, pattern=r"\S",
                      **({"maxLength": length} if length else {}))
    elif kind == "string":
        schema["type"] = "string"
    elif kind == "boolean":
        schema["type"] = "boolean"
    return schema


def _value(value):
    """A column's value as JSON."""
    if isinstance(value, datetime.datetime):
        return clock.iso(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


class ResourceApi(BaseView):
    """One resource: GET the list, GET one row."""

    model = None
    columns = ()
    filters = {}  # query argument: column
    rows = True  # GET /<id> too
    writable = ()  # the columns POST sets, where the screen adds rows (checked by type)
    base_permissions = ["can_list", "can_show"]
    method_permission_name = {"index": "list", "get": "show"}

    def __init_subclass__(cls, **kwargs):
        """Each resource documents itself: its schemas from its columns, its filters."""
        super().__init_subclass__(**kwargs)
        if cls.model is None:
            return
        table = cls.model.__table__
        masked = getattr(cls.model, "personal_columns", {})
        item = {"type": "object", "required": ["id"], "properties": {
            name: {**_type(table.c[name]), **({"description": "masked as on the screens"}
                                              if name in masked else {})}
            for name in cls.columns}}
        name = f"{cls.model.__name__}Row"
        cls.openapi_schemas = {name: item, f"{cls.model.__name__}Page": {
            "type": "object", "required": ["items", "next"], "properties": {
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                "next": {"type": ["integer", "null"],
                         "description": "The `after` of the next page; null at the end"}}}}
        parameters = [cls._filter_doc(arg, table.c[col]) for arg, col in cls.filters.items()]
        cls.openapi = {
            "index": Doc(f"{cls.model.__name__}Page", [
                *parameters,
                query("order", description="asc: oldest first; desc (default): newest first",
                      enum=["asc", "desc"]),
                query("after", "integer", "The `next` of the page before", minimum=0,
                      maximum=models.LARGEST_KEY),
                query("limit", "integer", "Rows a page", minimum=1, maximum=MAX_PAGE)],
                errors=(400, 401, 403)),
            "get": Doc(name)}
        if not cls.rows:
            cls.get = None  # not exposed
            del cls.openapi["get"]
        if cls.writable:
            cls.base_permissions = [*cls.base_permissions, "can_add"]
            cls.method_permission_name = {**cls.method_permission_name, "create": "add"}
            body = {"type": "object", "required": [
                c for c in cls.writable if not table.c[c].nullable
                and table.c[c].default is None], "properties": {
                    c: _body_type(table.c[c], getattr(cls.model, "choice_columns", {}).get(c))
                    for c in cls.writable}}
            cls.openapi_schemas[f"New{cls.model.__name__}"] = body
            cls.openapi["create"] = Doc(name, body=f"New{cls.model.__name__}",
                                        errors=(400, 401, 403, 409, 422, 503), status=201)
        elif "create" not in vars(cls):
            cls.create = None  # not exposed (a resource may add rows its own way)

    @classmethod
    def _filter_doc(cls, arg, column):
        """A filter's query parameter: a key, a coded value (its codes), a flag or a text."""
        text = f"Only rows whose {column.name} is this"
        if column.foreign_keys or column.name == "id":
            return key(arg, text)
        options = getattr(cls.model, "choice_columns", {}).get(column.name)
        if options is not None:
            kind = "integer" if all(isinstance(c, int) for c in options.codes) else "string"
            return query(arg, kind, text, enum=list(options.codes))
        if isinstance(column.type, Boolean):
            return query(arg, "boolean", text)
        return query(arg, "string", text)

    def _json(self, row):
        """A row as JSON, personal data masked unless the role sees it unmasked."""
        masked = getattr(self.model, "personal_columns", {})
        unmasked = personal.can_view()
        found = {}
        for name in self.columns:
            value = getattr(row, name)
            if name in masked and value and not unmasked:
                value = personal.mask(masked[name], value)
            found[name] = _value(value)
        return found

    def _argument(self, arg, column):
        """A filter's value, checked as the document describes it (a key of 1 or more, one of
        a coded column's codes, true or false); asked once."""
        given = request.args.getlist(arg)
        if not given:
            return None
        if len(given) > 1:
            raise BadArgument(_l("%(name)s may be given once.", name=arg))
        text = given[0]
        table_column = self.model.__table__.c[column]
        options = getattr(self.model, "choice_columns", {}).get(column)
        if isinstance(table_column.type, Boolean):
            if text not in ("true", "false"):
                raise BadArgument(_l("%(name)s must be true or false.", name=arg))
            return text == "true"
        if options is not None:
            codes = {str(code): code for code in options.codes}
            if text not in codes:
                raise BadArgument(_l("%(name)s must be one of %(codes)s.", name=arg,
                                     codes=", ".join(codes)))
            return codes[text]
        if isinstance(table_column.type, Integer):
            value = _number(arg)
            if value == 0 and (table_column.foreign_keys or column == "id"):
                raise BadArgument(_l("%(name)s must be a whole number from 1 to %(most)s.",
                                     name=arg, most=models.LARGEST_KEY))
            return value
        return text

    def _field(self, body, name, problems):
        """One writable field of a body, checked for its column; notes a problem."""
        column = self.model.__table__.c[name]
        value = body.get(name)
        options = getattr(self.model, "choice_columns", {}).get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if not column.nullable and column.default is None:
                problems[name] = _l("This field is required.")
            return None
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table.name
            model = {"centre": models.Centre, "region": models.Region,
                     "stationed_unit": models.StationedUnit,
                     "department": models.Department}.get(target)
            key = api.key_of(value)
            if key is None or model is None or not scope.visible(
                    model, key, write=model in (models.Centre, models.Region,
                                                models.StationedUnit)):
                problems[name] = _l("An id inside your area.")
                return None
            return key
        if options is not None:
            if value not in options.codes:
                problems[name] = _l("One of: %(codes)s.", codes=", ".join(map(str, options.codes)))
                return None
            return value
        if isinstance(column.type, Boolean):
            if not isinstance(value, bool):
                problems[name] = _l("true or false.")
            return value if isinstance(value, bool) else None
        if isinstance(column.type, Integer):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    not 0 <= value <= models.LARGEST_KEY:
                problems[name] = _l("A whole number, not negative.")
                return None
            return value
        if isinstance(column.type, Date):
            try:
                return datetime.date.fromisoformat(value)
            except (TypeError, ValueError):
                problems[name] = _l("A date written YYYY-MM-DD.")
                return None
        most = getattr(column.type, "length", None) or 5000
        if not isinstance(value, str) or len(value.strip()) > most:
            problems[name] = _l("Text of at most %(most)s characters.", most=most)
            return None
        value = value.strip()
        kind = getattr(self.model, "personal_columns", {}).get(name)
        if kind == "phone":
            value = personal.normalise_number(value)
            if personal.phone_problem(value):
                problems[name] = personal.phone_problem(value)
        return value

    def check(self, row):
        """The model's own rule for a new row (words), or None."""
        return None

    @expose("", methods=["POST"])
    @has_access_api
    def create(self):
        """Add a row where the screen adds one: the fields checked as its columns describe
        them, keys inside the caller's area; 201 with the row."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(code="bad_request", message=str(_l("Send a JSON object."))), 400
        problems = {}
        values = {name: self._field(body, name, problems) for name in self.writable}
        for name in set(body) - set(self.writable):
            problems[name] = _l("This field cannot be set here.")
        row = self.model(**{k: v for k, v in values.items() if v is not None})
        if not problems and self.check(row):
            problems["_"] = self.check(row)
        if problems:
            return api._invalid(api.Invalid(problems))
        answered, refused = api.save(lambda session: session.add(row), lambda: self._json(row))
        return refused or (jsonify(answered), 201)

    def _select(self, *conditions):
        where = scope.condition(self.model)
        return select(self.model).where(*(c for c in (where, *conditions) if c is not None))

    @expose("", methods=["GET"])
    @has_access_api
    def index(self):
        """The rows inside the caller's scope, newest first (order=asc: oldest first), a page
        at a time; filter by the arguments listed; follow `next` for the next page."""
        key = self.model.id
        try:
            limit = _limit()
            after = _number("after")
            order = request.args.get("order", "desc")
            if order not in ("asc", "desc"):
                raise BadArgument(_l("order must be asc or desc."))
            conditions = []
            for arg, column in self.filters.items():
                value = self._argument(arg, column)
                if value is not None:
                    conditions.append(getattr(self.model, column) == value)
        except BadArgument as error:
            return _bad(error)
        if after is not None:
            conditions.append(key > after if order == "asc" else key < after)
        rows = db.session.scalars(self._select(*conditions).order_by(
            key.asc() if order == "asc" else key.desc()).limit(limit)).all()
        return jsonify(items=[self._json(r) for r in rows],
                       next=rows[-1].id if len(rows) == limit else None)

    @expose("/<int:pk>", methods=["GET"])
    @has_access_api
    def get(self, pk):
        """One row inside the caller's scope."""
        row = db.session.scalars(self._select(self.model.id == pk)).first()
        if row is None:
            abort(404)
        return jsonify(self._json(row))


class PartyApi(ResourceApi):
    """Parties to the cases; a party added to a case inside the caller's scope."""

    route_base = "/api/v1/parties"
    class_permission_name = "PartyModelView"
    base_permissions = ["can_list", "can_show", "can_add"]
    method_permission_name = {"index": "list", "get": "show", "create": "add"}
    model = models.Party
    columns = ("id", "dispute_id", "role", "name", "id_number", "phone", "address")
    filters = {"case": "dispute_id", "role": "role"}

    @expose("", methods=["POST"])
    @has_access_api
    def create(self):
        """Add a party to a case: its role and name, and its ID number, phone and address
        where known (checked as the forms check them)."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(code="bad_request", message=str(_l("Send a JSON object."))), 400
        problems = {}
        case = api.key_of(body.get("case"))
        if case is None or not scope.visible(models.Dispute, case, write=True):
            problems["case"] = _l("A case's id inside your area.")
        party = api.one_party(body, problems)
        if problems:
            return api._invalid(api.Invalid(problems))
        party.dispute_id = case

        def add(session):
            dispute = session.get(models.Dispute, case)
            workflow.check_editable(dispute)  # the screen's rule: a finished case is frozen
            session.add(party)
            session.flush()
            cases.link_repeat(session, dispute)  # and its repeat disputes noted

        answered, refused = api.save(add, lambda: self._json(party))
        return refused or (jsonify(answered), 201)


class ReferralListApi(ResourceApi):
    """Referrals to the stationed units (one referral and its steps: /api/v1/referrals/<id>)."""

    route_base = "/api/v1/referrals"
    class_permission_name = "ReferralModelView"
    base_permissions = ["can_list"]
    method_permission_name = {"index": "list"}
    model = models.Referral
    columns = ("id", "dispute_id", "unit_id", "status", "position", "summoned", "sent_at",
               "respond_due", "answer_due", "reported_at", "answered_at", "returned_at",
               "cancelled_at")
    filters = {"case": "dispute_id", "unit": "unit_id", "status": "status"}

    rows = False  # one referral, and its steps, are ReferralApi's (/api/v1/referrals/<id>)


class SessionApi(ResourceApi):
    """Mediation sessions and online hearings."""

    route_base = "/api/v1/sessions"
    class_permission_name = "MediationSessionModelView"
    model = models.MediationSession
    columns = ("id", "dispute_id", "expert_id", "staff_id", "scheduled_at", "duration_minutes",
               "mode", "place", "result", "performance_method", "performance_due",
               "follow_up_on", "followed_up_at")
    filters = {"case": "dispute_id", "expert": "expert_id", "result": "result"}


class FeedbackApi(ResourceApi):
    """The parties' satisfaction with concluded cases."""

    route_base = "/api/v1/feedback"
    class_permission_name = "FeedbackModelView"
    model = models.Feedback
    columns = ("id", "dispute_id", "satisfaction", "channel", "note", "collected_at")
    filters = {"case": "dispute_id", "satisfaction": "satisfaction"}


class UnitApi(ResourceApi):
    """The departments stationed at the centres."""

    route_base = "/api/v1/units"
    class_permission_name = "StationedUnitModelView"
    model = models.StationedUnit
    columns = ("id", "centre_id", "department_id", "mode", "window", "contact_phone",
               "staff_count", "stationed_since", "active")
    filters = {"centre": "centre_id", "department": "department_id", "mode": "mode",
               "active": "active"}
    writable = ("centre_id", "department_id", "mode", "window", "contact_phone",
                "staff_count", "stationed_since", "active")


class StaffApi(ResourceApi):
    """The people working at the centres."""

    route_base = "/api/v1/staff"
    class_permission_name = "StaffModelView"
    model = models.Staff
    columns = ("id", "name", "centre_id", "unit_id", "position", "phone", "is_mediator",
               "active")
    filters = {"centre": "centre_id", "unit": "unit_id", "mediator": "is_mediator",
               "active": "active"}
    writable = ("name", "centre_id", "unit_id", "position", "phone", "is_mediator", "active")

    def check(self, row):
        """A staff member's unit is one of their centre's."""
        if row.unit_id is not None:
            unit = db.session.get(models.StationedUnit, row.unit_id)
            if unit is None or unit.centre_id != row.centre_id:
                return _l("The unit must be stationed at the staff member's centre.")
        return None


class ExpertApi(ResourceApi):
    """The expert mediators of the library."""

    route_base = "/api/v1/experts"
    class_permission_name = "ExpertModelView"
    model = models.Expert
    columns = ("id", "name", "centre_id", "region_id", "organisation", "title", "phone",
               "books_appointment", "books_on_call", "books_video", "active")
    filters = {"centre": "centre_id", "region": "region_id", "active": "active"}
    writable = ("name", "centre_id", "region_id", "organisation", "title", "phone",
                "books_appointment", "books_on_call", "books_video", "active")


class ServiceRecordApi(ResourceApi):
    """The centres' monthly service counts (legal advice, psychological counselling …)."""

    route_base = "/api/v1/service-records"
    class_permission_name = "ServiceRecordModelView"
    model = models.ServiceRecord
    columns = ("id", "centre_id", "kind", "count", "period_start", "period_end", "note")
    filters = {"centre": "centre_id", "kind": "kind"}
    writable = ("centre_id", "kind", "count", "period_start", "period_end", "note")

    def check(self, row):
        """One calendar month each, as on the screen."""
        return row.period_problem()


class StatisticsApi(BaseView):
    """The statistics report: what the dashboard and the PDF show, as data."""

    route_base = "/api/v1/statistics"
    class_permission_name = "DashboardView"
    base_permissions = ["can_show"]
    method_permission_name = {"index": "show"}
    openapi = {"index": Doc("Statistics", [
        query("area", "integer", "A region's id inside the caller's scope (default: its own)"),
        query("period", description="2026-11 (a month), 2026-Q3, 2026 or "
                                    "2026-01-01..2026-03-31 (default: the last whole month)")],
        errors=(400, 401, 403, 404))}
    openapi_schemas = {"Statistics": {
        "type": "object", "required": ["area", "period", "kpi"], "properties": {
            "area": {"type": "object"}, "period": {"type": "object"},
            "kpi": {"type": ["object", "array"]}},
        "additionalProperties": True}}

    @expose("", methods=["GET"])
    @has_access_api
    def index(self):
        """The report of an area and period: the figures, their change, the breakdowns and
        the figures that move with the clock (overdue now, referral timeliness)."""
        session = db.session
        areas = caches.areas(session, scope.current())
        area = stats.area_for(session, scope.current(), request.args.get("area"), areas)
        if area is None or request.args.get("area") and \
                str(area.region_id) != request.args.get("area"):
            abort(404)
        period = stats.Period.month_of(models.today()).previous()
        if request.args.get("period"):
            try:
                period = stats.Period.parse(request.args["period"])
            except stats.BadPeriod as error:
                return _bad(error)
        clock = stats.clock_figures(session, area, period)
        return jsonify(caches.report(session, area, period, clock=clock))


RESOURCES = (PartyApi, ReferralListApi, SessionApi, FeedbackApi, UnitApi, StaffApi, ExpertApi,
             ServiceRecordApi, StatisticsApi)

PartyApi.openapi["create"] = Doc("PartyRow", body="NewParty", errors=(400, 401, 403, 422, 503),
                                 status=201)
