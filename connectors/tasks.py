"""The rq entry points of the channel side: thin jobs that take ids, load fresh state and are
safe to run twice. connectors.queue enqueues these by name; only the scheduler (config.cron)
imports them.
"""

import logging
import uuid

from django.conf import settings
from django.utils import timezone
from rq import get_current_job

from connectors import queue
from connectors.exceptions import ConnectorError
from connectors.models import Channel
from connectors.services.actions import channel_refresh
from connectors.services.push import burst_hold, sync_channel_run
from connectors.services.reconcile import channel_reconcile

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


def sweep_pending():
    """The scheduler's sweeper: queue the pushes a Redis outage or a dead worker left."""
    return queue.sweep_pending()
