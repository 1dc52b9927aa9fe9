"""The server publishes what it serves as OpenAPI 3.1, and its answers conform to it; the docs can log in."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from openovc.domain.catalog import ALL
from tests.support.inprocess import ADMIN, BASIC, READER, Env, make_env, pick_vm

Spec = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch")
JSON = "application/json"


def vendor(minor: int) -> str:
    return f"application/vnd.simplivity.v1{'' if minor == 0 else f'.{minor}'}+json"


@pytest.fixture(scope="module")
def spec(env: Env) -> Spec:
    resp = env.client.get("/api/openapi.json")
    assert resp.status_code == 200
    document: Spec = resp.json()
    return document


@pytest.fixture(scope="module")
def control_spec(env: Env) -> Spec:
    resp = env.client.get("/_openovc/openapi.json")
    assert resp.status_code == 200
    document: Spec = resp.json()
    return document


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A private federation for the writes (the shared one is read-mostly)."""
    built = make_env(tmp_path_factory.mktemp("openapi"), task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def operations(document: Spec) -> Iterator[tuple[str, str, Spec]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(document: Spec, node: Spec) -> Spec:
    while "$ref" in node:
        found: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def documented_schema(document: Spec, path: str, method: str, status: int, media: str) -> Spec:
    """The schema the document gives this answer; fails when it documents no such status or media type."""
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which it does not document"
    content = resolve(document, responses[str(status)]).get("content", {})
    assert media in content, f"{method.upper()} {path} {status}: {media} is not documented ({list(content)})"
    schema: Spec = content[media]["schema"]
    return schema


def conforms(document: Spec, path: str, method: str, resp: httpx.Response) -> Any:
    """Checks the answer against the document (status, media type, body) and gives its body."""
    media = resp.headers["content-type"].split(";")[0].strip()
    schema = documented_schema(document, path, method, resp.status_code, media)
    body = resp.json()
    # The answer's schema refers to the document's components: validate with them at hand.
    validator = Draft202012Validator({**schema, "components": document["components"]})
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not problems, f"{method.upper()} {path} {resp.status_code}: {problems[:5]}"
    return body


def _fill(path: str) -> str:
    return path.format_map(dict.fromkeys(re.findall(r"{(\w+)}", path), "nope"))


# ---- the document itself ----------------------------------------------------------------------


def test_openapi_lists_every_collection_with_its_filters(spec: Spec) -> None:
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


def test_both_documents_are_valid_openapi_3_1(spec: Spec, control_spec: Spec) -> None:
    for document in (spec, control_spec):
        assert document["openapi"].startswith("3.1.")
        validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_no_operation_answers_a_bare_string_or_fastapis_422(spec: Spec, control_spec: Spec) -> None:
    for document in (spec, control_spec):
        for path, method, op in operations(document):
            assert "422" not in op["responses"], f"{method} {path}"
            for status, response in op["responses"].items():
                for media, entry in resolve(document, response).get("content", {}).items():
                    if "json" not in media:
                        continue  # e.g. Prometheus' text
                    schema = resolve(document, entry["schema"])
                    assert schema.get("type") in ("object", "array"), f"{method} {path} {status} {media}"
                    if schema["type"] == "object":
                        assert schema.get("properties"), f"{method} {path} {status}: an object says nothing"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def _pydantic_words(node: Any, where: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            yield from (f"{where}/{k}" for k in ("gt", "ge", "lt", "le") if k in node)
        for key, value in node.items():
            yield from _pydantic_words(value, f"{where}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _pydantic_words(value, where)


def test_numeric_limits_use_standard_json_schema_keywords(spec: Spec) -> None:
    assert list(_pydantic_words(spec)) == []
    size = spec["components"]["schemas"]["CreateDatastore"]["properties"]["size"]
    assert (size["exclusiveMinimum"], size["maximum"]) == (0, 2**63 - 1)
    retention = spec["components"]["schemas"]["SetRetention"]["properties"]["retention"]
    assert (retention["minimum"], retention["maximum"]) == (0, 2**31 - 1)


def test_protected_operations_need_the_oauth_password_flow(spec: Spec) -> None:
    scheme = spec["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"] == {"password": {"tokenUrl": "/api/oauth/token", "scopes": {}}}
    unprotected = {
        op["operationId"] for _, _, op in operations(spec) if {"oauth2": []} not in op.get("security", [])
    }
    assert unprotected == {"getVersion", "getToken"}
    token = spec["paths"]["/api/oauth/token"]["post"]
    assert token["security"] == [{"simplivityClient": []}]
    assert list(token["requestBody"]["content"]) == [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["grant_type", "username", "password"]
    assert "content" not in spec["paths"]["/api/oauth/revoke"]["get"]["responses"]["200"]


def test_every_operation_refuses_a_caller_without_credentials_as_documented(env: Env, spec: Spec) -> None:
    for path, method, op in operations(spec):
        resp = env.client.request(method.upper(), _fill(path))
        if not op.get("security"):
            assert resp.status_code == 200, f"{method} {path}"
            continue
        assert resp.status_code == 401, f"{method} {path}: {resp.status_code}"
        conforms(spec, path, method, resp)


# ---- request bodies -----------------------------------------------------------------------------


def test_every_write_body_lists_only_media_types_the_route_accepts(
    env: Env, admin: dict[str, str], spec: Spec
) -> None:
    checked = 0
    for path, method, op in operations(spec):
        if "requestBody" not in op or path == "/api/oauth/token":
            continue
        listed = list(op["requestBody"]["content"])
        if listed == ["multipart/form-data"]:
            continue  # the DER upload: a file, no JSON
        # The lowest and the highest listed are accepted (the objects are unknown: 400 or 404, never 415).
        for media in {listed[0], listed[-1]}:
            resp = env.client.request(
                method.upper(), _fill(path), headers={**admin, "Content-Type": media}, content=b"{}"
            )
            assert resp.status_code in (200, 201, 202, 400, 404), f"{method} {path} {media}: {resp.text}"
            conforms(spec, path, method, resp)
        if JSON not in listed:
            # A vendor type is required: plain JSON is refused, and so is the version before the first.
            first = int(re.fullmatch(r"application/vnd\.simplivity\.v1(?:\.(\d+))?\+json", listed[0])[1] or 0)  # type: ignore[index]
            assert listed == [vendor(n) for n in range(first, 26)], f"{method} {path}"
            refused = [JSON] + ([vendor(first - 1)] if first > 0 else [])
            for media in refused:
                resp = env.client.request(
                    method.upper(), _fill(path), headers={**admin, "Content-Type": media}, content=b"{}"
                )
                assert resp.status_code == 415, f"{method} {path} {media}: {resp.status_code}"
                conforms(spec, path, method, resp)
        checked += 1
    assert checked >= 35


def test_a_write_without_a_body_takes_no_documented_body(env: Env, admin: dict[str, str], spec: Spec) -> None:
    op = spec["paths"]["/api/virtual_machines/{vmId}/power_on"]["post"]
    assert "requestBody" not in op
    resp = env.client.post("/api/virtual_machines/nope/power_on", headers={**admin, "Content-Type": JSON})
    assert resp.status_code == 415
    body = conforms(spec, "/api/virtual_machines/{vmId}/power_on", "post", resp)
    assert body["message"] == "Content type 'application/json' not supported"


# ---- real answers against the document ---------------------------------------------------------


# Where a real id for each path parameter comes from: a collection, and a filter that picks a useful one.
ID_SOURCES = {
    "vmId": ("virtual_machines", ""),
    "datastoreId": ("datastores", ""),
    "hostId": ("hosts", ""),
    "clusterId": ("omnistack_clusters", ""),
    "policyId": ("policies", "&name=Silver"),
    "clusterGroupId": ("cluster_groups", ""),
    "bkpId": ("backups", "&state=PROTECTED"),  # only a protected backup can be browsed
    "pvId": ("persistent_volumes", ""),
}


def _ids(env: Env, admin: dict[str, str]) -> dict[str, str]:
    """A real id for each path parameter of the federation's GETs (and the first rule of a policy)."""
    ids: dict[str, str] = {}
    for param, (plural, extra) in ID_SOURCES.items():
        page = env.client.get(f"/api/{plural}?limit=1{extra}", headers=admin)
        if page.status_code == 404:
            continue  # a collection this build does not serve
        first = page.json()[plural][0]
        ids[param] = first["id"]
        if param == "policyId":
            ids["ruleId"] = first["rules"][0]["id"]
    return ids


def test_every_get_answers_as_documented(env: Env, admin: dict[str, str], spec: Spec) -> None:
    ids = _ids(env, admin)
    disks = env.client.get(f"/api/backups/{ids['bkpId']}/virtual_disks", headers=admin).json()[
        "virtual_disks"
    ]
    cert = _add_certificate(env, admin, spec)
    task = env.client.post(
        f"/api/backups/{ids['bkpId']}/calculate_unique_size", headers={**admin, "Content-Type": vendor(0)}
    )
    assert task.status_code == 202
    conforms(spec, "/api/backups/{bkpId}/calculate_unique_size", "post", task)
    ids |= {"certId": cert, "taskId": task.json()["task"]["id"]}
    queries = {
        "getBackupPartitions": f"?virtual_disk={disks[0]}",
        "getBackupFiles": f"?virtual_disk={disks[0]}&partition_number=1&file_path=/",
        "getHostMetrics": "?range=180&resolution=MINUTE",
        "getClusterPerfomance": "?range=180",
        "getVmMetrics": "?range=180",
        "getHostCapacity": "?range=180",
        "getClustersThroughput": "?range=180",
    }
    seen = 0
    for path, method, op in operations(spec):
        if method != "get" or path == "/api/oauth/revoke":
            continue
        url = path.format_map(ids) + queries.get(op["operationId"], "")
        variants = [url, url + ("&" if "?" in url else "?") + "show_optional_fields=true"]
        for each in (
            variants if any(p["name"] == "show_optional_fields" for p in op.get("parameters", [])) else [url]
        ):
            resp = env.client.get(each, headers=admin)
            assert resp.status_code == 200, f"{each}: {resp.text[:300]}"
            conforms(spec, path, method, resp)
        seen += 1
    assert seen >= 35
    # A vendor Accept is echoed, and documented as well.
    resp = env.client.get(f"/api/virtual_machines/{ids['vmId']}", headers={**admin, "Accept": vendor(14)})
    assert resp.headers["content-type"].startswith(vendor(14))
    assert conforms(spec, "/api/virtual_machines/{vmId}", "get", resp)["virtual_machine"]["id"] == ids["vmId"]


def _certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openapi.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _add_certificate(env: Env, admin: dict[str, str], spec: Spec) -> str:
    resp = env.client.post(
        "/api/security/certificates",
        headers={**admin, "Content-Type": vendor(8)},
        json={"certificate": _certificate_pem()},
    )
    assert resp.status_code == 201, resp.text
    thumbprint: str = conforms(spec, "/api/security/certificates", "post", resp)["hash"]
    return thumbprint


def send(
    env: Env, method: str, template: str, minor: int | None, body: Any = None, **ids: str
) -> httpx.Response:
    """A write as an administrator, with the vendor media type of version 1.`minor` (None: plain JSON)."""
    headers = {**env.headers(), "Content-Type": JSON if minor is None else vendor(minor)}
    resp: httpx.Response = env.client.request(method, template.format_map(ids), headers=headers, json=body)
    return resp


def test_task_answers_and_polls_are_as_documented(own: Env) -> None:
    spec: Spec = own.client.get("/api/openapi.json").json()
    vm = pick_vm(own, "OFF")["id"]
    power = send(own, "POST", "/api/virtual_machines/{vmId}/power_on", 14, vmId=vm)
    assert power.status_code == 202
    task = conforms(spec, "/api/virtual_machines/{vmId}/power_on", "post", power)["task"]
    polled = own.client.get(f"/api/tasks/{task['id']}", headers=own.headers())
    assert conforms(spec, "/api/tasks/{taskId}", "get", polled)["task"]["state"] == "COMPLETED"
    clone = send(
        own, "POST", "/api/virtual_machines/{vmId}/clone", 0, {"virtual_machine_name": "oa"}, vmId=vm
    )
    assert clone.status_code == 202
    conforms(spec, "/api/virtual_machines/{vmId}/clone", "post", clone)
    # The VM is on now, so it cannot move: the task fails, with its code and both messages.
    datastore = _ids(own, own.headers())["datastoreId"]
    move = send(
        own, "POST", "/api/virtual_machines/{vmId}/move", 0, {"destination_datastore_id": datastore}, vmId=vm
    )
    failed = own.client.get(f"/api/tasks/{move.json()['task']['id']}", headers=own.headers())
    body = conforms(spec, "/api/tasks/{taskId}", "get", failed)["task"]
    assert (body["state"], body["error_code"]) == ("FAILED", 130)
    assert body["message"] == body["error_message"] != ""


def test_direct_answers_of_writes_are_as_documented(own: Env) -> None:
    spec: Spec = own.client.get("/api/openapi.json").json()
    ids = _ids(own, own.headers())
    vm = pick_vm(own, "ON")["id"]
    refused = send(
        own, "POST", "/api/backups/set_retention", 0, {"backup_id": [ids["bkpId"]], "retention": 1}
    )
    assert refused.status_code == 200
    shown = conforms(spec, "/api/backups/set_retention", "post", refused)["backups"]
    assert [b["id"] for b in shown] == [ids["bkpId"]]
    rules = [{"frequency": 60, "retention": 120}]
    impact = "/api/policies/{policyId}/impact_report/create_rules"
    report = send(own, "POST", impact, 14, rules, policyId=ids["policyId"])
    assert report.status_code == 200
    assert set(conforms(spec, impact, "post", report)) == {"schedule_before_change", "schedule_after_change"}
    login = {"guest_username": "a", "guest_password": "b"}
    validate_path = "/api/virtual_machines/{vmId}/validate_backup_credentials"
    creds = send(own, "POST", validate_path, 8, login, vmId=vm)
    assert conforms(spec, validate_path, "post", creds) == {"credentials_validation": {"status": "INVALID"}}
    shutdown_path = "/api/hosts/{hostId}/shutdown_virtual_controller"
    shutdown = send(own, "POST", shutdown_path, None, {"ha_wait": True}, hostId=ids["hostId"])
    assert conforms(spec, shutdown_path, "post", shutdown) == {"shutdown_status": {"status": "SUCCESS"}}
    cancel_path = "/api/hosts/{hostId}/cancel_virtual_controller_shutdown"
    cancel = send(own, "POST", cancel_path, None, hostId=ids["hostId"])
    assert conforms(spec, cancel_path, "post", cancel)["cancellation_status"]["status"] == "SUCCESS"
    roles = "/api/security/rbac/policies/role_assignments"
    role = send(own, "POST", roles, 16, {"role": "ReadOnly", "groups": ["auditors"]})
    assert role.status_code == 201
    assert conforms(spec, roles, "post", role) == {"role": "ReadOnly", "groups": ["auditors"]}
    cert = _add_certificate(own, own.headers(), spec)
    gone = own.client.delete(f"/api/security/certificates/{cert}", headers=own.headers())
    assert conforms(spec, "/api/security/certificates/{certId}", "delete", gone)["hash"] == cert


def test_errors_answer_in_the_documented_shapes(
    env: Env, admin: dict[str, str], reader: dict[str, str], spec: Spec
) -> None:
    ids = _ids(env, admin)
    clone = "/api/virtual_machines/{vmId}/clone"
    url = clone.format_map(ids)
    malformed = env.client.post(url, headers={**admin, "Content-Type": vendor(0)}, content=b"{")
    assert malformed.status_code == 400
    assert conforms(spec, clone, "post", malformed)["exception"].endswith("InvalidBodyException")
    bad_limit = env.client.get("/api/backups?limit=0", headers=admin)
    assert bad_limit.status_code == 400
    conforms(spec, "/api/backups", "get", bad_limit)
    stale = env.client.get("/api/hosts", headers={"Authorization": "Bearer not-a-token"})
    assert stale.status_code == 401
    assert conforms(spec, "/api/hosts", "get", stale)["error"] == "invalid_token"
    denied = env.client.post(
        url, headers={**reader, "Content-Type": vendor(0)}, json={"virtual_machine_name": "x"}
    )
    assert denied.status_code == 403
    conforms(spec, clone, "post", denied)
    missing = env.client.get("/api/virtual_machines/nope", headers={**admin, "Accept": vendor(25)})
    assert missing.status_code == 404
    assert conforms(spec, "/api/virtual_machines/{vmId}", "get", missing)["status"] == "404"
    unknown_group = env.client.get(
        "/api/policies/policy_schedule_report?cluster_group_id=nope", headers=admin
    )
    assert unknown_group.status_code == 404
    conforms(spec, "/api/policies/policy_schedule_report", "get", unknown_group)
    plain = env.client.post(url, headers={**admin, "Content-Type": JSON}, json={"virtual_machine_name": "x"})
    assert plain.status_code == 415
    conforms(spec, clone, "post", plain)
    limit = env.runtime.settings.max_body_bytes
    huge = env.client.post(url, headers={**admin, "Content-Type": vendor(0)}, content=b" " * (limit + 1))
    assert huge.status_code == 413
    conforms(spec, clone, "post", huge)


def test_token_and_revoke_answer_as_documented(env: Env, spec: Spec) -> None:
    token, revoke = "/api/oauth/token", "/api/oauth/revoke"
    form = {"grant_type": "password", "username": READER[0], "password": READER[1]}
    no_client = env.client.post(token, data=form)
    assert no_client.status_code == 401
    assert conforms(spec, token, "post", no_client)["exception"] == "BadCredentialsException"
    wrong = env.client.post(token, headers={"Authorization": BASIC}, data={**form, "password": "wrong"})
    assert wrong.status_code == 400
    assert conforms(spec, token, "post", wrong)["error"] == "invalid_grant"
    grant = env.client.post(
        token, headers={"Authorization": BASIC}, data={**form, "grant_type": "client_credentials"}
    )
    assert conforms(spec, token, "post", grant)["error"] == "unsupported_grant_type"
    issued = env.client.post(token, headers={"Authorization": BASIC}, data=form)
    access = conforms(spec, token, "post", issued)["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    done = env.client.get(revoke, headers=bearer)
    assert (done.status_code, done.content) == (200, b"")
    again = env.client.get(revoke, headers=bearer)
    assert again.status_code == 401
    assert conforms(spec, revoke, "get", again)["error"] == "invalid_token"


# ---- the interactive docs -----------------------------------------------------------------------


def test_interactive_docs_are_served_locally(env: Env) -> None:
    page = env.client.get("/api/index.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/swagger-ui/swagger-ui-bundle.js" in page.text
    assert env.client.get("/api/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("page", ["/api/index.html", "/_openovc/index.html"])
def test_swagger_ui_logs_in_with_the_sdks_client(env: Env, page: str) -> None:
    html = env.client.get(page).text
    init = re.search(r"ui\.initOAuth\((\{.*?\})\)", html, re.S)
    assert init is not None, "Swagger UI has no OAuth configuration"
    assert '"clientId": "simplivity"' in init[1] and '"clientSecret": ""' in init[1]


def test_the_documented_flow_logs_in_as_swagger_ui_does(env: Env, spec: Spec, control_spec: Spec) -> None:
    for document in (spec, control_spec):
        flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["password"]
        assert flow["tokenUrl"] == "/api/oauth/token"
    # Swagger UI's password flow: the client in an HTTP basic header (its default), scope empty.
    client = "Basic " + base64.b64encode(b"simplivity:").decode()
    form = {"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1], "scope": ""}
    resp = env.client.post("/api/oauth/token", headers={"Authorization": client}, data=form)
    assert resp.status_code == 200
    access = conforms(spec, "/api/oauth/token", "post", resp)["access_token"]
    clock = env.client.get("/_openovc/clock", headers={"Authorization": f"Bearer {access}"})
    assert clock.status_code == 200
    conforms(control_spec, "/clock", "get", clock)


def test_the_control_documents_errors_and_security(
    env: Env, reader: dict[str, str], control_spec: Spec
) -> None:
    advance = control_spec["paths"]["/clock/advance"]["post"]
    assert advance["security"] == [{"oauth2": []}]
    assert {"400", "401", "403", "413"} <= set(advance["responses"])
    anonymous = env.client.post("/_openovc/clock/advance", json={"seconds": 1})
    assert anonymous.status_code == 401
    conforms(control_spec, "/clock/advance", "post", anonymous)
    denied = env.client.post("/_openovc/clock/advance", headers=reader, json={"seconds": 1})
    assert denied.status_code == 403
    conforms(control_spec, "/clock/advance", "post", denied)
    assert "security" not in control_spec["paths"]["/health"]["get"]
