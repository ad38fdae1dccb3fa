"""The django-rq side of the sync: one queued job per channel at a time, the job itself, and
the sweeper that re-queues whatever has been pending too long.

A burst of stock changes queues one job per channel: a flag in Redis (SET NX) says "a push
of this channel is queued"; the job clears it as it starts, so a change that arrives while
it runs queues the next one. If Redis is down, the change has still committed with its
pending marks, and the sweeper (rq cron, or `manage.py push --pending` from cron) queues
them once Redis is back.
"""

import logging
import time
import uuid
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rq import get_current_job
from rq.job import Job, JobStatus

from connectors import sync
from connectors.models import Channel, Listing

log = logging.getLogger(__name__)

QUEUE = "sync"
FLAG = "inventory:sync-queued:{}"
FLAG_TTL = 600  # a flag outliving its job (Redis restarted, job lost) stops no push for longer
# Committed stock changes per channel and second, counted as they ask for a push: how a job
# tells a burst (many separate changes a second) from ordinary traffic.
TALLY = "inventory:sync-changes:{}:{}"
TALLY_TTL = 10
ALIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


def _connection():
    """One Redis client per process (and per URL: tests switch it), not one per call."""
    url = settings.RQ_QUEUES[QUEUE]["URL"]
    if _clients.get("url") != url:
        _clients.update(url=url, client=django_rq.get_connection(QUEUE))
    return _clients["client"]


_clients = {}


def request_sync(channel_ids, *, delay=None, force=False, tally=False):
    """Queue a push of each channel unless one is already queued; never raises (a failure to
    queue only delays: the pending marks are in the database). `tally`: these are committed
    stock changes; count them towards the channel's rate of changes (see burst_rate)."""
    channel_ids = list(channel_ids)
    if not channel_ids:
        return 0
    try:
        connection = _connection()
        # One round trip for every channel: count the change, and take the flag that says
        # "a push of this channel is queued" where nobody holds it.
        pipe = connection.pipeline(transaction=False)
        second = int(time.time())
        job_ids = {}
        for channel_id in channel_ids:
            if tally:
                pipe.incr(TALLY.format(channel_id, second))
                pipe.expire(TALLY.format(channel_id, second), TALLY_TTL)
            job_ids[channel_id] = f"sync-{channel_id}-{uuid.uuid4().hex[:12]}"
            ttl = int(FLAG_TTL + (delay or 0))
            pipe.set(FLAG.format(channel_id), job_ids[channel_id], nx=not force, ex=ttl)
        answers = pipe.execute()[2::3] if tally else pipe.execute()
    except Exception as exc:  # Redis down or unreachable: the sweeper will queue it later
        log.warning("could not queue the push of channels %s: %s", channel_ids, exc)
        return 0
    queued = 0
    for channel_id, took_flag in zip(channel_ids, answers, strict=True):
        if not took_flag:
            continue
        try:
            _enqueue(connection, channel_id, job_ids[channel_id], delay=delay)
            queued += 1
        except Exception as exc:
            log.warning("could not queue the push of channel %s: %s", channel_id, exc)
    return queued


def _enqueue(connection, channel_id, job_id, *, delay=None):
    queue = django_rq.get_queue(QUEUE, connection=connection)
    options = {"job_id": job_id, "job_timeout": 600, "result_ttl": 3600, "failure_ttl": 86400}
    try:
        if delay:
            queue.enqueue_in(timedelta(seconds=delay), run_sync, channel_id, **options)
        else:
            queue.enqueue(run_sync, channel_id, **options)
    except Exception:
        connection.delete(FLAG.format(channel_id))
        raise


def burst_rate(channel_id):
    """Committed stock changes that asked for a push of the channel, in the last full second
    or in this one so far, whichever is more (0 when Redis cannot say)."""
    second = int(time.time())
    try:
        counts = _connection().mget(
            [TALLY.format(channel_id, second - 1), TALLY.format(channel_id, second)]
        )
    except Exception:
        return 0
    return max(int(c or 0) for c in counts)


def run_sync(channel_id):
    """The job: push the channel's pending listings, then queue what comes next."""
    _connection().delete(FLAG.format(channel_id))
    hold = sync.burst_hold(channel_id, burst_rate(channel_id))
    if hold:
        # A burst of changes is still arriving: one request per item now would be spent on
        # quantities about to change again. Look again shortly (the burst's changes find
        # this push queued).
        request_sync([channel_id], delay=hold)
        return {"held": hold}
    job = get_current_job()
    worker_id = job.id if job else f"inline-{uuid.uuid4().hex[:12]}"
    report = sync.sync_channel_run(channel_id, worker_id)
    if report.more:
        request_sync([channel_id], delay=settings.SYNC["COALESCE"] or None)
    elif report.retry_in is not None:
        request_sync([channel_id], delay=report.retry_in)
    return report.__dict__


def request_refresh(channel_id, delay):
    """In `delay` seconds, mark all the channel's listings pending again (see refresh_channel)."""
    try:
        django_rq.get_queue(QUEUE).enqueue_in(
            timedelta(seconds=delay), refresh_channel, channel_id, result_ttl=600
        )
    except Exception as exc:
        log.warning("could not schedule the refresh of channel %s: %s", channel_id, exc)


def refresh_channel(channel_id):
    """Every listing's target again, once all processes see the channel's new locations;
    those already confirmed at it cost nothing."""
    from connectors.services import listings_mark_pending

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is not None:
        listings_mark_pending(channel.listings.all(), forget=False)
        request_sync([channel_id])


def sweep_pending():
    """Queue a push for every channel with listings pending longer than SWEEP_AFTER whose
    push is not queued or running (its flag missing, or naming a job that is gone)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC["SWEEP_AFTER"])
    channel_ids = set(
        Listing.objects.filter(pending_since__lt=stale)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(channel__mode=Channel.Mode.PAUSED)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    connection = _connection()
    queued = []
    for channel_id in sorted(channel_ids):
        job_id = connection.get(FLAG.format(channel_id))
        if job_id and _alive(connection, job_id.decode()):
            continue
        if request_sync([channel_id], force=True):
            queued.append(channel_id)
    return queued


def _alive(connection, job_id):
    try:
        return Job.fetch(job_id, connection=connection).get_status() in ALIVE
    except Exception:  # no such job any more
        return False


def request_reconcile(channel_id):
    """Queue one channel's reconcile (at most one queued at a time); False if it could not be.
    On the default queue: reading a large channel takes long, and pushes must not wait."""
    queue = django_rq.get_queue("default")
    job_id = f"reconcile-{channel_id}"
    try:
        if _alive(queue.connection, job_id):
            return True
        queue.enqueue(
            reconcile_one,
            channel_id,
            job_id=job_id,
            job_timeout=3600,
            result_ttl=86400,
            failure_ttl=86400,
        )
    except Exception as exc:
        log.warning("could not queue the reconcile of channel %s: %s", channel_id, exc)
        return False
    return True


def reconcile_one(channel_id):
    """The job behind the admin's Reconcile: how many listings differ (drifts are recorded);
    a failure is noted on the channel, for its health columns."""
    from connectors.exceptions import ConnectorError
    from connectors.reconcile import channel_reconcile

    channel = Channel.objects.get(pk=channel_id)
    try:
        return len(channel_reconcile(channel))
    except ConnectorError as exc:
        Channel.objects.filter(pk=channel_id).update(
            last_error_at=timezone.now(), last_error=f"reconcile: {exc.kind}: {exc}"[:2000]
        )
        raise


def reconcile_all():
    """The scheduler's daily reconcile: report drift on every channel that can read levels."""
    from connectors.reconcile import channel_reconcile

    found = {}
    for channel in Channel.objects.exclude(mode=Channel.Mode.PAUSED):
        try:
            found[channel.name] = len(channel_reconcile(channel))
        except Exception as exc:  # one channel's failure must not stop the others
            log.warning("reconcile of %s failed: %s", channel.name, exc)
    return found


def queue_depth():
    """Jobs of the sync queue by state (None when Redis cannot be reached)."""
    try:
        queue = django_rq.get_queue(QUEUE)
        return {
            "queued": queue.count,
            "scheduled": queue.scheduled_job_registry.count,
            "running": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
        }
    except Exception:
        return None
