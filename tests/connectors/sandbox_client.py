"""A running sandbox seen from a test: its control API, and a logged-in probe by the
platform's own test hooks (connectors.platforms.testing)."""

import requests

from connectors.platforms import registry


class Client:
    """A running sandbox (in this process, or another's at `url`) plus shortcuts to its
    control API."""

    def __init__(self, running=None, *, url=None, platform=None, timeout=5):
        self.running = running
        self.url = url or running.url
        self.platform = platform or running.platform
        self.hooks = registry.get(self.platform).hooks()
        self.timeout = timeout

    def control(self, method: str, path: str, body=None) -> dict:
        response = requests.request(
            method, f"{self.url}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, **body) -> dict:
        return self.control("POST", "seed", body)

    def state(self) -> dict:
        return self.control("GET", "state")

    def fail(self, **switches) -> dict:
        return self.control("POST", "failures", switches)

    def log(self, **params) -> list[dict]:
        response = requests.get(
            f"{self.url}/_sandbox/requests", params=params, timeout=self.timeout
        )
        return response.json()["requests"]

    def requests_total(self) -> int:
        """Every request it answered so far (its control API aside)."""
        return self.control("GET", "health")["requests_total"]

    def login(self) -> dict:
        """Headers of an authenticated API call on this platform."""
        return self.hooks.login(self.url)

    def probe(self, headers=None, **kwargs) -> requests.Response:
        """An authenticated read every platform answers 200 after a reset."""
        return self.hooks.probe_request(self.url, headers or self.login(), **kwargs)


def writes_only(name, items):
    """Fault switches that hit the channel's writes and not its reads (Elastic Path reads
    levels with a POST)."""
    if name == "elasticpath":
        return {"paths": [f"/v2/inventories/{item.remote_id}/transactions" for item in items]}
    return {"methods": ["POST", "PUT", "PATCH", "DELETE"]}
