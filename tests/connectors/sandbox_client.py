"""A running sandbox seen from a test: its control API and a logged-in probe per platform."""

import requests

HL_LOCATION = "6578278e879ad2646715ba9c"
HL_HEADERS = {"Authorization": "Bearer pit-hl-sandbox-token", "Version": "2021-07-28"}
WF_HEADERS = {"Authorization": "Bearer wf-sandbox-site-token"}
ZETTLE_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _unicommerce_login(url):
    params = {"username": "uniware", "password": "uniware-sandbox-password"}
    token = requests.get(f"{url}/authToken", params=params, timeout=5).json()["accessToken"]
    return {"apiKey": token}


def _elasticpath_login(url):
    form = {
        "grant_type": "client_credentials",
        "client_id": "ep-sandbox-client-id",
        "client_secret": "ep-sandbox-client-secret",
    }
    token = requests.post(f"{url}/oauth/access_token", data=form, timeout=5).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _zettle_login(url):
    form = {
        "grant_type": ZETTLE_GRANT,
        "client_id": "zettle-sandbox-client-id",
        "assertion": "zettle-sandbox-api-key",
    }
    token = requests.post(f"{url}/token", data=form, timeout=5).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


LOGINS = {
    "highlevel": lambda url: dict(HL_HEADERS),
    "webflow": lambda url: dict(WF_HEADERS),
    "unicommerce": _unicommerce_login,
    "elasticpath": _elasticpath_login,
    "zettle": _zettle_login,
}
PROBES = {
    "highlevel": (
        "GET",
        "/products/inventory",
        {"params": {"altId": HL_LOCATION, "altType": "location"}},
    ),
    "webflow": ("GET", "/v2/collections/c1/items/s1/inventory", {}),
    "unicommerce": ("GET", "/productsCount", {}),
    "elasticpath": ("GET", "/v2/inventories", {}),
    "zettle": ("GET", "/organizations/self/locations", {}),
}


class Client:
    """A running sandbox plus shortcuts to its control API."""

    def __init__(self, running):
        self.running = running
        self.url = running.url
        self.platform = running.platform

    def control(self, method: str, path: str, body=None) -> dict:
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self, **body) -> dict:
        return self.control("POST", "seed", body)

    def state(self) -> dict:
        return self.control("GET", "state")

    def fail(self, **switches) -> dict:
        return self.control("POST", "failures", switches)

    def log(self, **params) -> list[dict]:
        response = requests.get(f"{self.url}/_sandbox/requests", params=params, timeout=5)
        return response.json()["requests"]

    def login(self) -> dict:
        """Headers of an authenticated API call on this platform."""
        return LOGINS[self.platform](self.url)

    def probe(self, headers=None, **kwargs) -> requests.Response:
        """An authenticated read every platform answers 200 after a reset."""
        method, path, extra = PROBES[self.platform]
        kwargs.setdefault("timeout", 5)
        return requests.request(
            method, self.url + path, headers=headers or self.login(), **extra, **kwargs
        )
