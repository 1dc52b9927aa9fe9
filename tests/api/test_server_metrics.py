"""GET /_openovc/metrics: requests by route template and status, latency, tasks, the schedule's lag, the pool;
who may read it; and the X-Request-Id every answer carries."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from openovc.app import create_app
from tests.support.errors import error_body
from tests.support.inprocess import Env, make_env, pick_vm
from tests.support.tasks import media

METRICS = "/_openovc/metrics"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A federation of its own, whose tasks and counters no other test touches."""
    built = make_env(tmp_path_factory.mktemp("metrics"))
    yield built
    built.runtime.storage.engine.dispose()


def _client(env: Env, **settings: Any) -> TestClient:
    """Another application over the same runtime, with these settings changed."""
    changed = dataclasses.replace(env.runtime, settings=env.runtime.settings.model_copy(update=settings))
    return TestClient(create_app(changed))


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    resp = client.get(METRICS, headers=headers or {})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def requests(samples: Samples, route: str, method: str, status: int) -> float:
    key = ("openovc_http_requests_total", (("method", method), ("route", route), ("status", str(status))))
    return samples.get(key, 0.0)


def latency_count(samples: Samples, route: str, method: str) -> float:
    return samples.get(
        ("openovc_http_request_duration_seconds_count", (("method", method), ("route", route))), 0.0
    )


def tasks(samples: Samples, state: str, operation: str) -> float:
    return samples.get(("openovc_tasks", (("operation", operation), ("state", state))), 0.0)


def gauge(samples: Samples, name: str) -> float:
    return samples[(name, ())]


def test_requests_count_by_route_template_method_and_status(env: Env, reader: dict[str, str]) -> None:
    host_ids = [h["id"] for h in env.federation.rows["hosts"][:3]]
    before = scrape(env.client, reader)
    for host_id in host_ids:
        assert env.client.get(f"/api/hosts/{host_id}", headers=reader).status_code == 200
    for _ in range(2):
        assert env.client.get("/api/hosts/no-such-host", headers=reader).status_code == 404
    assert env.client.get(f"/api/hosts/{host_ids[0]}/", headers=reader).status_code == 200  # trailing slash
    assert env.client.get("/api/nothing/here", headers=reader).status_code == 404
    assert env.client.get("/_openovc/clock", headers=reader).status_code == 200
    assert env.client.delete("/_openovc/clock", headers=reader).status_code == 405
    assert env.client.get("/_openovc/nothing", headers=reader).status_code == 404
    assert env.client.get(f"/api/hosts/{host_ids[0]}").status_code == 401
    after = scrape(env.client, reader)

    def rose(route: str, method: str, status: int) -> float:
        return requests(after, route, method, status) - requests(before, route, method, status)

    assert rose("/api/hosts/{hostId}", "GET", 200) == len(host_ids) + 1
    assert rose("/api/hosts/{hostId}", "GET", 404) == 2
    assert rose("/api/hosts/{hostId}", "GET", 401) == 1
    assert rose("unmatched", "GET", 404) == 2
    assert rose("/_openovc/clock", "GET", 200) == 1
    assert rose("/_openovc/clock", "DELETE", 405) == 1
    assert rose(METRICS, "GET", 200) == 1  # the first scrape; the second counts once it has answered
    routes = {dict(labels)["route"] for name, labels in after if name == "openovc_http_requests_total"}
    assert not [r for r in routes if "no-such-host" in r or host_ids[0] in r]
    got = latency_count(after, "/api/hosts/{hostId}", "GET") - latency_count(
        before, "/api/hosts/{hostId}", "GET"
    )
    assert got == len(host_ids) + 4
    bucket = ("openovc_http_request_duration_seconds_bucket", (("le", "+Inf"), ("method", "GET"), ("route", "/api/hosts/{hostId}")))  # fmt: skip
    assert after[bucket] == latency_count(after, "/api/hosts/{hostId}", "GET")


def test_requests_refused_before_routing_count_as_unmatched(env: Env, reader: dict[str, str]) -> None:
    small = _client(env, max_body_bytes=1024)
    before = scrape(small, reader)
    resp = small.post("/api/virtual_machines", headers={**reader, **media()}, content=b"x" * 2048)
    assert resp.status_code == 413
    resp = small.request("BREW", "/api/hosts", headers=reader)
    assert resp.status_code == 405
    after = scrape(small, reader)
    assert requests(after, "unmatched", "POST", 413) - requests(before, "unmatched", "POST", 413) == 1
    assert requests(after, "/api/hosts", "other", 405) - requests(before, "/api/hosts", "other", 405) == 1


def test_tasks_by_state_and_operation_and_the_queue(fresh: Env) -> None:
    h = fresh.headers()
    vm = pick_vm(fresh, "ON")
    off = "virtual_machine.power_off"
    before = scrape(fresh.client, h)
    assert gauge(before, "openovc_task_queue_depth") == 0
    assert gauge(before, "openovc_task_queue_due") == 0

    path = f"/api/virtual_machines/{vm['id']}/power_off"
    resp = fresh.client.post(path, headers={**h, **media("1.11")})
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task"]["id"]
    queued = scrape(fresh.client, h)
    assert tasks(queued, "IN_PROGRESS", off) == 1
    assert tasks(queued, "COMPLETED", off) == tasks(before, "COMPLETED", off)
    assert gauge(queued, "openovc_task_queue_depth") == 1
    assert gauge(queued, "openovc_task_queue_due") == 0  # paced by polls: not due before its first poll

    assert fresh.client.get(f"/api/tasks/{task_id}", headers=h).json()["task"]["state"] == "COMPLETED"
    resp = fresh.client.post(path, headers={**h, **media("1.11")})  # already off: fails when it runs
    assert (
        fresh.client.get(f"/api/tasks/{resp.json()['task']['id']}", headers=h).json()["task"]["state"]
        == "FAILED"
    )
    ended = scrape(fresh.client, h)
    assert tasks(ended, "IN_PROGRESS", off) == 0
    assert tasks(ended, "COMPLETED", off) == tasks(before, "COMPLETED", off) + 1
    assert tasks(ended, "FAILED", off) == tasks(before, "FAILED", off) + 1
    assert gauge(ended, "openovc_task_queue_depth") == 0


def test_the_schedule_lag_follows_the_clock_until_the_scheduler_catches_up(fresh: Env) -> None:
    public = _client(fresh, metrics_public=True)  # tokens expire as the clock moves a day
    fresh.runtime.scheduler.run_due()  # its first turn: every rule starts from now
    assert gauge(scrape(public), "openovc_scheduler_lag_seconds") == 0
    fresh.clock.advance(timedelta(days=1))
    lag = gauge(scrape(public), "openovc_scheduler_lag_seconds")
    # The demo's policies back up at least daily: a day later one slot at least is due and unfired.
    assert 0 < lag <= 86_400
    assert fresh.runtime.scheduler.lag_ms() == lag * 1000
    fresh.runtime.scheduler._looked_at = -1.0  # the worker's turn now, not a real second later
    assert fresh.runtime.scheduler.run_due() > 0
    assert gauge(scrape(public), "openovc_scheduler_lag_seconds") == 0


def test_the_backups_the_schedule_took_and_the_slots_it_dropped_are_counted(fresh: Env) -> None:
    public = _client(fresh, metrics_public=True)  # counts from its creation on
    taken, dropped = "openovc_schedule_backups_taken_total", "openovc_schedule_slots_dropped_total"
    assert (gauge(scrape(public), taken), gauge(scrape(public), dropped)) == (0, 0)
    scheduler = fresh.runtime.scheduler
    assert scheduler.run_due() == 0  # its first turn: every rule starts from now
    fresh.clock.advance(timedelta(hours=1))
    scheduler._looked_at = -1.0  # the worker's turn now, not a real second later
    first = scheduler.run_due()
    assert first > 0
    assert (gauge(scrape(public), taken), gauge(scrape(public), dropped)) == (first, 0)
    # Three days on, at the real pace: every slot but each rule's latest is missed by more than 10 s.
    fresh.clock.advance(timedelta(days=3))
    scheduler._looked_at = -1.0
    due = list(scheduler._due(scheduler._plan(), scheduler._clock.now_ms()))
    missed = len(due) - len({slotted.key for _, slotted in due})
    assert missed > 0
    second = scheduler.run_due()
    assert second > 0
    assert (gauge(scrape(public), taken), gauge(scrape(public), dropped)) == (first + second, missed)


def test_the_pool_size_and_the_connections_checked_out(fresh: Env) -> None:
    h = fresh.headers()
    client = _client(fresh)  # a new application watches the pool from now on
    samples = scrape(client, h)
    assert gauge(samples, "openovc_db_pool_size") == 8  # SQLite's pool (storage/engine.py)
    assert gauge(samples, "openovc_db_pool_checked_out") == 0
    with fresh.runtime.storage.engine.connect(), fresh.runtime.storage.engine.connect():
        assert gauge(scrape(client, h), "openovc_db_pool_checked_out") == 2
    assert gauge(scrape(client, h), "openovc_db_pool_checked_out") == 0


def test_any_valid_token_reads_the_metrics(env: Env, admin: dict[str, str], reader: dict[str, str]) -> None:
    for headers in (admin, reader):
        assert "openovc_http_requests_total" in env.client.get(METRICS, headers=headers).text


def test_without_a_token_or_with_a_bad_one_401(env: Env) -> None:
    resp = env.client.get(METRICS)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    resp = env.client.get(METRICS, headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    )  # fmt: skip


def test_public_metrics_need_no_token(env: Env) -> None:
    public = _client(env, metrics_public=True)
    samples = scrape(public)
    assert gauge(samples, "openovc_db_pool_size") == 8
    assert scrape(public, {"Authorization": "Bearer not-a-token"})  # a token is not even looked at
    assert public.get("/_openovc/clock").status_code == 401  # the rest of the control API still needs one
    assert public.get("/api/hosts").status_code == 401


def test_only_get_reads_the_metrics(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.post(METRICS, headers=admin)
    assert (resp.status_code, resp.json()) == (
        405, error_body(METRICS, "org.springframework.web.HttpRequestMethodNotSupportedException",
                        "Request method 'POST' not supported", 405),
    )  # fmt: skip


def test_the_metrics_are_in_the_control_api_document(env: Env) -> None:
    own = env.client.get("/_openovc/openapi.json").json()
    assert own["paths"]["/metrics"]["get"]["operationId"] == "getMetrics"
    hpe = env.client.get("/api/openapi.json").json()
    assert not [p for p in hpe["paths"] if "metrics" in p and p.startswith("/_openovc")]


@pytest.mark.parametrize("given", ["abc-123", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "req.7:a/b+c=", "x" * 128])
def test_a_sane_request_id_is_echoed(env: Env, given: str) -> None:
    resp = env.client.get("/api/version", headers={"X-Request-Id": given})
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, 'quote"d', "semi;colon", "ünicode"])
def test_any_other_request_id_is_replaced_by_a_new_one(env: Env, given: str) -> None:
    resp = env.client.get("/api/version", headers={"X-Request-Id": given.encode()})
    assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["x-request-id"])


def test_every_answer_has_a_new_request_id(env: Env, admin: dict[str, str]) -> None:
    answers = [
        env.client.get("/api/version"),
        env.client.get("/api/hosts", headers=admin),
        env.client.get("/api/hosts/nope", headers=admin),
        env.client.get("/api/hosts"),
        env.client.get("/_openovc/health"),
    ]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
