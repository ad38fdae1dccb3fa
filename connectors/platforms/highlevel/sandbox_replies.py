"""What every route of HighLevel's sandbox answers with: its error bodies (NestJS's shape)
and its time stamps."""

from datetime import UTC, datetime, timedelta

from connectors.platforms.sandbox.base import json_response


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(when: datetime) -> str:
    """HighLevel's time stamps: UTC, milliseconds, a Z."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def later_than(previous) -> str:
    """Now, or a millisecond after `previous` where the clock has not moved past it: an
    order's updatedAt changes with every change, which is what a poll looks for."""
    now = datetime.now(UTC)
    try:
        before = datetime.fromisoformat(previous)
    except (TypeError, ValueError):
        return iso(now)
    before = before if before.tzinfo else before.replace(tzinfo=UTC)
    return iso(max(now, before + timedelta(milliseconds=1)))


def hl_error(status: int, message, error: str | None = None):
    body = {"statusCode": status, "message": message}
    if error:
        body["error"] = error
    return json_response(body, status)


def unprocessable(messages: list[str]):
    return hl_error(422, messages, "Unprocessable Entity")


def location_errors(args) -> list[str]:
    """The messages of a route's missing altId or wrong altType."""
    errors = []
    if not isinstance(args.get("altId"), str) or not args.get("altId"):
        errors.append("altId should not be empty")
    if args.get("altType") != "location":
        errors.append("altType must be one of the following values: location")
    return errors
