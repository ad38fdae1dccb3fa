"""What the five sandboxes share: the WSGI app skeleton, the control API, failure switches.

A platform module subclasses `Sandbox`, lists its routes in `rules` (the endpoint is the
name of the handler method) and implements the hooks at the bottom of the class. Every
request outside `/_sandbox/` goes through `_serve`, which applies the failure switches,
calls the handler under the sandbox lock and records the exchange in a bounded log.

Control API (JSON, no auth, never failed, rate limited or logged):
    GET    /_sandbox/health          {"platform", "ok", "requests_total"}
    POST   /_sandbox/seed            {"credentials"?, "items"?, "settings"?, ...platform keys}
                                     merges into the state and answers GET /_sandbox/state
    GET    /_sandbox/state           the whole state (tokens shown by prefix only)
    GET    /_sandbox/requests        ?since=SEQ&limit=N&path=PREFIX -> {"total", "requests":
                                     [{seq, time, method, path, query, headers, body, status,
                                     fault, duration_ms}]}; secrets redacted; last 10,000 kept
    DELETE /_sandbox/requests        clears the log (the total keeps counting)
    POST   /_sandbox/reset           default credentials, settings and failures; empty catalog
    POST   /_sandbox/expire-tokens   {"expired": N}: every token issued or seeded so far
    GET|POST|DELETE /_sandbox/failures   read, merge, or restore the switches (faults.py)

Selling (each platform changes its own stock the way it does on a sale, serves its order
listing API and delivers its webhooks, signed its way, to the URLs registered with it):
    POST   /_sandbox/orders          {"lines": [{"remote_id", "remote_parent_id"?, "quantity"}],
                                     "paid"?: true, "id"?} -> {"id", "order"} (409 when the
                                     platform would refuse the sale: not enough stock)
    POST   /_sandbox/orders/<id>     {"action": "pay"|"fulfil"|"cancel"|"refund",
                                     "restock"?: false} -> {"id", "order"}
    POST   /_sandbox/stock           {"remote_id", "remote_parent_id"?, "quantity"}: staff
                                     edit a level in the platform's back-office (its event)
    GET|POST /_sandbox/webhooks      subscriptions made without the platform's API (HighLevel's
                                     app settings): {"url", "events"?} -> the subscription
    GET|DELETE /_sandbox/deliveries  the webhooks sent (status, attempt, fault); clear the log
    POST   /_sandbox/deliveries/flush  send everything held or waiting now
    GET|POST|DELETE /_sandbox/webhook-failures  delivery faults (webhooks.py)
"""

import contextlib
import json
import socket
import threading
import time

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.platforms.sandbox.faults import Failures, RequestLog
from connectors.platforms.sandbox.limits import TokenStore
from connectors.platforms.sandbox.webhooks import Outbox

CONTROL_RULES = [
    Rule("/_sandbox/health", endpoint="control_health", methods=["GET"]),
    Rule("/_sandbox/seed", endpoint="control_seed", methods=["POST"]),
    Rule("/_sandbox/state", endpoint="control_state", methods=["GET"]),
    Rule("/_sandbox/requests", endpoint="control_requests", methods=["GET", "DELETE"]),
    Rule("/_sandbox/reset", endpoint="control_reset", methods=["POST"]),
    Rule("/_sandbox/expire-tokens", endpoint="control_expire_tokens", methods=["POST"]),
    Rule("/_sandbox/failures", endpoint="control_failures", methods=["GET", "POST", "DELETE"]),
    Rule("/_sandbox/orders", endpoint="control_orders", methods=["POST"]),
    Rule("/_sandbox/orders/<order_id>", endpoint="control_order", methods=["POST"]),
    Rule("/_sandbox/stock", endpoint="control_stock", methods=["POST"]),
    Rule("/_sandbox/webhooks", endpoint="control_webhooks", methods=["GET", "POST"]),
    Rule("/_sandbox/deliveries", endpoint="control_deliveries", methods=["GET", "DELETE"]),
    Rule("/_sandbox/deliveries/flush", endpoint="control_flush", methods=["POST"]),
    Rule(
        "/_sandbox/webhook-failures",
        endpoint="control_webhook_failures",
        methods=["GET", "POST", "DELETE"],
    ),
]
ACTIONS = ("pay", "fulfil", "cancel", "refund")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Abort(Exception):
    """Raised by a handler to answer with a ready response (an error, usually)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


class SeedError(ValueError):
    """A control request the sandbox cannot apply; answered with a 400."""


class Refused(SeedError):
    """A sale or status change the platform itself would refuse (not enough stock, an order
    already shipped); answered with a 409."""


def json_response(body, status: int = 200, headers=None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
    )


INVALID = object()


def parse_json(request: Request):
    """The parsed JSON body, None when there is no body, INVALID when it is not JSON."""
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return INVALID


def read_form(request: Request) -> dict:
    """Form fields of a token request; a JSON object body is accepted as well."""
    if (request.mimetype or "").endswith("json"):
        body = parse_json(request)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def merge_settings(settings: dict, changes: dict) -> None:
    for key, value in changes.items():
        if key not in settings:
            raise SeedError(f"unknown setting {key!r}; known: {sorted(settings)}")
        settings[key] = value


class Sandbox:
    """A stateful, threaded-safe WSGI app emulating one platform's inventory API."""

    platform = "base"
    rules: tuple[Rule, ...] = ()
    auth_endpoints: frozenset[str] = frozenset()
    default_settings: dict = {}
    # How the platform retries a webhook delivery (webhooks.Outbox): attempts after the
    # first, and on what ("any" failure, "429" only, "none").
    webhook_retries = 3
    webhook_retry_on = "any"
    outbox_class = Outbox  # a platform whose deliveries change per attempt subclasses it

    def __init__(self):
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.log = RequestLog()
        self.failures = Failures()
        self.outbox = self.outbox_class(
            retries=self.webhook_retries, retry_on=self.webhook_retry_on
        )
        # Rules bind to one Map, so every instance routes with its own copies.
        self.url_map = Map([rule.empty() for rule in (*CONTROL_RULES, *self.rules)])
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.settings = dict(self.default_settings)
            self.tokens = TokenStore()
            self.limiters: dict = {}
            self.failures.reset()
            self.log.clear()
            self.outbox.reset()
            self.reset_state()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            response = self._unrouted(request, exc)
        else:
            if endpoint.startswith("control_"):
                response = self._control(request, endpoint, args)
            else:
                response = self._serve(request, endpoint, args)
        return response(environ, start_response)

    def _unrouted(self, request: Request, exc: HTTPException) -> Response:
        if request.path.startswith("/_sandbox/"):
            return json_response({"error": exc.description}, exc.code or 404)
        if isinstance(exc, MethodNotAllowed):
            return self.error_response(405, "Method Not Allowed")
        if isinstance(exc, NotFound):
            return self.error_response(404, "Not Found")
        return self.error_response(exc.code or 400, exc.description or "Bad Request")

    def _serve(self, request: Request, endpoint: str, args: dict) -> Response:
        started = time.perf_counter()
        request.get_data(cache=True)  # read it now: a dropped connection still logs the body
        request.reply_headers = {}
        in_scope = self.failures.applies(
            request.path, endpoint in self.auth_endpoints, request.method
        )
        with self.lock:
            latency, timeout, fault = self.failures.plan(in_scope)
        if latency:
            self.stopping.wait(latency)
        if timeout:
            self.stopping.wait(timeout)
        if fault == "drop":
            self._record(request, None, "drop", started)
            self._drop(request)
        if fault == "rate_limit":
            response = self.throttled_response(request)
        elif isinstance(fault, int):
            response, fault = self.error_response(fault, "Injected failure"), "error"
        else:
            with self.lock:
                try:
                    response = self.handle(request, endpoint, args)
                except Abort as exc:
                    response = exc.response
                response.headers.update(request.reply_headers)
                applied = request.method not in READ_METHODS and response.status_code < 300
                if applied and in_scope and self.failures.take("drop_after_apply_next"):
                    fault = "drop_after_apply"
            if fault == "drop_after_apply":
                self._record(request, response.status_code, fault, started)
                self._drop(request)
            fault = fault or ("timeout" if timeout else None)
        self._record(request, response.status_code, fault, started)
        return response

    def _record(self, request: Request, status, fault, started) -> None:
        self.log.add(request, status, fault, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _drop(request: Request):
        """Close the socket with no answer; Werkzeug treats the error as a client hang-up."""
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the client may have gone already
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("sandbox dropped the connection on purpose")

    # ----------------------------------------------------------- control API
    def _control(self, request: Request, endpoint: str, args: dict) -> Response:
        body = {}
        if request.method in ("POST", "PUT") and request.get_data(cache=True):
            try:
                body = json.loads(request.get_data(cache=True))
            except ValueError:
                return json_response({"error": "body must be JSON"}, 400)
            if not isinstance(body, dict):
                return json_response({"error": "body must be a JSON object"}, 400)
        try:
            with self.lock:
                return json_response(getattr(self, endpoint)(request, body, **args))
        except Refused as exc:
            return json_response({"error": str(exc)}, 409)
        except SeedError as exc:
            return json_response({"error": str(exc)}, 400)

    def control_health(self, request, body):
        return {"platform": self.platform, "ok": True, "requests_total": self.log.total}

    def control_seed(self, request, body):
        if body.get("settings"):
            merge_settings(self.settings, body.pop("settings"))
            self.limiters.clear()  # limiters are sized from the settings when first used
        self.seed(body)
        return self.state_json()

    def control_state(self, request, body):
        return self.state_json()

    def control_requests(self, request, body):
        if request.method == "DELETE":
            self.log.clear()
            return {"cleared": True}
        args = request.args
        return self.log.to_json(
            since=args.get("since", 0, type=int),
            limit=args.get("limit", None, type=int),
            path=args.get("path"),
        )

    def control_reset(self, request, body):
        self.reset()
        return self.state_json()

    def control_expire_tokens(self, request, body):
        return {"expired": self.tokens.expire_all()}

    def control_failures(self, request, body):
        if request.method == "DELETE":
            self.failures.reset()
        elif request.method == "POST":
            try:
                self.failures.update(body)
            except ValueError as exc:
                raise SeedError(str(exc)) from None
        return self.failures.to_json()

    def control_orders(self, request, body):
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            raise SeedError('an order needs "lines": [{"remote_id", "quantity"}, ...]')
        for line in lines:
            if not isinstance(line, dict) or not line.get("remote_id"):
                raise SeedError("each line needs a remote_id")
            q = line.get("quantity", 1)
            if isinstance(q, bool) or not isinstance(q, int) or q < 1:
                raise SeedError(f"a line's quantity must be a whole number >= 1, not {q!r}")
        return self.sell(body)

    def control_order(self, request, body, order_id):
        action = body.get("action")
        if action not in ACTIONS:
            raise SeedError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        return self.order_action(order_id, action, bool(body.get("restock")))

    def control_stock(self, request, body):
        q = body.get("quantity")
        if not body.get("remote_id") or isinstance(q, bool) or not isinstance(q, int) or q < 0:
            raise SeedError('a stock edit needs "remote_id" and a "quantity" >= 0')
        return self.edit_stock(body)

    def control_webhooks(self, request, body):
        if request.method == "POST":
            if not isinstance(body.get("url"), str) or not body["url"].startswith("http"):
                raise SeedError('a subscription needs "url": "http(s)://..."')
            return self.subscribe(body)
        return {"subscriptions": self.subscriptions()}

    def control_deliveries(self, request, body):
        if request.method == "DELETE":
            self.outbox.clear_log()
        return self.outbox.to_json()

    def control_flush(self, request, body):
        return {"flushed": self.outbox.flush()}

    def control_webhook_failures(self, request, body):
        if request.method == "DELETE":
            self.outbox.reset_switches()
        elif request.method == "POST":
            try:
                self.outbox.update(body)
            except ValueError as exc:
                raise SeedError(str(exc)) from None
        return dict(self.outbox.switches)

    # ------------------------------------------------------- selling hooks
    def sell(self, body: dict) -> dict:
        """A customer buys the lines (paid unless "paid": false): change the platform's own
        stock as it does, store the order, send its webhooks; {"id", "order"}."""
        raise SeedError(f"the {self.platform} sandbox takes no orders")

    def order_action(self, order_id: str, action: str, restock: bool) -> dict:
        raise SeedError(f"the {self.platform} sandbox takes no orders")

    def edit_stock(self, body: dict) -> dict:
        raise SeedError(f"the {self.platform} sandbox has no back-office stock edits")

    def subscribe(self, body: dict) -> dict:
        raise SeedError(f"register {self.platform} webhooks through its API")

    def subscriptions(self) -> list:
        return []

    # ------------------------------------------------------- platform hooks
    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        """Call the route's handler; a platform overrides this to guard every route."""
        return getattr(self, endpoint)(request, **args)

    def reset_state(self) -> None:
        raise NotImplementedError

    def seed(self, body: dict) -> None:
        raise NotImplementedError

    def state_json(self) -> dict:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> Response:
        """The platform's error shape, for injected 5xx and unrouted requests."""
        raise NotImplementedError

    def throttled_response(self, request: Request) -> Response:
        """The platform's 429 with its headers, for the injected burst."""
        raise NotImplementedError

    @property
    def rate_limits_on(self) -> bool:
        return self.failures.switches["rate_limits"]
