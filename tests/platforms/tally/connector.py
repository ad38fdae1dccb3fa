"""Tally's connector: POST /v1/levels sets each level (with its expected quantity in
compare-and-set mode), GET /v1/levels?ids= reads them; an X-Api-Key header."""

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


class TallyConnector(Connector):
    platform = "tally"
    credential_fields = (Setting("api_key", "API key"),)
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
