"""schemathesis against the OpenAPI document: every operation, with data generated from its
schema, called as an API client of each role (and a leader of a prefecture): no 5xx, every
status and answer as documented, and no row outside the caller's scope in any answer."""

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from app import clients, models, openapi, scope
from app.extensions import db
from seeds import demo

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi import checks  # noqa: E402

# Who calls: (role, scope as the user screen gives it).
CALLERS = {"admin": ("admin", None), "centre_admin": ("centre_admin", "652701"),
           "staff": ("staff", "652701"), "liaison": ("unit_liaison", "652701:court"),
           "leader": ("leader", "652700"), "auditor": ("auditor", None)}
EXAMPLES = 12


def _scope_value(code):
    """The user screen's value for a region code or <county>:<department>."""
    if code is None:
        return ""
    county, _sep, department = code.partition(":")
    region = db.session.scalar(select(models.Region).filter_by(code=county))
    if not department:
        return f"r:{region.id}"
    unit = db.session.scalar(select(models.StationedUnit).join(models.Centre).join(
        models.Department).where(models.Centre.region_id == region.id,
                                 models.Department.code == department))
    return f"u:{unit.id}"


@pytest.fixture
def callers(app):
    """The demo world with cases, and an API client per caller: {name: (token, its scope)}."""
    sm = app.appbuilder.sm
    demo.load(db.session, sm, cases=60)
    db.session.commit()
    made = {}
    for name, (role, where) in CALLERS.items():
        client, token = clients.create(db.session, sm, f"fuzz-{name}", [role],
                                       _scope_value(where), days=1, rate=100000)
        made[name] = (token, scope.scope_of(client.user))
    db.session.commit()
    return made


def _outside(ids, seen):
    """The case ids among these that a scope does not admit."""
    db.session.rollback()
    condition = scope.condition(models.Dispute, seen)
    if not ids or condition is None:
        return set()
    return set(ids) - set(db.session.scalars(select(models.Dispute.id).where(
        models.Dispute.id.in_(ids), condition)))


def _ids(body, key):
    """Every value of `key` in a JSON answer (items of a page, or the object itself)."""
    rows = body.get("items", [body]) if isinstance(body, dict) else body
    return {row[key] for row in rows if isinstance(row, dict) and isinstance(row.get(key), int)}


def test_every_operation_as_every_caller(app, callers):
    """Generated calls of each operation, as each caller: documented answers only, no 5xx,
    nothing outside the caller's scope (cases are the scope's, whatever the case's id)."""
    document = openapi.document(app)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            for name, (token, condition) in callers.items():
                headers = {"Authorization": f"Bearer {token}"}
                response = case.call(headers=headers, app=app)
                case.validate_response(
                    response, headers=headers,
                    checks=[checks.status_code_conformance, checks.content_type_conformance,
                            checks.response_schema_conformance])
                assert response.status_code < 500, (name, case.method, case.formatted_path)
                if response.status_code not in (200, 201):
                    continue
                body = response.json()
                if path.startswith("/api/v1/cases"):
                    ids = _ids(body, "id") if path in ("/api/v1/cases", "/api/v1/cases/{pk}") \
                        else set()
                elif path == "/api/v1/events":
                    ids = {e["case"] for e in body["events"]}
                else:
                    ids = _ids(body, "dispute_id")
                outside = _outside(ids, condition)
                assert not outside, (name, case.method, case.formatted_path, outside)

        try:
            run()
        except Exception as error:  # noqa: BLE001 — every operation is tried; all failures told
            failures.append(f"{operation.method.upper()} {path}: {error}")
    assert not failures, "\n\n".join(failures)
