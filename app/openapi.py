"""The OpenAPI 3.1 document of the JSON API, generated from the code: its paths and methods
from the URL map, each operation's summary from its view's docstring, its parameters and
answer from the `openapi` declaration beside the view (app/screens/api.py)."""

import inspect
import re

from apispec import APISpec

from app import choices
from app.models import LARGEST_KEY

NULLABLE_TEXT = {"type": ["string", "null"]}
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
ERRORS = {400: "Bad argument or body", 401: "No valid token or session",
          403: "The caller's rights do not include this", 404: "Not found in the caller's scope",
          409: "The version sent is out of date",
          422: "Refused: by the workflow, or for the fields named in `fields`",
          428: "The version must be sent", 429: "Over the client's rate limit",
          503: "Not saved: try again"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["code", "message"],
              "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                             "fields": {"type": "object", "description": "Each field's reason",
                                        "additionalProperties": {"type": "string"}}}},
    "NewCase": {"type": "object", "required": ["centre", "category", "title", "description",
                                               "source", "level", "parties"], "properties": {
        "centre": {"type": "integer", "minimum": 1, "maximum": LARGEST_KEY},
        "category": {"type": "integer", "minimum": 1, "maximum": LARGEST_KEY},
        "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "description": {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": r"\S"},
        "amount": {"type": ["number", "string", "null"], "description": "yuan"},
        "source": {"type": "string", "enum": list(choices.DISPUTE_SOURCE.codes)},
        "level": {"type": "string", "enum": list(choices.HANDLING_LEVEL.codes)},
        "risk": {"type": "string", "enum": list(choices.RISK_LEVEL.codes),
                 "description": "low by default"},
        "parties": {"type": "array", "minItems": 2, "items": {
            "type": "object", "required": ["role", "name"], "properties": {
                "role": {"type": "string", "enum": list(choices.PARTY_ROLE.codes)},
                "name": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": r"\S"},
                "id_number": {**NULLABLE_TEXT, "description": "18 characters, checked"},
                "phone": {**NULLABLE_TEXT, "description": "a mobile or a landline, checked"},
                "address": NULLABLE_TEXT}},
            "description": "an applicant and a respondent at least",
            "allOf": [{"contains": {"type": "object", "properties": {
                "role": {"const": role}}, "required": ["role"]}}
                for role in ("applicant", "respondent")]}}},
    "CaseChange": {"type": "object", "description": "The fields to change, and the version "
                   "seen unless sent as If-Match", "properties": {
                       "version": {"type": "integer"},
                       "title": {"type": "string", "minLength": 1, "maxLength": 200,
                                 "pattern": r"\S"},
                       "description": {"type": "string", "minLength": 1, "maxLength": 5000,
                                       "pattern": r"\S"},
                       "amount": {"type": ["number", "string", "null"]},
                       "risk": {"type": "string", "enum": list(choices.RISK_LEVEL.codes)}}},
    "NewParty": {"type": "object", "required": ["case", "role", "name"], "properties": {
        "case": {"type": "integer", "minimum": 1, "maximum": LARGEST_KEY},
        "role": {"type": "string", "enum": list(choices.PARTY_ROLE.codes)},
        "name": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": r"\S"},
        "id_number": NULLABLE_TEXT,
        "phone": NULLABLE_TEXT, "address": NULLABLE_TEXT}},
    "CaseItem": {"type": "object", "required": ["id", "case_no", "status", "version"],
                 "properties": {
                     "id": {"type": "integer"}, "case_no": {"type": "string"},
                     "title": {"type": "string"}, "status": {"type": "string"},
                     "version": {"type": "integer"}, "centre": {"type": "integer"},
                     "category": {"type": "integer"}, "source": {"type": "string"},
                     "level": {"type": "string"}, "registered_at": MOMENT,
                     "concluded_at": NULLABLE_MOMENT}},
    "CasePage": {"type": "object", "required": ["items", "next"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CaseItem"}},
        "next": {**NULLABLE_TEXT, "description": "The `after` of the next page; null at the end"}}},
    "Case": {"type": "object", "required": ["id", "case_no", "status", "version"], "properties": {
        "id": {"type": "integer"}, "case_no": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "string"}, "version": {"type": "integer"},
        "centre": {"type": "string"}, "category": {"type": "string"},
        "registered_at": MOMENT, "handle_due": NULLABLE_MOMENT,
        "parties": {"type": "array", "items": {"type": "object", "properties": {
            "role": {"type": "string"}, "name": {"type": "string"},
            "id_number": {**NULLABLE_TEXT, "description": "masked as on the screens"},
            "phone": {**NULLABLE_TEXT, "description": "masked as on the screens"}}}},
        "events": {"type": "array", "items": {"type": "object", "properties": {
            "at": MOMENT, "action": {"type": "string"}, "from": NULLABLE_TEXT,
            "to": NULLABLE_TEXT}}}}},
    "Steps": {"type": "object", "required": ["steps"], "properties": {
        "version": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "object",
                                             "required": ["step", "label", "fields"],
                                             "properties": {
                                                 "step": {"type": "string"},
                                                 "label": {"type": "string"},
                                                 "target": {"type": "object"},
                                                 "fields": {"type": "array"}}}}}},
    "StepBody": {"type": "object", "description": "The step's fields, and for a case step the "
                 "version of the case the caller saw", "properties": {
                     "version": {"type": "integer"}}, "additionalProperties": True},
    "Files": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "download": NULLABLE_TEXT}}},
    "Referral": {"type": "object", "required": ["id", "case", "status"], "properties": {
        "id": {"type": "integer"}, "case": {"type": "integer"}, "case_no": {"type": "string"},
        "unit": {"type": "string"}, "status": {"type": "string"},
        "position": {"type": ["integer", "null"]}, "instructions": NULLABLE_TEXT,
        "sent_at": NULLABLE_MOMENT, "respond_due": NULLABLE_MOMENT,
        "answer_due": NULLABLE_MOMENT, "reported_at": NULLABLE_MOMENT,
        "answered_at": NULLABLE_MOMENT, "result": NULLABLE_TEXT,
        "returned_at": NULLABLE_MOMENT, "return_reason": NULLABLE_TEXT}},
    "EventPage": {"type": "object", "required": ["events", "next"], "properties": {
        "events": {"type": "array", "items": {"type": "object", "required": [
            "seq", "event", "case", "action", "at"], "properties": {
                "seq": {"type": "integer"}, "event": {"type": "integer"},
                "at": MOMENT, "action": {"type": "string"}, "from": NULLABLE_TEXT,
                "to": NULLABLE_TEXT, "case": {"type": "integer"},
                "case_no": {"type": "string"}, "centre": {"type": "integer"}}}},
        "next": {"type": "integer", "description": "The `after` of the next page"}}},
}


def key(name, description=""):
    """A query parameter naming a row by its key."""
    return query(name, "integer", description, minimum=1, maximum=LARGEST_KEY)


def query(name, kind="string", description="", **schema):
    """A query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": kind, **schema}}


class Doc:
    """What the document says of one operation beside its summary."""

    def __init__(self, answer, parameters=(), body=None, errors=(401, 403, 404), status=200):
        self.answer, self.parameters, self.body, self.errors = answer, parameters, body, errors
        self.status = status


def _path(rule):
    """An OpenAPI path of a URL rule, and its path parameters."""
    names = re.findall(r"<(?:(\w+):)?(\w+)>", rule)
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": LARGEST_KEY}
                   if kind == "int" else {"type": "string"}}
                  for kind, name in names]
    return path, parameters


def document(app):
    """The OpenAPI document of every documented /api/v1/ route, built once per app (the
    routes and declarations do not change while it runs)."""
    if "zongzhi.openapi" not in app.extensions:
        app.extensions["zongzhi.openapi"] = _build(app)
    return app.extensions["zongzhi.openapi"]


def _build(app):
    """The document, from the URL map and the views' declarations."""
    spec = APISpec(title="Zongzhi API", version="1", openapi_version="3.1.0", info={
        "description": "Cases, referrals and the event feed of the comprehensive governance "
                       "centres, with the screens' scope, rights and masking. Other systems "
                       "send `Authorization: Bearer zz.<key>.<secret>` (flask clients create); "
                       "a signed-in browser uses its session."})
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                                "name": "session"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    views = {type(view).__name__: view for view in app.appbuilder.baseviews}
    for view in views.values():  # the schemas a view makes of its own (app/screens/resources.py)
        for name, schema in getattr(view, "openapi_schemas", {}).items():
            spec.components.schema(name, schema)
    paths = {}
    for rule in app.url_map.iter_rules():
        view_name, _dot, method_name = rule.endpoint.partition(".")
        view = views.get(view_name)
        doc = getattr(view, "openapi", {}).get(method_name) if view is not None else None
        if doc is None or not rule.rule.startswith("/api/v1/"):
            continue
        path, path_parameters = _path(rule.rule)
        text = " ".join((inspect.getdoc(getattr(view, method_name)) or "").split())
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = {
                "operationId": rule.endpoint, "tags": [view_name],
                "summary": re.split(r"[:;]\s|\.\s|\.$", text)[0],
                "description": text,
                "parameters": [*path_parameters, *doc.parameters],
                "security": [{"token": []}, {"session": []}],
                "responses": {str(doc.status): {"description": "OK" if doc.status == 200 else
                                                "Created", "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{doc.answer}"}}}},
                    **{str(code): {"description": ERRORS[code], "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                        for code in doc.errors}}}
            if doc.body:
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{doc.body}"}}}}
            paths.setdefault(path, {})[method.lower()] = operation
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()
