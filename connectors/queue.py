"""Asking for work: one queued push per channel at a time, refreshes, reconciles, the sweeper.

A burst of stock changes queues one job per channel: a flag in Redis (SET NX) says "a push
of this channel is queued"; the job clears it as it starts, so a change that arrives while
it runs queues the next one. If Redis is down, the change has still committed with its
pending marks, and the sweeper (rq cron, or `manage.py push --pending`) queues them once
Redis is back. Jobs are queued by the dotted name of their function in connectors.tasks,
which nothing imports: the entry points sit above everything they call.
"""

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from connectors.models import Channel, InboundRecord, Listing
from connectors.platforms.pacing import RedisStore

log = logging.getLogger(__name__)

QUEUE = "sync"
SYNC_TASK = "connectors.tasks.sync_channel"
REFRESH_TASK = "connectors.tasks.refresh_channel"
RECONCILE_TASK = "connectors.tasks.reconcile_channel"
INBOUND_TASK = "connectors.tasks.process_inbound"
POLL_TASK = "connectors.tasks.poll_channel"
INBOUND_FLAG = "inventory:inbound-queued:{}"
POLL_FLAG = "inventory:poll-queued:{}"
FLAG = "inventory:sync-queued:{}"
FLAG_TTL = 600  # a flag outliving its job (Redis restarted, job lost) stops no push for longer
# Committed stock changes per channel and second, counted as they ask for a push: how a job
# tells a burst (many separate changes a second) from ordinary traffic.
TALLY = "inventory:sync-changes:{}:{}"
TALLY_TTL = 10
OVERDUE = 10  # seconds a scheduled job may wait past its time (a scheduler looks every 1 s)
HEARTBEATS_MISSED = 4  # a started job whose worker missed this many heartbeats is dead
ALIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}

_clients = {}


def redis():
    """One Redis client per process (and per URL: tests switch it), not one per call."""
    url = settings.RQ_QUEUES[QUEUE]["URL"]
    if _clients.get("url") != url:
        client = django_rq.get_connection(QUEUE)
        _clients.update(url=url, client=client, pacing=RedisStore(client))
    return _clients["client"]


def pacing_store():
    """Where every worker keeps the channels' pacing (connectors.platforms.pacing)."""
    redis()
    return _clients["pacing"]


def request_sync(channel_ids, *, delay=None, force=False, tally=False):
    """Queue a push of each channel unless one is already queued; never raises (a failure to
    queue only delays: the pending marks are in the database). `tally`: these are committed
    stock changes; count them towards the channel's rate of changes (see burst_rate)."""
    channel_ids = list(channel_ids)
    if not channel_ids:
        return 0
    try:
        connection = redis()
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
            queue.enqueue_in(timedelta(seconds=delay), SYNC_TASK, channel_id, **options)
        else:
            queue.enqueue(SYNC_TASK, channel_id, **options)
    except Exception:
        connection.delete(FLAG.format(channel_id))
        raise


def take_flag(channel_id):
    """The queued push is starting: a change from now on queues the next one."""
    redis().delete(FLAG.format(channel_id))


def burst_rate(channel_id):
    """Committed stock changes that asked for a push of the channel, in the last full second
    or in this one so far, whichever is more (0 when Redis cannot say)."""
    second = int(time.time())
    try:
        counts = redis().mget(
            [TALLY.format(channel_id, second - 1), TALLY.format(channel_id, second)]
        )
    except Exception:
        return 0
    return max(int(c or 0) for c in counts)


# --------------------------------------------------------------------------- on commit

_wanted = threading.local()


def request_on_commit(channel_ids, *, at_once=False):
    """Ask, once the transaction commits, for one push per channel however many listings or
    changes asked within it (an import of 10,000 rows queues one job per channel). Every
    call registers a callback, so a rolled-back transaction loses nobody's request: the
    first callback to run takes all the ids gathered, the others find nothing left.
    `at_once`: no coalescing wait (a sale: each second the other channels still show the
    sold unit is a second they may sell it again)."""
    wanted = getattr(_wanted, "ids", None)
    if wanted is None:
        wanted = _wanted.ids = set()
        _wanted.at_once = False
    wanted.update(channel_ids)
    _wanted.at_once = _wanted.at_once or at_once
    transaction.on_commit(_flush, robust=True)


def _flush():
    channel_ids, _wanted.ids = getattr(_wanted, "ids", None) or set(), None
    if channel_ids:
        # A short wait lets a burst of changes gather into full batches; later changes find
        # the push already queued, and the worker reads the latest stock when it runs.
        delay = None if getattr(_wanted, "at_once", False) else settings.SYNC["COALESCE"] or None
        request_sync(sorted(channel_ids), delay=delay, tally=True)


def sync_on_commit(channel_id):
    """Once committed, queue a push of the channel now (staff asked for it)."""
    transaction.on_commit(lambda: request_sync([channel_id]), robust=True)


# --------------------------------------------------------------------------- other jobs


def request_refresh(channel_id, delay):
    """In `delay` seconds, mark all the channel's listings pending again (tasks.refresh_channel)."""
    try:
        django_rq.get_queue(QUEUE).enqueue_in(
            timedelta(seconds=delay), REFRESH_TASK, channel_id, result_ttl=600
        )
    except Exception as exc:
        log.warning("could not schedule the refresh of channel %s: %s", channel_id, exc)


def request_reconcile(channel_id):
    """Queue one channel's reconcile (at most one queued at a time); False if it could not be.
    On the default queue: reading a large channel takes long, and pushes must not wait."""
    queue = django_rq.get_queue("default")
    job_id = f"reconcile-{channel_id}"
    try:
        if _alive(queue.connection, job_id):
            return True
        queue.enqueue(
            RECONCILE_TASK,
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


def sweep_pending():
    """Queue a push for every channel with listings pending longer than SWEEP_AFTER whose
    push is not queued or running (its flag missing, or naming a job that is gone)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNC["SWEEP_AFTER"])
    due = Listing.objects.filter(pending_since__lt=stale).due(now)
    channel_ids = set(
        due.exclude(channel__mode=Channel.Mode.PAUSED)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    connection = redis()
    queued = []
    # A push runs for RUN_BUDGET at most (and its last batch a little longer).
    longest = settings.SYNC["RUN_BUDGET"] + 60
    for channel_id in sorted(channel_ids):
        job_id = connection.get(FLAG.format(channel_id))
        if job_id and _alive(connection, job_id.decode(), longest):
            continue
        if request_sync([channel_id], force=True):
            queued.append(channel_id)
    return queued


def _alive(connection, job_id, longest=None):
    """Whether the job is queued, scheduled or running. A job running for longer than
    `longest` seconds counts as dead, and so does one whose worker has sent no heartbeat
    for HEARTBEATS_MISSED x RQ_JOB_HEARTBEAT seconds: a worker SIGKILLed mid-job (or just
    as its work horse took the job, before the push took its channel's flag) leaves it
    "started" until rq's own clean-up, minutes later, and its channel must not wait that
    long. So does a job scheduled more than OVERDUE seconds ago and still waiting: no
    scheduler is running (its worker was killed, and the others take its lock only at their
    maintenance)."""
    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status()
    except Exception:  # no such job any more
        return False
    if status == JobStatus.SCHEDULED and longest is not None:
        try:
            due = ScheduledJobRegistry(job.origin, connection=connection).get_scheduled_time(job)
        except Exception:  # left the registry meanwhile: queued, or gone
            return True
        return (datetime.now(UTC) - _aware(due)).total_seconds() <= OVERDUE
    if status == JobStatus.STARTED and longest is not None and job.started_at is not None:
        now = datetime.now(UTC)
        beat = job.last_heartbeat or job.started_at
        silent = (now - _aware(beat)).total_seconds()
        return (now - _aware(job.started_at)).total_seconds() <= longest and silent <= (
            HEARTBEATS_MISSED * settings.RQ_JOB_HEARTBEAT
        )
    return status in ALIVE


def _aware(moment):
    """rq's datetimes (naive in UTC, or aware) as aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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


# --------------------------------------------------------------------------- sales coming back


def request_inbound(channel_id):
    """Queue the processing of the channel's waiting deliveries unless it is queued already;
    never raises (the deliveries are stored: the sweeper queues them later)."""
    return _request_once(INBOUND_FLAG, INBOUND_TASK, channel_id, "inbound")


def inbound_on_commit(channel_id):
    transaction.on_commit(lambda: request_inbound(channel_id), robust=True)


def request_poll(channel_id, since=None):
    """Queue a poll of the channel's orders unless one is queued already. On the default
    queue, like a reconcile: a poll of a large shop reads for a while, and the pushes and
    deliveries of the sync queue must not wait behind it."""
    return _request_once(POLL_FLAG, POLL_TASK, channel_id, "poll", since, queue="default")


def _request_once(flag, task, channel_id, name, *args, queue=QUEUE):
    try:
        connection = redis()
        job_id = f"{name}-{channel_id}-{uuid.uuid4().hex[:12]}"
        if not connection.set(flag.format(channel_id), job_id, nx=True, ex=FLAG_TTL):
            return False
        django_rq.get_queue(queue).enqueue(
            task, channel_id, *args, job_id=job_id, result_ttl=600, failure_ttl=86400
        )
    except Exception as exc:
        log.warning("could not queue %s of channel %s: %s", name, channel_id, exc)
        return False
    return True


def take_inbound_flag(channel_id):
    _take(INBOUND_FLAG, channel_id)


def take_poll_flag(channel_id):
    _take(POLL_FLAG, channel_id)


def _take(flag, channel_id):
    try:
        redis().delete(flag.format(channel_id))
    except Exception as exc:
        log.warning("could not clear %s: %s", flag.format(channel_id), exc)


def sweep_inbound(polling):
    """Queue the processing of deliveries waiting longer than INBOUND SWEEP_AFTER, and a poll
    of each channel in `polling` (ids of channels whose platform lists orders) not polled
    within POLL_INTERVAL; returns (channels whose deliveries were queued, channels polled)."""
    now = timezone.now()
    conf = settings.INBOUND
    stale = now - timedelta(seconds=conf["SWEEP_AFTER"])
    waiting = InboundRecord.objects.filter(
        status__in=[InboundRecord.Status.RECEIVED, InboundRecord.Status.FAILED],
        received_at__lt=stale,
        attempts__lt=conf["MAX_ATTEMPTS"],
    )
    connection = redis()
    queued = []
    for channel_id in sorted(set(waiting.values_list("channel_id", flat=True).distinct())):
        job_id = connection.get(INBOUND_FLAG.format(channel_id))
        # Applying deliveries twice at once is safe (each is locked, each step keyed): one
        # running longer than the sweeper's wait is given company rather than trusted.
        if job_id and _alive(connection, job_id.decode(), conf["SWEEP_AFTER"]):
            continue
        connection.delete(INBOUND_FLAG.format(channel_id))
        if request_inbound(channel_id):
            queued.append(channel_id)
    # The sweeper comes every SWEEP_EVERY: a poll starts on the last visit before its
    # interval is up, so no two polls are further apart than POLL_INTERVAL.
    due = now - timedelta(seconds=max(conf["POLL_INTERVAL"] - conf["SWEEP_EVERY"], 0))
    polled = []
    for channel in Channel.objects.filter(pk__in=polling).exclude(mode=Channel.Mode.PAUSED):
        if channel.last_poll_at is not None and channel.last_poll_at > due:
            continue
        job_id = connection.get(POLL_FLAG.format(channel.pk))
        if job_id and _alive(connection, job_id.decode(), conf["POLL_INTERVAL"]):
            continue
        connection.delete(POLL_FLAG.format(channel.pk))
        if request_poll(channel.pk):
            polled.append(channel.pk)
    return queued, polled
