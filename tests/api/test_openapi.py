"""The server publishes what it serves as OpenAPI, with interactive docs that work offline."""

from __future__ import annotations

from openovc.domain.catalog import ALL
from tests.support.inprocess import Env


def test_openapi_lists_every_collection_with_its_filters(env: Env) -> None:
    resp = env.client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    for coll in ALL:
        listing = spec["paths"][f"/api/{coll.plural}"]["get"]
        names = {p["name"] for p in listing["parameters"]}
        assert {f.param for f in coll.filters} | {
            "limit",
            "offset",
            "sort",
            "order",
            "case",
            "fields",
        } <= names
    assert spec["paths"]["/api/virtual_machines"]["get"]["operationId"] == "listVms"


def test_interactive_docs_are_served_locally(env: Env) -> None:
    page = env.client.get("/api/index.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/swagger-ui/swagger-ui-bundle.js" in page.text
    assert env.client.get("/api/swagger-ui/swagger-ui-bundle.js").status_code == 200
