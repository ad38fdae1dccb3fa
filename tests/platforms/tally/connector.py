"""Tally's connector: POST /v1/levels sets each level (with its expected quantity in
compare-and-set mode), GET /v1/levels?ids= reads them; an X-Api-Key header.

Sales: webhooks {"id", "topic": "order"|"level", "order"|"level": {...}} signed with
X-Tally-Signature = hex HMAC-SHA256(secret, X-Tally-Timestamp + "." + body), five minutes'
tolerance; GET /v1/orders?after=SEQ lists orders changed after a sequence number;
POST /v1/webhooks {"url"} subscribes and answers the signing secret."""

import json

from connectors.platforms import inbound
from connectors.platforms.base import (
    ABSOLUTE,
    COMPARE_AND_SET,
    Batch,
    Capabilities,
    Connector,
    Level,
    Setting,
)

ITEM_CODES = ("not_found", "invalid")
TOLERANCE = 300
STAGES = {
    "placed": inbound.PENDING,
    "paid": inbound.OPEN,
    "shipped": inbound.FULFILLED,
    "cancelled": inbound.CANCELLED,
}


class TallyConnector(Connector):
    platform = "tally"
    credential_fields = (
        Setting("api_key", "API key"),
        Setting("webhook_secret", "Webhook signing secret", required=False),
    )
    webhooks = polls_orders = registers_webhooks = stock_events = True
    setting_fields = (
        Setting(
            "write_mode",
            "Write mode",
            required=False,
            kind="choice",
            choices=(ABSOLUTE, COMPARE_AND_SET),
            help="compare_and_set: each write says what it replaces.",
        ),
    )
    default_retry_after = 2.0

    @property
    def capabilities(self):
        mode = self.setting("write_mode", ABSOLUTE)
        return Capabilities(
            writes=mode, batch_max=50, reads_levels=True, rate_limit=(50, 1), infinite=True
        )

    def auth_headers(self):
        return {"X-Api-Key": self.credentials["api_key"]}

    def write(self, writes):
        cas = self.capabilities.writes == COMPARE_AND_SET
        lines = []
        for write in writes:
            line = {"id": write.item.remote_id}
            line.update({"unlimited": True} if write.target is None else {"quantity": write.target})
            if cas:
                line["expected"] = write.expected
            lines.append(line)
        response = self.request(
            "POST",
            "/v1/levels",
            purpose="write",
            keys=[w.key for w in writes],
            json={"levels": lines},
        )
        if response.status_code != 200:
            self.channel_error(response, "refused the levels")
        results = {r.get("id"): r for r in response.json().get("results") or []}
        batch = Batch(writes)
        for write in writes:
            result = results.get(write.item.remote_id) or {}
            if result.get("ok"):
                batch.ok(write, None if result.get("unlimited") else result.get("quantity"))
            elif result.get("code") == "stale":
                batch.stale(write, result.get("error") or "stale")
            elif result.get("code") in ITEM_CODES:
                batch.rejected(write, result.get("error") or result["code"])
        outcomes = batch.result()
        record = self.exchanges[-1]
        batch.record(record)
        if not all(o.ok for o in outcomes):
            record.outcome = "partial" if any(o.ok for o in outcomes) else "rejected"
        return outcomes

    def read(self, items):
        ids = ",".join(i.remote_id for i in items)
        response = self.request("GET", "/v1/levels", purpose="read", params={"ids": ids})
        if response.status_code != 200:
            self.channel_error(response, "could not read the levels")
        rows = {r["id"]: r for r in response.json().get("levels") or []}
        levels = {}
        for item in items:
            row = rows.get(item.remote_id)
            if row is not None:
                held = int(row.get("quantity") or 0)  # kept under "unlimited" too
                levels[item.key] = Level(None if row.get("unlimited") else held, held)
        return levels

    # ------------------------------------------------------------------ sales

    @classmethod
    def verify_webhook(cls, headers, body, secret, now):
        signature = inbound.header(headers, "x-tally-signature")
        stamp = inbound.header(headers, "x-tally-timestamp")
        if not secret:
            return inbound.Verdict(False, "the channel has no webhook signing secret")
        if not signature or not stamp:
            return inbound.Verdict(False, "no X-Tally-Signature or X-Tally-Timestamp header")
        try:
            sent = float(stamp)
        except ValueError:
            return inbound.Verdict(False, "X-Tally-Timestamp is not a number")
        if not abs(now - sent) <= TOLERANCE:
            return inbound.Verdict(False, "X-Tally-Timestamp is more than five minutes off")
        expected = inbound.hmac_hex(secret, stamp.encode() + b"." + body)
        if not inbound.same(expected, signature):
            return inbound.Verdict(False, "X-Tally-Signature does not match the body")
        return inbound.Verdict(True, "signature valid")

    @classmethod
    def webhook_envelope(cls, headers, body):
        event = _json(body)
        return str(event.get("id") or ""), str(event.get("topic") or "")

    def read_webhook(self, headers, body):
        event = _json(body)
        topic = event.get("topic")
        if topic == "order":
            return inbound.Event(
                str(event.get("id", "")), topic, orders=(_order(event.get("order")),)
            )
        if topic == "level":
            level = event.get("level")
            if not isinstance(level, dict) or not level.get("id"):
                raise inbound.Unreadable("a level event needs level.id")
            quantity = (
                None
                if level.get("unlimited")
                else inbound.whole(level.get("quantity"), "level.quantity")
            )
            change = inbound.StockChange(
                str(level["id"]),
                quantity,
                ours=level.get("actor") == "api",
                sale=level.get("actor") == "sale",
            )
            return inbound.Event(str(event.get("id", "")), topic, stock=(change,))
        return inbound.Event(
            str(event.get("id", "")), str(topic or ""), note=f"topic {topic!r} is not ours"
        )

    def poll_orders(self, cursor, since=None):
        after = 0 if since is not None else int(cursor.get("after") or 0)
        response = self.request("GET", "/v1/orders", purpose="orders", params={"after": after})
        if response.status_code != 200:
            self.channel_error(response, "could not list orders")
        body = response.json()
        orders = [_order(o) for o in body.get("orders") or []]
        return inbound.OrderPage(
            orders, {"after": int(body.get("next") or after)}, bool(body.get("more"))
        )

    def register_webhooks(self, url):
        response = self.request("POST", "/v1/webhooks", purpose="webhooks", json={"url": url})
        if response.status_code != 200:
            self.channel_error(response, "refused the webhook")
        return inbound.Registration(("order", "level"), response.json().get("secret"))


def _json(body):
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise inbound.Unreadable("the body is not JSON") from None
    if not isinstance(event, dict):
        raise inbound.Unreadable("the body is not a JSON object")
    return event


def _order(raw):
    if not isinstance(raw, dict) or not isinstance(raw.get("lines"), list):
        raise inbound.Unreadable("an order needs an id and lines")
    status = str(raw.get("status") or "")
    stage = STAGES.get(status)
    if status == "refunded":
        stage = (
            inbound.RETURNED
            if raw.get("restocked")
            else (inbound.FULFILLED if raw.get("shipped") else inbound.CANCELLED)
        )
    if stage is None:
        raise inbound.Unreadable(f"order status {status[:40]!r} is not one of Tally's")
    lines = []
    for line in raw["lines"]:
        if not isinstance(line, dict):
            raise inbound.Unreadable("an order line must be an object")
        lines.append(
            inbound.OrderLine(
                str(line.get("id") or ""),
                inbound.whole(line.get("quantity"), "line quantity"),
                remote_id=str(line.get("level_id") or ""),
                sku=str(line.get("sku") or ""),
            )
        )
    return inbound.Order(str(raw.get("id") or ""), status, stage, tuple(lines))
