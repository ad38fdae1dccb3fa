"""Periodic jobs, for `python manage.py rqcron connectors.cron` (started by `make run`)."""

from rq import cron

from connectors.jobs import reconcile_all, sweep_pending

cron.register(sweep_pending, queue_name="sync", interval=30, result_ttl=300)
cron.register(reconcile_all, queue_name="sync", cron="15 3 * * *", result_ttl=86400)
