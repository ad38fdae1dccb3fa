"""Every periodic job of the app, for `python manage.py rqcron config.cron` (started by
`make run`; run it in one process of the deployment)."""

from django.conf import settings
from rq import cron

from connectors.tasks import purge_push_records, reconcile_all, sweep_inbound, sweep_pending
from inventory.imports.jobs import job_purge

# Channels: re-queue pushes pending too long (a Redis outage, a killed worker)...
cron.register(sweep_pending, queue_name="sync", interval=30, result_ttl=300)
# Sales: deliveries left waiting are queued again, and channels are polled for orders when due.
cron.register(
    sweep_inbound, queue_name="sync", interval=settings.INBOUND["SWEEP_EVERY"], result_ttl=300
)
# ...and compare every channel with what it should show, once a day.
cron.register(reconcile_all, queue_name="sync", cron="15 3 * * *", result_ttl=86400)
# Uploaded files older than IMPORT_KEEP_DAYS are dropped (their results stay).
cron.register(job_purge, queue_name="imports", cron="45 3 * * *", result_ttl=86400)
# Push records older than PUSH_RECORD_DAYS go (each listing's latest exchange stays).
cron.register(purge_push_records, queue_name="default", cron="0 4 * * *", result_ttl=86400)
