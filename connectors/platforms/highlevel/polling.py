"""Where a poll of HighLevel's orders stands, kept on the channel as its cursor.

GET /payments/orders filters by a creation window (`startAt`/`endAt`, dates) and pages by
offset; nothing lists orders by when they changed (channels-inbound.md §2.4). So each pass
walks the whole window, the last `window_days` days, one page a call, and the cursor keeps
a short fingerprint of every order of the window as last seen: a row whose fingerprint
differs, or that was never seen, is fetched in full. A change is never lost to the paging:
a row that moved between pages (new orders come first) is seen twice or, at worst, on the
next pass, since its fingerprint still differs from the one kept.

The cursor is {"seen": {orderId: "<fingerprint> <creation date>"}, "pass": {"start", "end",
"offset", "since"}}. Orders created before the window leave "seen" at the end of each pass,
and at most MAX_SEEN are kept (the newest): it does not grow without bound.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from connectors.platforms.highlevel.orders import fingerprint
from connectors.platforms.highlevel.signatures import parse_time

MAX_SEEN = 20_000


@dataclass
class OrderPoll:
    start: str
    end: str
    offset: int = 0
    since: datetime | None = None
    seen: dict = field(default_factory=dict)
    over: bool = False  # the pass has seen its last page: the next poll starts a new one

    @classmethod
    def resume(cls, cursor, since, now, window_days):
        """The pass under way in `cursor`, or a new one over the window ending today; a new
        `since` starts a new pass whose window reaches back to it."""
        cursor = cursor if isinstance(cursor, dict) else {}
        seen = cursor.get("seen")
        seen = (
            {k: v for k, v in seen.items() if isinstance(v, str)} if isinstance(seen, dict) else {}
        )
        since = since.astimezone(UTC) if since is not None else None
        run = cursor.get("pass")
        if isinstance(run, dict) and (since is None or parse_time(run.get("since")) == since):
            try:
                start, end = _date(run["start"]), _date(run["end"])
                offset = max(int(run["offset"]), 0)
            except (KeyError, TypeError, ValueError):
                pass  # a cursor of another shape: start over
            else:
                return cls(start, end, offset, parse_time(run.get("since")), seen)
        start = (now - timedelta(days=window_days)).date()
        if since is not None:
            start = min(start, since.date())
        end = (now + timedelta(days=1)).date()  # the platform's day may be a later one
        return cls(start.isoformat(), end.isoformat(), 0, since, seen)

    def changed(self, row) -> bool:
        """The row's order is new or changed since the last pass (or since `since`)."""
        kept = self.seen.get(row["_id"], "")
        if kept.split(" ")[0] != fingerprint(row):
            return True
        if self.since is None:
            return False
        updated = parse_time(row.get("updatedAt"))
        return updated is None or updated >= self.since

    def saw(self, row):
        created = str(row.get("createdAt") or "")[:10] or self.end
        self.seen[row["_id"]] = f"{fingerprint(row)} {created}"

    def advance(self, listed: int, total, page: int) -> bool:
        """Move past a page of `listed` rows of `total` (the answer's totalCount); True while
        the pass has more pages."""
        self.offset += listed
        known = isinstance(total, int | float) and not isinstance(total, bool)
        if listed and (self.offset < total if known else listed >= page):
            return True
        self.seen = {k: v for k, v in self.seen.items() if v.split(" ")[-1] >= self.start}
        if len(self.seen) > MAX_SEEN:
            newest = sorted(self.seen.items(), key=lambda kv: kv[1].split(" ")[-1])[-MAX_SEEN:]
            self.seen = dict(newest)
        self.over = True
        return False

    def cursor(self) -> dict:
        if self.over:
            return {"seen": self.seen}
        since = self.since.isoformat() if self.since else None
        run = {"start": self.start, "end": self.end, "offset": self.offset, "since": since}
        return {"seen": self.seen, "pass": run}


def _date(value) -> str:
    """A date of the cursor, checked (ValueError otherwise)."""
    return date.fromisoformat(value).isoformat()
