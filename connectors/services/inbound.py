"""Sales and stock changes coming back from the channels: deliveries taken in durably,
processed once, polled for as a safety net.

    receive   the web process, per POST to a channel's webhook URL: the platform's signature
              checked, the delivery stored (secrets removed from its headers) before it is
              answered, its processing queued on commit. A bad signature is a 401 and applies
              nothing; a body that is not the platform's is a 400 with the reason kept; a
              delivery id seen before is kept as a duplicate and ignored; a delivery that
              could not be stored is answered with a status the platform retries.
    process   a worker: the channel's waiting deliveries in arrival order, each in one
              transaction: its orders applied (services.orders), its stock changes settled
              by the channel's policy. A crash leaves it waiting: the sweeper queues it again,
              and applying it again changes nothing that was applied.
    poll      a worker, every POLL_INTERVAL per channel whose platform lists orders: pages of
              orders from the stored cursor, each applied the same way (so a webhook that
              never came is caught, and one that comes later changes nothing).
    take in   before a push: what the channel has told us is applied first, so the push does
              not put back a unit the channel sold (services.push).
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors import listing_state, queue
from connectors.exceptions import ConfigError, ConnectorError
from connectors.models import Channel, InboundRecord, Listing
from connectors.platforms import inbound, registry
from connectors.quantities import targets_for
from connectors.services.channel_io import channel_connector, store_exchanges
from connectors.services.orders import order_apply
from connectors.services.reconcile import channel_count
from inventory.exceptions import InventoryError

log = logging.getLogger(__name__)

Status = InboundRecord.Status
WAITING = (Status.RECEIVED, Status.FAILED)
# Headers never stored: credentials of any kind (the platforms' signatures are not secret:
# they prove a body, and are kept to show why a delivery was refused).
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "x-moltin-secret-key", "apikey"}
)
REDACTED = "[redacted]"
PATIENCE = 60  # a poll waits this long for its turn at the channel's rate
KEPT_REFUSED = 65_536  # characters of a refused delivery's body that are kept
EVENT_MARK_EVERY = 60  # seconds: how fresh a channel's "last delivery" is kept
CHANNEL_TTL = 5.0  # seconds a process trusts what it read of a channel for its webhooks


def conf(name):
    return settings.INBOUND[name]


@dataclass
class Answer:
    """What the webhook endpoint answers."""

    status: int
    text: str


# --------------------------------------------------------------------------- receive


def inbound_receive(token, headers, body):
    """Take in one delivery to the webhook URL with this token; an Answer. `headers`: a
    mapping with lower-case names; `body`: the raw bytes (at most MAX_BODY)."""
    channel, read_now = _channel(token)
    if channel is None:
        return Answer(404, "no channel has this webhook address")
    try:
        cls = registry.connector_class(channel.platform)
    except LookupError:
        return Answer(404, "this channel's platform is no longer installed")
    if not cls.webhooks:
        return Answer(404, f"{cls.platform} sends no webhooks: its orders are polled")
    secret = str(channel.credentials.get(cls.webhook_secret_field) or "")
    verdict = _verdict(cls, headers, body, secret)
    if not verdict.valid and not read_now:
        # A secret changed since this process read the channel (a registration, a form):
        # read it again before refusing.
        channel = _channel(token, fresh=True)[0] or channel
        secret = str(channel.credentials.get(cls.webhook_secret_field) or "")
        verdict = _verdict(cls, headers, body, secret)
    record = InboundRecord(
        channel=channel,
        headers=_redacted(headers, secret),
        body=_text(body, secret),
        signature=InboundRecord.Signature.VALID
        if verdict.valid
        else InboundRecord.Signature.INVALID,
        verdict=_clean(verdict.reason)[:255],
    )
    if not verdict.valid:
        record.body = record.body[:KEPT_REFUSED]  # a forger's megabytes are not worth keeping
        record.status, record.outcome = Status.REJECTED, "nothing applied: " + record.verdict
        return _store(cls, record, Answer(401, verdict.reason))
    try:
        event_id, topic = cls.webhook_envelope(headers, body)
    except inbound.Unreadable as exc:
        record.body = record.body[:KEPT_REFUSED]
        record.status, record.outcome = Status.UNREADABLE, _clean(exc)[:2000]
        return _store(cls, record, Answer(400, _clean(exc)[:500]))
    record.event_id, record.topic = _clean(event_id)[:200], _clean(topic)[:64]
    return _store(cls, record, Answer(200, "received"), process=True)


_known = {}  # webhook token -> (looked up at, channel or None), per process


def _channel(token, fresh=False):
    """(The channel with this webhook token or None, whether it was read just now). It is
    read at most every CHANNEL_TTL seconds per process (a delivery then costs one statement,
    its insert): a deletion or new settings are seen within that time, a new signing secret
    at once (a refused signature reads the channel again)."""
    if not token or len(token) > 64:
        return None, True
    now = time.monotonic()
    known = _known.get(token)
    read_now = fresh or known is None or now - known[0] > CHANNEL_TTL
    if read_now:
        channel = (
            Channel.objects.filter(webhook_token=token)
            .only("pk", "name", "platform", "credentials", "webhook_token")
            .first()
        )
        if len(_known) > 10_000:  # tokens guessed at random must not fill the memory
            _known.clear()
        known = _known[token] = (now, channel)
    return known[1], read_now


def _mark_event(record):
    """The channel's last delivery, kept about once a minute per process: at hundreds of
    deliveries a second, one row updated by every request would have them queue for its
    lock."""
    channel = _known.get(record.channel.webhook_token, (0, None))[1]
    last = getattr(channel, "_marked", None)
    now = time.monotonic()
    if last is not None and now - last < EVENT_MARK_EVERY:
        return
    if channel is not None:
        channel._marked = now
    stale = record.received_at - timedelta(seconds=EVENT_MARK_EVERY)
    Channel.objects.filter(pk=record.channel_id).filter(
        Q(last_event_at__isnull=True) | Q(last_event_at__lt=stale)
    ).update(last_event_at=record.received_at)


def _verdict(cls, headers, body, secret):
    try:
        return cls.verify_webhook(headers, body, secret, time.time())
    except Exception as exc:  # a platform module's bug must not become a 500 or a pass
        log.exception("%s: verifying a webhook failed", cls.platform)
        return inbound.Verdict(False, f"the signature could not be checked ({type(exc).__name__})")


def _store(cls, record, answer, process=False):
    """Store the record (before answering); a duplicate delivery id is kept as such."""
    try:
        try:
            # One statement, committed on its own; inside a transaction (a test's), in a
            # savepoint, so that a refused insert does not break it.
            if transaction.get_autocommit():
                record.save()
            else:
                with transaction.atomic():
                    record.save()
            if process:
                queue.inbound_on_commit(record.channel_id)
        except IntegrityError:  # the delivery id is stored already
            original = InboundRecord.objects.filter(
                channel_id=record.channel_id, event_id=record.event_id, duplicate_of__isnull=True
            ).first()
            record.pk, record.duplicate_of = None, original
            record.status, record.outcome = Status.DUPLICATE, "delivered before: ignored"
            record.save()
            answer = Answer(200, "duplicate: already received")
        if process:
            _mark_event(record)
    except DatabaseError:
        log.exception("could not store a delivery for channel %s", record.channel_id)
        return Answer(cls.store_failed_status, "could not store the delivery; send it again")
    return answer


def _clean(text):
    """Text a database column takes: PostgreSQL's refuse NUL bytes (kept visible, escaped)."""
    return str(text).replace("\x00", "\\x00")


def _redacted(headers, secret):
    kept = {}
    for name, value in list(headers.items())[:100]:
        name, value = _clean(name)[:100], _clean(value)[:2000]
        secret_value = bool(secret) and secret in value
        kept[name] = REDACTED if name.lower() in SECRET_HEADERS or secret_value else value
    return kept


def _text(body, secret=""):
    """The body as text a database column takes (NUL bytes escaped, bad UTF-8 replaced),
    without the signing secret where a platform echoes it (Elastic Path's configuration)."""
    text = body.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return text.replace(secret, REDACTED) if len(secret) >= 8 else text


# --------------------------------------------------------------------------- process


@dataclass
class Processed:
    records: int = 0
    orders: int = 0
    movements: int = 0
    notes: list = field(default_factory=list)


def inbound_process_waiting(channel, limit=500):
    """Process the channel's waiting deliveries, oldest first; a Processed."""
    report = Processed()
    waiting = InboundRecord.objects.filter(
        channel=channel, status__in=WAITING, attempts__lt=conf("MAX_ATTEMPTS")
    ).order_by("received_at", "pk")
    ids = list(waiting.values_list("pk", flat=True)[:limit])
    if not ids:
        return report
    try:
        connector = channel_connector(channel)
    except (ConfigError, LookupError) as exc:
        InboundRecord.objects.filter(pk__in=ids).update(
            status=Status.FAILED, outcome=f"the channel's settings are refused: {exc}"[:2000]
        )
        report.notes.append(str(exc))
        return report
    for record_id in ids:
        inbound_process(channel, connector, record_id, report)
    return report


def inbound_process(channel, connector, record_id, report=None):
    """Apply one stored delivery, in one transaction; a failure leaves it for a retry."""
    report = report or Processed()
    try:
        with transaction.atomic():
            record = (  # another worker on the same channel's deliveries skips this one
                InboundRecord.objects.select_for_update(skip_locked=True)
                .filter(pk=record_id, status__in=WAITING)
                .first()
            )
            if record is None:
                return report  # another worker took it
            _apply_record(channel, connector, record, report)
    except Exception as exc:
        log.exception("processing delivery %s of %s failed", record_id, channel.name)
        InboundRecord.objects.filter(pk=record_id).update(
            status=Status.FAILED,
            attempts=F("attempts") + 1,
            outcome=f"failed, to be tried again: {type(exc).__name__}: {exc}"[:2000],
        )
    report.records += 1
    return report


def _apply_record(channel, connector, record, report):
    record.attempts += 1
    record.processed_at = timezone.now()
    headers = {k.lower(): v for k, v in record.headers.items()}
    try:
        event = connector.read_webhook(headers, record.body.encode("utf-8", "surrogateescape"))
    except inbound.Unreadable as exc:
        record.status, record.outcome = Status.UNREADABLE, _clean(exc)[:2000]
        record.save()
        return
    notes, attention, movements, orders = [], [], [], []
    for order in event.orders:
        applied = order_apply(channel, order)
        orders.append(applied.order)
        movements += [m for m in applied.movements if m is not None]
        notes.append(applied.summary)
        if applied.attention:
            attention.append(applied.summary)
    for change in event.stock:
        note, movement = stock_change_apply(channel, change)
        notes.append(note)
        if movement is not None:
            movements.append(movement)
    if attention:
        record.status = Status.ATTENTION
    elif event.orders or event.stock:
        record.status = Status.PROCESSED
    else:
        record.status = Status.IGNORED
        notes.append(event.note or "nothing in it concerns stock")
    record.outcome = _clean("\n".join(notes))[:10_000]
    record.save()
    record.orders.add(*orders)
    record.movements.add(*movements)
    report.orders += len(orders)
    report.movements += len(movements)
    report.notes += notes


def inbound_retry(record):
    """Staff: process a delivery again (a listing was added for a line that had none)."""
    InboundRecord.objects.filter(pk=record.pk).update(status=Status.RECEIVED, attempts=0)
    queue.inbound_on_commit(record.channel_id)


# --------------------------------------------------------------------------- stock changes


def stock_change_apply(channel, change):
    """Settle one stock change made on the channel's side; (what was done, in words; the
    movement, if one was made)."""
    listing = _listing(channel, change)
    where = "/".join(i for i in (change.remote_parent_id, change.remote_id) if i)
    if listing is None:
        return f"stock of {where} changed: no listing on this channel, ignored", None
    name = f"{listing.variant.sku} shows {_shown(change.quantity)}"
    if change.ours:
        return f"{name}: our own write echoing back, ignored", None
    if change.sale:
        return f"{name}: a sale, taken in from its order", None
    if listing.confirmed_at is not None and change.quantity == listing.confirmed_quantity:
        return f"{name}: what we last confirmed (our own write echoing back), ignored", None
    target = targets_for(channel, [listing.variant])[listing.variant_id].quantity
    if change.quantity == target:
        return f"{name}: what it should show, nothing to do", None
    if channel.remote_changes == Channel.RemoteChanges.ACCEPT:
        return _accept(channel, listing, change.quantity, target)
    listing_state.push_asked(Listing.objects.filter(pk=listing.pk))
    queue.sync_on_commit(channel.pk)
    return f"{name}, should show {_shown(target)}: ours is pushed again", None


def _accept(channel, listing, quantity, target):
    """The channel's number, taken as a count where it holds most of the variant."""
    name = f"{listing.variant.sku} shows {_shown(quantity)}"
    try:
        result = channel_count(
            listing,
            quantity,
            target,
            reason=f"{channel.name} changed {listing.variant.sku} to {quantity} on its side",
            reference=f"{channel.name} stock change",
        )
    except InventoryError as exc:
        return f"{name}: not counted ({exc}); ours is kept", None
    return f"{name}, should show {target}: accepted as a count", result.movement


def _listing(channel, change):
    listings = Listing.objects.filter(channel=channel, remote_id=change.remote_id)
    if change.remote_parent_id:
        listings = listings.filter(remote_parent_id=change.remote_parent_id)
    found = list(listings.select_related("variant")[:2])
    return found[0] if len(found) == 1 else None


def _shown(quantity):
    return "unlimited" if quantity is None else str(quantity)


# --------------------------------------------------------------------------- poll


@dataclass
class Polled:
    pages: int = 0
    orders: int = 0
    movements: int = 0
    attention: int = 0
    cursor: dict = field(default_factory=dict)


def channel_poll(channel, since=None):
    """Take in the channel's orders changed since its cursor (or since `since`); a Polled.
    The cursor is kept after each page, so a crash loses at most one page's progress (and
    applying a page again changes nothing). Raises ConnectorError, noted on the channel."""
    connector = channel_connector(channel, max_wait=PATIENCE)
    if not connector.polls_orders:
        raise ConfigError(f"{channel.name}: {channel.platform_label} cannot list orders")
    report = Polled(cursor=dict(channel.poll_cursor or {}))
    started = timezone.now()
    stored = 0
    try:
        for _ in range(conf("POLL_PAGES")):
            page = connector.poll_orders(report.cursor, since=since)
            with transaction.atomic():
                for order in page.orders:
                    applied = order_apply(channel, order)
                    report.orders += 1
                    report.movements += len(applied.movements)
                    report.attention += bool(applied.attention)
                report.cursor, since = dict(page.cursor), None
                Channel.objects.filter(pk=channel.pk).update(poll_cursor=report.cursor)
                store_exchanges(channel, connector.exchanges[stored:])
                stored = len(connector.exchanges)
            report.pages += 1
            if not page.more:
                break
    except (ConnectorError, inbound.Unreadable) as exc:
        store_exchanges(channel, connector.exchanges[stored:])
        Channel.objects.filter(pk=channel.pk).update(
            last_poll_at=started, last_poll_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    Channel.objects.filter(pk=channel.pk).update(last_poll_at=started, last_poll_error="")
    channel.poll_cursor, channel.last_poll_at = report.cursor, started
    return report


def channel_take_in(channel, *, poll=False):
    """Before a push: the channel's waiting deliveries applied now, and with `poll` its
    orders polled too (a delta channel's level moved since we last confirmed it: a sale we
    have not heard of may be why). Failures only log: the push then goes on as before."""
    report = inbound_process_waiting(channel)
    if poll and registry.connector_class(channel.platform).polls_orders:
        try:
            channel_poll(channel)
        except Exception as exc:
            log.warning("polling %s before its push failed: %s", channel.name, exc)
    return report


# --------------------------------------------------------------------------- registration


def channel_register_webhooks(channel, base_url):
    """Subscribe the channel's webhook URL (`base_url` + its path) with the platform; keeps
    the signing secret it returns as the channel's credential. Returns the Registration;
    raises ConnectorError (or NotImplementedError where the platform has no API for it)."""
    connector = channel_connector(channel)
    if not connector.registers_webhooks:
        raise NotImplementedError(
            f"{channel.platform_label} has no API to register webhooks: set "
            f"{base_url.rstrip('/')}{channel.webhook_path} in its own settings"
        )
    url = base_url.rstrip("/") + channel.webhook_path
    try:
        registration = connector.register_webhooks(url)
    finally:
        store_exchanges(channel, connector.exchanges)
    if registration.secret:
        with transaction.atomic():
            fresh = Channel.objects.select_for_update().get(pk=channel.pk)
            fresh.credentials = {
                **fresh.credentials,
                connector.webhook_secret_field: registration.secret,
            }
            fresh.save(update_fields=["credentials"])
            channel.credentials = fresh.credentials
    return registration
