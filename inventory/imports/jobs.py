"""Running an uploaded file: its check (a dry run: what each row will do) and, once the person
confirms, its import. A file of up to IMPORT_INLINE_MAX_ROWS rows runs in the request; a
larger one in an rqworker of the "imports" queue, reporting its progress in the RQ job's meta,
where the job's page reads it. Both ways run `run_stage`, which takes an id, loads fresh state
and is safe to run twice: an import already done is not done again, and a stock import passes
an idempotency key (its file's, or the job's own when the person imports a file again), so even
a worker killed after its commit cannot apply a file twice. A stock import expects the on hand
its check showed, row by row: it applies what the person saw, or nothing (STALE).
"""

import contextlib
import logging
import time
from datetime import timedelta

import django_rq
import rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.module_loading import import_string
from django.utils.translation import ngettext

from inventory.imports import words
from inventory.imports.files import FileProblem, read_table
from inventory.imports.stock import movement_text
from inventory.models import ImportJob

log = logging.getLogger(__name__)

CHECK, IMPORT = "check", "import"
QUEUE = "imports"
# Changed rows kept on the job for its page (the totals count them all).
SHOWN = 200
Status = ImportJob.Status


def inline_max_rows():
    return getattr(settings, "IMPORT_INLINE_MAX_ROWS", 10_000)


def max_rows():
    return getattr(settings, "IMPORT_MAX_ROWS", 250_000)


def job_create(*, resource_class, data, file_name, options=None, user=None):
    """An ImportJob for an uploaded file, or a FileProblem if the file cannot be read."""
    dataset = read_table(data)
    if len(dataset) > max_rows():
        # Memory grows with the rows (about 2 KB each while a stock file is imported).
        raise FileProblem(
            f"The file has {len(dataset):,} rows; an upload may have {max_rows():,}: split it."
        )
    return ImportJob.objects.create(
        resource=f"{resource_class.__module__}.{resource_class.__qualname__}",
        what=resource_class.get_display_name(),
        file_name=file_name[:255],
        data=bytes(data),
        options=options or {},
        user=user,
        rows=len(dataset),
    )


def job_start(job, stage):
    """Run the stage now (a small file) or queue it for a worker (a large one)."""
    status = Status.CHECKING if stage == CHECK else Status.IMPORTING
    ImportJob.objects.filter(pk=job.pk).update(status=status, started_at=None, finished_at=None)
    job.status = status
    if job.rows <= inline_max_rows():
        # A failure is logged and recorded on the job (FAILED), and its page shows it.
        with contextlib.suppress(Exception):
            run_stage(job.pk, stage)
        job.refresh_from_db()
        return
    try:
        django_rq.get_queue(QUEUE).enqueue(
            run_stage,
            job.pk,
            stage,
            job_id=rq_job_id(job, stage),
            job_timeout=3600,
            result_ttl=86400,
            failure_ttl=7 * 86400,
        )
    except Exception as exc:  # Redis unreachable: say so on the page, keep nothing running
        log.warning("could not queue import #%s: %s", job.pk, exc)
        _finish(job.pk, Status.FAILED, error=f"The job queue is unreachable ({exc}); try again.")
        job.refresh_from_db()


def job_purge(days=None):
    """Drop the stored files of uploads older than `days` (IMPORT_KEEP_DAYS): finished ones
    keep their totals, problems and movement; checked ones never confirmed can no longer be
    and say so. Returns how many files were dropped."""
    days = getattr(settings, "IMPORT_KEEP_DAYS", 30) if days is None else days
    before = timezone.now() - timedelta(days=days)
    old = ImportJob.objects.filter(created_at__lt=before).exclude(data=b"")
    with transaction.atomic():
        expired = old.filter(status__in=[Status.CHECKED, Status.STALE]).update(
            status=Status.FAILED,
            data=b"",
            previewed=None,
            finished_at=timezone.now(),
            error=f"Checked but not confirmed within {days} days; its file was dropped. "
            "Upload the file again to import it.",
        )
        finished = old.filter(status__in=[Status.DONE, Status.REFUSED, Status.FAILED]).update(
            data=b"", previewed=None
        )
    return expired + finished


def rq_job_id(job, stage):
    """The queue's id for one stage of one upload. The upload's creation time is part of it:
    ids restart with a fresh database while Redis keeps old jobs (their result and progress
    for a day), and one upload must never read another's progress."""
    return f"import-{job.pk}-{job.created_at:%Y%m%d%H%M%S%f}-{stage}"


def run_stage(job_id, stage):
    """Check (dry run) or import the job's file; record totals, problems and the movement.

    A stock file's import expects the on hand its check showed (a row that moved since refuses
    the file: STALE) and is applied under the file's key, so the same file uploaded again is
    not applied twice unless the person asked for it (`job.again`, under the job's own key)."""
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    if stage == IMPORT and job.status == Status.DONE:
        return  # already imported: running again does nothing
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now())
    resource = import_string(job.resource)(**job.options)
    data = bytes(job.data)
    own_key = resource.file_key(data) if hasattr(resource, "file_key") else None
    key = f"import-job-{job.pk}" if job.again or own_key is None else own_key
    extra = {"previewed": job.previewed} if stage == IMPORT and job.previewed is not None else {}
    try:
        dataset = read_table(data)
        result = resource.import_data(
            dataset,
            dry_run=stage == CHECK,
            file_name=job.file_name,
            user=job.user,
            key=key,
            file_key=own_key,
            progress=_reporter(),
            **extra,
        )
    except FileProblem as exc:
        problem = {"row": None, "column": "", "value": "", "message": str(exc)}
        summary = {"read": 0, "errors": 1, "problems": [problem]}
        checked = {"checked_at": timezone.now()} if stage == CHECK else {}
        _finish(job.pk, Status.REFUSED, summary=summary, changes={}, **checked)
        return
    except Exception as exc:
        log.exception("import #%s failed", job.pk)
        _finish(job.pk, Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    if stage == IMPORT and result.already_applied and result.movement is None:
        # Applied meanwhile by another upload or run of the same file, which also made this
        # check's preview out of date: check it again, so that its page says what it repeats
        # and what applying it again would do now.
        run_stage(job.pk, CHECK)
        return
    _record(job, stage, result)


def _record(job, stage, result):
    """The job's status and page after a check or an import that ran to its end."""
    summary = result.summary()
    summary["earlier"] = earlier_info(result.earlier, job)
    if stage == CHECK:
        # A refused file changes nothing: what its other rows would do is not shown.
        refused = result.refused
        _finish(
            job.pk,
            Status.REFUSED if refused else Status.CHECKED,
            summary=summary,
            changes={} if refused else _changes(result),
            previewed=result.previewed,
            checked_at=timezone.now(),
        )
    elif result.refused:
        # Nothing applied. A stock file refused after its check was refused for what changed
        # since (its levels, their allocations): a fresh check shows what it would do now.
        stale = result.stale or job.previewed is not None
        _finish(job.pk, Status.STALE if stale else Status.REFUSED, summary=summary, changes={})
    else:
        _finish(
            job.pk,
            Status.DONE,
            summary=summary,
            changes=_changes(result),
            movement=result.movement,
            previewed=None,
        )


def earlier_info(movement, job):
    """What a page says of an earlier application of the same file (None if there was none):
    its movement and, if it came through the admin, its import."""
    if movement is None:
        return None
    earlier_job = ImportJob.objects.filter(movement=movement).exclude(pk=job.pk).first()
    return {
        "movement": movement.pk,
        "text": movement_text(movement),
        "import": earlier_job.pk if earlier_job else None,
        "import_name": str(earlier_job) if earlier_job else "",
    }


def _finish(job_id, status, **fields):
    fields = {"status": status, "finished_at": timezone.now(), **fields}
    with transaction.atomic():
        ImportJob.objects.filter(pk=job_id).update(**fields)


def _changes(result):
    rows = [
        [getattr(row, "number", None), row.import_type, *[_plain(v) for v in row.diff or []]]
        for row in result.valid_rows()[:SHOWN]
    ]
    return {"headers": list(result.diff_headers), "rows": rows}


def _plain(value):
    """A cell for the job's page: the library's own resources diff in HTML; keep the text."""
    if isinstance(value, str):
        return strip_tags(value)
    return value if isinstance(value, int) or value is None else str(value)


def _reporter():
    """Progress for the job's page, in the RQ job's meta (the import's own transaction cannot
    show it: nothing it writes is visible before it commits)."""
    current = rq.get_current_job()
    if current is None:
        return None
    last = [0.0]

    def report(stage, done, total):
        now = time.monotonic()
        if now - last[0] < 0.5 and done < total:
            return
        last[0] = now
        current.meta["progress"] = {"stage": stage, "done": done, "total": total}
        try:
            current.save_meta()
        except Exception:  # progress is a nicety; the import goes on without it
            log.debug("could not save progress of %s", current.id, exc_info=True)

    return report


# What the job queue says of a job, in words (rq's JobStatus values).
QUEUE_STATES = {
    "queued": "waiting for a worker of the “imports” queue",
    "started": "a worker is on it",
    "deferred": "waiting for another job",
    "scheduled": "scheduled",
    "finished": "finishing",
    "failed": "failed: the page will say why",
    "stopped": "stopped",
    "canceled": "canceled",
}


def progress_text(job, progress):
    """A worker's progress in words: "412 of 5,000 rows checked (a worker is on it)."."""
    waiting = QUEUE_STATES["queued"]
    if not progress:
        return f"{waiting[0].upper()}{waiting[1:]}."
    state = progress.get("state")
    state = QUEUE_STATES.get(getattr(state, "value", state), "")
    stage, done, total = progress.get("stage"), progress.get("done") or 0, progress.get("total")
    if stage is None or total is None:  # queued, or started and not yet reporting
        state = state or waiting
        return f"{state[0].upper()}{state[1:]}."
    checking = job.status == Status.CHECKING
    if stage == "checking":
        text = ngettext(
            "%(done)s of %(total)s row checked", "%(done)s of %(total)s rows checked", total
        ) % {"done": f"{done:,}", "total": f"{total:,}"}
    elif done < total:
        text = (
            f"Working out what {words.rows(total)} change"
            if checking
            else f"Writing {words.rows(total)}"
        )
    else:
        text = f"{words.rows(total)} {'worked out' if checking else 'written'}"
    return f"{text} ({state})." if state else f"{text}."


def job_progress(job):
    """{"stage", "done", "total", "state"} of a job a worker is running, or None."""
    if not job.running or job.rows <= inline_max_rows():
        return None
    stage = CHECK if job.status == Status.CHECKING else IMPORT
    try:
        connection = django_rq.get_connection(QUEUE)
        found = rq.job.Job.fetch(rq_job_id(job, stage), connection=connection)
        progress = dict(found.get_meta(refresh=True).get("progress") or {})
        progress["state"] = found.get_status(refresh=False)
        return progress
    except Exception:  # no such job yet, or Redis unreachable: the page shows the status only
        return None
