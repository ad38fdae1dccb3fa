"""A listing's sync state: the one module that writes it, by named transitions.

The fields: `pending_since` (a push is wanted; when the oldest unsent change came),
`change_seq` (bumped by every change), `claimed_by/at/seq` (a run is pushing it, and the
change_seq it saw), `attempts` and `next_attempt_at` (failed tries so far, and when the next
may be), `confirmed_quantity/at` (what the channel last confirmed holding; at None: unknown),
`last_confirmed_at` (when it did, kept through later failures, for people), `status` and
`last_error/at`. Receivers, the push engine, reconcile and drift resolutions, the
admin's actions and the commands all come here; nothing else writes these fields
(Listing.save() of an existing listing writes its ids only).

    transition         when                                 what it writes
    -----------------  -----------------------------------  -----------------------------------
    new listing        created (the model's defaults)       pending since now, status pending
    stock_changed      a stock change in its variant and a  pending (since the oldest change),
                       location its channel sells (raw SQL, change_seq + 1; ok -> pending; the
                       in the change's own transaction)     backoff stays: attempts and next
                                                            try are kept, a failed one waits
                                                            its turn and stays failed
    mark_pending       a variant's selling rules changed;   as stock_changed; `forget`: the
                       the second look after a channel's    confirmation is dropped, so it is
                       locations changed                    sent even if the number did not move
    push_asked         staff asked (Push now, Retry failed, pending, confirmation forgotten,
                       push --all, drift "push ours"), new  attempts 0, next try now, status
                       remote ids or variant, new channel   pending
                       settings, rules or locations
    claim              a run takes it                       claimed by/at, claimed_seq
    keep_claims        now and then during a run            claimed_at now; says which are
                                                            still its own
    sending            right before each write request      claimed_at now; confirmation
                                                            forgotten, next try not before
                                                            the write could still land (see
                                                            below); says which are its own
    in_step            the channel already shows its target status ok, attempts 0; pending
                                                            cleared if no change since claim
    confirm            the channel took the target          confirmed quantity and time, ok,
                                                            attempts 0; pending cleared if no
                                                            change since claim; released
    reject             the channel refused the item         failed, the message, confirmation
                                                            forgotten, attempts + 1, next try
                                                            after a backoff; pending cleared if
                                                            unchanged; released
    retry_later        not applied or not known to be: a    attempts + 1 and a next try after
                       transient failure (5xx, timeout,     backoff, confirmation forgotten (it
                       dropped connection) of its batch,    may have landed); after
                       an answer that left it unknown, a    MAX_ATTEMPTS failed, pending
                       channel that kept moving             cleared; released
    release            a run gives it back (rate limited,   claim dropped, still pending;
                       paused, not tried)                   `answered`: next try now
    observed           a shadow channel was read            confirmed quantity and time as
                                                            read; pending cleared if unchanged;
                                                            released

Every transition after `claim` writes only the listings the run still claims: a claim that
expired (the run was too slow, or dead) may have been taken over by another run, which then
owns those listings' state, and the engine sends nothing for a listing it no longer claims.
A write whose answer never came (a timeout, a dropped connection, a worker killed after it
sent) may still be applied by the channel later: a platform serves a request it took whatever
happened to us. So `sending` forgets the confirmation and holds the listing's next try until
the request can no longer land (our read timeout plus SYNC IN_FLIGHT_WINDOW); an answer lifts
the hold (confirm, reject, retry_later of an answered failure, release(answered=True)). A
listing whose write went unanswered is therefore never left in step on trust, and is pushed
again only once the old request is over: an absolute write then has the last word, and a
read-first (delta, compare-and-set) push reads a level that no old request can still change.

"Pending cleared if unchanged" is the rule that loses nothing: a run clears pending only when
change_seq still equals the claimed_seq it read when it claimed the listing; a change that
arrived meanwhile leaves it pending for the next push.
"""

import functools
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.models import Channel, Listing

OK, PENDING, FAILED = Listing.Status.OK, Listing.Status.PENDING, Listing.Status.FAILED
CHUNK = 5000  # variant ids per statement
SHAPES = 128  # statement shapes (variant and location counts) kept, least recently used dropped
# Locations some channel sells, cached per process: a stock change elsewhere (a supplier, a
# location no channel sells) costs no statement. A process may see a change of a channel's
# locations up to SOLD_TTL late; that change marks the channel's listings pending at once
# and again once every process has seen it (receivers.locations_changed).
SOLD_TTL = 5.0
_sold = {"at": -SOLD_TTL, "locations": frozenset()}


def conf(name):
    return settings.SYNC[name]


def _stays_failed():
    """Status after a change: in step becomes pending; a failed listing stays failed (its
    backoff runs on) until a push confirms it."""
    return Case(When(status=OK, then=Value(PENDING)), default=F("status"))


# --------------------------------------------------------------------------- asking for pushes


def sold_locations():
    if time.monotonic() - _sold["at"] > SOLD_TTL:
        through = Channel.locations.through.objects
        _sold["locations"] = frozenset(through.values_list("location_id", flat=True).distinct())
        _sold["at"] = time.monotonic()
    return _sold["locations"]


def forget_sold_locations():
    """A channel's locations changed: read them again at the next stock change."""
    _sold["at"] = -SOLD_TTL


def stock_changed(variant_ids, location_ids):
    """Mark pending every listing of these variants on a channel selling one of these
    locations; returns the ids of their channels. Runs with every stock mutation, in its
    transaction: raw SQL, built once per shape, one statement marking and returning."""
    if not sold_locations() & location_ids:
        return set()
    conn = connections["default"]
    locations = sorted(location_ids)
    variants = sorted(variant_ids)
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    channel_ids = set()
    with conn.cursor() as cursor:
        for start in range(0, len(variants), CHUNK):
            chunk = variants[start : start + CHUNK]
            cursor.execute(
                _stock_changed_sql(len(chunk), len(locations)), [now, *chunk, *locations]
            )
            channel_ids.update(row[0] for row in cursor.fetchall())
    return channel_ids


@functools.lru_cache(maxsize=SHAPES)
def _stock_changed_sql(n_variants, n_locations):
    q = connections["default"].ops.quote_name
    listing = q(Listing._meta.db_table)
    sold_at = q(Channel.locations.through._meta.db_table)
    marks = ", ".join
    return (
        f"UPDATE {listing} SET change_seq = change_seq + 1, "
        "pending_since = COALESCE(pending_since, %s), "
        f"status = CASE WHEN status = '{OK.value}' THEN '{PENDING.value}' ELSE status END "
        f"WHERE variant_id IN ({marks(['%s'] * n_variants)}) AND channel_id IN "
        f"(SELECT channel_id FROM {sold_at} WHERE location_id IN ({marks(['%s'] * n_locations)})) "
        "RETURNING channel_id"
    )


def mark_pending(listings, *, forget=False):
    """Ask for a push of these listings (a queryset), keeping their backoff; returns how
    many. With `forget`, what the channel last confirmed is dropped, so each is sent even
    where its quantity did not move (a selling rule, new locations)."""
    forgotten = {"confirmed_at": None} if forget else {}
    return Listing.objects.filter(pk__in=listings.values("pk")).update(
        pending_since=Coalesce("pending_since", Value(timezone.now())),
        change_seq=F("change_seq") + 1,
        status=_stays_failed(),
        **forgotten,
    )


def push_asked(listings):
    """Staff (or new ids, new settings) ask for these listings to be sent, whatever the
    channel shows and however often they failed: confirmation forgotten, backoff reset."""
    return Listing.objects.filter(pk__in=listings.values("pk")).update(
        pending_since=Coalesce("pending_since", Value(timezone.now())),
        change_seq=F("change_seq") + 1,
        status=PENDING,
        attempts=0,
        next_attempt_at=None,
        confirmed_at=None,
    )


# --------------------------------------------------------------------------- a run's claims


def claimable(channel):
    return Listing.objects.filter(channel=channel, claimed_by="").pending().due().exists()


def claim(channel, worker_id, limit):
    """Take up to `limit` claimable pending listings of the channel for this worker (their
    variants loaded), oldest change first. An expired claim (a dead run's) is claimable."""
    now = timezone.now()
    expired = now - timedelta(seconds=conf("CLAIM_TTL"))
    with transaction.atomic():
        candidates = (
            Listing.objects.filter(channel=channel)
            .pending()
            .due(now)
            .filter(Q(claimed_by="") | Q(claimed_at__lt=expired))
            .order_by("pending_since", "pk")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        Listing.objects.filter(pk__in=ids).update(
            claimed_by=worker_id, claimed_at=now, claimed_seq=F("change_seq")
        )
    return list(
        Listing.objects.filter(pk__in=ids, claimed_by=worker_id)
        .select_related("variant")
        .order_by("pk")
    )


def keep_claims(worker_id, ids=None):
    """A run still holds what it claimed (its claims would expire at CLAIM_TTL): all of
    them, or `ids`. Returns the `ids` still its own (a claim that expired may have been taken
    over by another run, which then pushes those listings: this one must not)."""
    now = timezone.now()
    mine = Listing.objects.filter(claimed_by=worker_id)
    if ids is None:
        mine.update(claimed_at=now)
        return None
    ids = list(ids)
    if mine.filter(pk__in=ids).update(claimed_at=now) == len(ids):
        return set(ids)
    return set(mine.filter(pk__in=ids).values_list("pk", flat=True))


def sending(ids, worker_id):
    """This run is about to send writes for `ids`: returns those it still claims, each
    marked as written with no answer yet (committed before the request goes out, so that a
    worker killed after sending leaves them unconfirmed and held, never in step on trust)."""
    ids = list(ids)
    now = timezone.now()
    mine = _mine(ids, worker_id)
    held = now + timedelta(seconds=conf("IN_FLIGHT_WINDOW"))
    if mine.update(claimed_at=now, confirmed_at=None, next_attempt_at=held) == len(ids):
        return set(ids)
    return set(_mine(ids, worker_id).values_list("pk", flat=True))


def _mine(ids, worker_id):
    """The listings among `ids` this run still claims: a run writes the state of no other."""
    return Listing.objects.filter(pk__in=list(ids), claimed_by=worker_id)


def release(ids, worker_id, *, forget=False, answered=False):
    """Give listings back, still pending. `forget`: the channel may show anything now.
    `answered`: their write was answered (refused, rate limited) or never sent, so nothing
    of it can land later: they may be tried again at once."""
    changes = {"confirmed_at": None} if forget else {}
    if answered:
        changes["next_attempt_at"] = None
    _mine(ids, worker_id).update(claimed_by="", claimed_at=None, **changes)


def _clear_pending_if_unchanged(ids, worker_id):
    _mine(ids, worker_id).filter(change_seq=F("claimed_seq")).update(pending_since=None)


def in_step(ids, worker_id):
    """The channel already shows these listings' targets (confirmed at them before)."""
    with transaction.atomic():
        _mine(ids, worker_id).update(status=OK, last_error="", attempts=0, next_attempt_at=None)
        _clear_pending_if_unchanged(ids, worker_id)
        release(ids, worker_id)


def confirm(confirmed, worker_id):
    """The channel took these: {listing id: quantity it shows now (None: unlimited)}."""
    now = timezone.now()
    by_quantity = {}
    for key, quantity in confirmed.items():
        by_quantity.setdefault(quantity, []).append(key)
    with transaction.atomic():
        for quantity, ids in by_quantity.items():
            _mine(ids, worker_id).update(
                confirmed_quantity=quantity,
                confirmed_at=now,
                last_confirmed_at=now,
                status=OK,
                last_error="",
                attempts=0,
                next_attempt_at=None,
            )
        _clear_pending_if_unchanged(confirmed, worker_id)
        release(confirmed, worker_id)


def _attempts(ids, worker_id):
    """{id: failed attempts so far}, the rows locked until the transaction ends, so that a
    push staff ask for meanwhile (which resets them) is not undone by a stale count."""
    rows = _mine(ids, worker_id)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update()
    return dict(rows.values_list("pk", "attempts"))


def reject(refused, worker_id):
    """The channel refused these: {listing id: its message}. Not resent at once, whatever
    changes: each waits a backoff that grows with its refusals."""
    now = timezone.now()
    with transaction.atomic():
        for key, attempts in _attempts(refused, worker_id).items():
            tries = attempts + 1
            Listing.objects.filter(pk=key).update(
                status=FAILED,
                last_error=refused[key][:2000],
                last_error_at=now,
                confirmed_at=None,  # it may show anything now: never skipped as in step
                attempts=min(tries, 32_000),
                next_attempt_at=now + timedelta(seconds=backoff(tries)),
            )
        _clear_pending_if_unchanged(refused, worker_id)
        release(refused, worker_id)


def retry_later(failures, worker_id, *, unanswered=False):
    """Not applied, or not known to be: {listing id: why} (a transient failure of their
    batch, an answer that left them unknown, a channel that kept moving). Tried again after
    a backoff; after MAX_ATTEMPTS, given up (failed) until the next change or a push staff
    ask for. `unanswered`: their write got no answer (a timeout, a dropped connection) and
    may still land: the next try waits IN_FLIGHT_WINDOW at least. Returns how many gave up."""
    now = timezone.now()
    least = conf("IN_FLIGHT_WINDOW") if unanswered else 0
    give_up = []
    with transaction.atomic():
        for key, attempts in _attempts(failures, worker_id).items():
            tries = attempts + 1
            why = failures[key]
            changes = {
                "attempts": min(tries, 32_000),
                "next_attempt_at": now + timedelta(seconds=max(backoff(tries), least)),
                # The write may have landed before the error (a timeout, a dropped answer):
                # what the channel shows is unknown until a push is confirmed.
                "confirmed_at": None,
                "last_error": f"attempt {tries}: {why}"[:2000],
                "last_error_at": now,
            }
            if tries >= conf("MAX_ATTEMPTS"):
                give_up.append(key)
                changes["status"] = FAILED
                changes["last_error"] = f"gave up after {tries} attempts: {why}"[:2000]
            Listing.objects.filter(pk=key).update(**changes)
        _clear_pending_if_unchanged(give_up, worker_id)
        release(failures, worker_id)
    return len(give_up)


def observed(shows, ids, worker_id):
    """A shadow channel was read: {listing id: what it shows}; `ids` were all compared."""
    now = timezone.now()
    with transaction.atomic():
        for key, quantity in shows.items():
            _mine([key], worker_id).update(
                confirmed_quantity=quantity, confirmed_at=now, last_confirmed_at=now
            )
        _clear_pending_if_unchanged(ids, worker_id)
        release(ids, worker_id)


def backoff(attempts):
    """Seconds before try `attempts` + 1: base * 2^(n-1), capped, then 50-100% of that."""
    delay = min(conf("BACKOFF_BASE") * 2 ** min(attempts - 1, 30), conf("BACKOFF_MAX"))
    return delay * random.uniform(0.5, 1.0)


def next_try_in(channel):
    """Seconds until the channel's soonest pending listing may be tried again (None: none
    is waiting)."""
    nxt = (
        Listing.objects.filter(channel=channel)
        .pending()
        .exclude(next_attempt_at=None)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if nxt is None:
        return None
    return max((nxt - timezone.now()).total_seconds(), 0.5)
