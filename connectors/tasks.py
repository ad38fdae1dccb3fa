"""The rq entry points of the channel side: thin jobs that take ids, load fresh state and are
safe to run twice. connectors.queue enqueues these by name; only the scheduler (config.cron)
imports them.
"""

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from rq import get_current_job

from connectors import queue
from connectors.exceptions import ConnectorError
from connectors.models import Channel
from connectors.platforms import inbound, registry
from connectors.services.actions import channel_refresh
from connectors.services.inbound import channel_poll, inbound_process_waiting
from connectors.services.push import burst_hold, sync_channel_run
from connectors.services.reconcile import channel_reconcile
from connectors.services.retention import push_records_purge

log = logging.getLogger(__name__)


def sync_channel(channel_id):
    """Push the channel's pending listings, then queue what comes next."""
    queue.take_flag(channel_id)
    hold = burst_hold(channel_id, queue.burst_rate(channel_id))
    if hold:
        # A burst of changes is still arriving: one request per item now would be spent on
        # quantities about to change again. Look again shortly (the burst's changes find
        # this push queued).
        queue.request_sync([channel_id], delay=hold)
        return {"held": hold}
    job = get_current_job()
    worker_id = job.id if job else f"inline-{uuid.uuid4().hex[:12]}"
    report = sync_channel_run(channel_id, worker_id)
    if report.more:
        queue.request_sync([channel_id], delay=settings.SYNC["COALESCE"] or None)
    elif report.retry_in is not None:
        queue.request_sync([channel_id], delay=report.retry_in)
    return report.__dict__


def refresh_channel(channel_id):
    """Every listing's target again, once all processes see the channel's new locations."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is not None:
        channel_refresh(channel)


def reconcile_channel(channel_id):
    """The job behind the admin's Reconcile: how many listings differ (drifts are recorded);
    a failure is noted on the channel, for its health columns."""
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
    found = {}
    for channel in Channel.objects.exclude(mode=Channel.Mode.PAUSED):
        try:
            found[channel.name] = len(channel_reconcile(channel))
        except Exception as exc:  # one channel's failure must not stop the others
            log.warning("reconcile of %s failed: %s", channel.name, exc)
    return found


def purge_push_records():
    """The scheduler's daily purge of push records older than PUSH_RECORD_DAYS (each
    listing's latest kept); returns how many went."""
    return push_records_purge()


def sweep_pending():
    """The scheduler's sweeper: queue the pushes a Redis outage or a dead worker left."""
    return queue.sweep_pending()


def process_inbound(channel_id):
    """Apply the channel's waiting deliveries (webhooks stored by the web process)."""
    queue.take_inbound_flag(channel_id)
    channel = Channel.objects.prefetch_related("locations").filter(pk=channel_id).first()
    if channel is None:
        return None
    report = inbound_process_waiting(channel)
    if report.records >= 500:  # more were waiting than one job takes
        queue.request_inbound(channel_id)
    return report.__dict__


def poll_channel(channel_id, since=None):
    """Take in the channel's orders changed since its cursor (or `since`, an ISO date)."""
    queue.take_poll_flag(channel_id)
    channel = Channel.objects.prefetch_related("locations").filter(pk=channel_id).first()
    if channel is None:
        return None
    when = datetime.fromisoformat(since) if since else None
    try:
        return channel_poll(channel, since=when).__dict__
    except (ConnectorError, inbound.Unreadable) as exc:
        # Noted on the channel (its page and the dashboard say it); the sweeper polls it
        # again when due. An unreachable channel is an operational state, not a bug: one
        # line in the log, no traceback (a worker started before its sandboxes, a store down).
        log.warning("polling %s failed: %s", channel.name, exc)
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def sweep_inbound():
    """The scheduler's sweeper of sales: deliveries left waiting (Redis was down, a worker
    died) are queued again, and each channel whose platform lists orders is polled when due."""
    polling = [
        channel.pk
        for channel in Channel.objects.exclude(mode=Channel.Mode.PAUSED)
        if _polls(channel.platform)
    ]
    queued, polled = queue.sweep_inbound(polling)
    return {"queued": queued, "polled": polled}


def _polls(platform):
    try:
        return registry.connector_class(platform).polls_orders
    except LookupError:  # no longer registered
        return False
