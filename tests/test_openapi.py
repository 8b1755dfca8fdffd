"""The OpenAPI document: every API route in it, generated from the code, and what the API
answers matches it; Swagger UI is served from our own files."""

import re

import jsonschema

from app import models
from tests.conftest import PASSWORD
from tests.test_workflow import new_case, people  # noqa: F401  (a fixture)


def check(document, name, body):
    """Validate an answer against a component schema of the document."""
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{name}",
                               "components": document["components"]})


def test_the_document_names_every_api_route_and_the_answers_match(app, client, people):
    """Each /api/v1/ route but the document's own and FAB's switched-off sign-in is in the
    document with its methods; real answers of every kind validate against their schemas."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"]["Case"])
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith(
                ("/api/v1/security/", "/api/v1/openapi", "/api/v1/docs", "/api/v1/menu")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    case = new_case(people["bole"], at=models.now())
    check(document, "CasePage", client.get("/api/v1/cases?limit=5").get_json())
    check(document, "Case", client.get(f"/api/v1/cases/{case.id}").get_json())
    check(document, "Steps", client.get(f"/api/v1/cases/{case.id}/steps").get_json())
    check(document, "Files", client.get(f"/api/v1/cases/{case.id}/documents").get_json())
    check(document, "EventPage", client.get("/api/v1/events?after=0").get_json())
    check(document, "Error", client.get("/api/v1/cases?limit=0").get_json())
    summary = document["paths"]["/api/v1/cases"]["get"]["summary"]
    assert summary.startswith("Cases inside the caller's scope")


def test_swagger_ui_is_served_from_our_own_files(app, client, people):
    """The page links only our own scripts and styles (a closed network has no CDN)."""
    client.post("/login/", data={"username": "bole", "password": PASSWORD})
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for link in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(link).status_code == 200, link
