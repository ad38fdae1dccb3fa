"""The control API and failure switches every sandbox shares, run against every platform's."""

import json
import time
from pathlib import Path

import pytest
import requests

from connectors.platforms.http import is_secret_header
from connectors.platforms.sandbox.faults import Failures, RequestLog
from connectors.platforms.sandbox.serve import sandboxed, start_sandbox


@pytest.fixture(scope="module", params=[p.name for p in sandboxed() if p.testing])
def running(request):
    with start_sandbox(request.param) as sandbox:
        yield sandbox


def test_health_answers_without_auth(sandbox):
    assert sandbox.control("GET", "health")["platform"] == sandbox.platform


def test_probe_succeeds_after_reset(sandbox):
    assert sandbox.probe().status_code == 200


def test_error_next_answers_a_platform_shaped_5xx_then_recovers(sandbox):
    headers = sandbox.login()
    sandbox.fail(error_next=1, error_statuses=[503])

    failed = sandbox.probe(headers)

    assert failed.status_code == 503
    assert sandbox.hooks.error_keys <= failed.json().keys()
    assert sandbox.probe(headers).status_code == 200
    assert sandbox.control("GET", "failures")["injected"] == {"error": 1}
    assert [e["fault"] for e in sandbox.log()][-2:] == ["error", None]


def test_error_rate_one_fails_every_api_request_but_never_the_control_api(sandbox):
    headers = sandbox.login()
    sandbox.fail(error_rate=1.0)

    statuses = {sandbox.probe(headers).status_code for _ in range(3)}

    assert statuses <= {500, 502, 503}
    assert sandbox.control("GET", "state")["platform"] == sandbox.platform


def test_rate_limit_next_answers_429(sandbox):
    headers = sandbox.login()
    sandbox.fail(rate_limit_next=2)

    assert [sandbox.probe(headers).status_code for _ in range(3)] == [429, 429, 200]


def test_drop_next_closes_the_connection_without_an_answer(sandbox):
    headers = sandbox.login()
    sandbox.fail(drop_next=1)

    with pytest.raises(requests.ConnectionError):
        sandbox.probe(headers)

    assert sandbox.probe(headers).status_code == 200
    assert [e["fault"] for e in sandbox.log()][-2:] == ["drop", None]


def test_latency_is_added_to_each_request(sandbox):
    headers = sandbox.login()
    sandbox.fail(latency_ms=150)

    started = time.perf_counter()
    sandbox.probe(headers)

    assert time.perf_counter() - started >= 0.15


def test_timeout_next_outlasts_the_client_timeout(sandbox):
    headers = sandbox.login()
    sandbox.fail(timeout_next=1, timeout_seconds=2)

    with pytest.raises(requests.ReadTimeout):
        sandbox.probe(headers, timeout=0.3)

    assert sandbox.probe(headers).status_code == 200


def test_token_endpoints_are_spared_unless_include_auth(sandbox):
    if sandbox.hooks.static_login:
        pytest.skip("its probe uses a seeded static token")
    sandbox.fail(drop_next=1)
    headers = sandbox.login()  # not dropped: token endpoints are out of scope

    with pytest.raises(requests.ConnectionError):
        sandbox.probe(headers)

    sandbox.fail(drop_next=1, include_auth=True)
    with pytest.raises(requests.ConnectionError):
        sandbox.login()


def test_paths_limit_the_failures_to_matching_prefixes(sandbox):
    headers = sandbox.login()
    sandbox.fail(error_next=1, paths=["/elsewhere"])

    assert sandbox.probe(headers).status_code == 200
    assert sandbox.control("GET", "failures")["error_next"] == 1


def test_request_log_records_redacted_exchanges_and_clears(sandbox):
    login = sandbox.login()
    sandbox.probe(login)

    entry = sandbox.log()[-1]
    assert entry["method"] in ("GET", "POST")
    assert entry["status"] == 200
    secrets = {k: v for k, v in login.items() if is_secret_header(k)}
    assert secrets
    logged = {k.lower(): v for k, v in entry["headers"].items()}
    assert {logged[k.lower()] for k in secrets} == {"[redacted]"}
    assert not [v for v in secrets.values() if v.split()[-1] in json.dumps(entry)]

    sandbox.control("DELETE", "requests")
    assert sandbox.log() == []
    assert sandbox.control("GET", "health")["requests_total"] >= 1


def test_expire_tokens_turns_away_tokens_issued_before(sandbox):
    headers = sandbox.login()
    assert sandbox.control("POST", "expire-tokens")["expired"] >= 1

    assert sandbox.probe(headers).status_code == 401


def test_a_bad_failure_switch_is_refused_and_changes_nothing(sandbox):
    for body in ({"error_rate": 2}, {"drop_next": -1}, {"no_such_switch": 1}):
        response = requests.post(f"{sandbox.url}/_sandbox/failures", json=body, timeout=5)
        assert response.status_code == 400
    assert sandbox.control("GET", "failures")["error_rate"] == 0


def test_an_unknown_route_answers_the_platform_404(sandbox):
    response = requests.get(f"{sandbox.url}/no/such/route", timeout=5)

    assert response.status_code == 404
    assert sandbox.hooks.error_keys <= response.json().keys()


# ---------------------------------------------------------------- one platform suffices
def test_the_request_log_is_bounded_but_counts_everything():
    log = RequestLog(maxlen=2)

    class FakeRequest:
        method, path, query_string, mimetype = "GET", "/x", b"", None
        headers = {"Authorization": "Bearer secret"}

        def get_data(self, cache=True):
            return b""

    for _ in range(3):
        log.add(FakeRequest(), 200, None, 0.1)

    dump = log.to_json()
    assert dump["total"] == 3
    assert [e["seq"] for e in dump["requests"]] == [2, 3]


def test_a_seeded_error_rate_repeats_the_same_pattern():
    def pattern():
        failures = Failures()
        failures.update({"error_rate": 0.5, "seed": 7})
        return [failures.plan(True)[2] for _ in range(20)]

    assert pattern() == pattern()
    assert any(pattern())
    assert not all(pattern())


def test_start_sandbox_refuses_an_unknown_platform():
    with pytest.raises(LookupError, match="no platform named 'nowhere'"):
        start_sandbox("nowhere")


def test_each_sandbox_has_a_port_of_its_own():
    """Ports come from each platform's package; the README's sandboxes line says them all."""
    ports = [p.port for p in sandboxed()]
    assert len(set(ports)) == len(ports)
    assert all(8000 < port < 65536 for port in ports)
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    sandboxes_line = next(line for line in readme.splitlines() if "sandboxes on 127.0.0.1" in line)
    for platform in sandboxed():
        if platform.name != "tally":  # the tests' own platform
            assert f"{platform.label} {platform.port}" in sandboxes_line, platform.name
