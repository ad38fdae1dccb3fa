"""Spreadsheet import and export in the admin, and the page of each uploaded file.

Export is django-import-export's own (the filtered changelist, our CSV and XLSX formats). Import
keeps its buttons, permissions and resources but runs every upload as an ImportJob: the file is
stored in the database, checked (a dry run showing what each row will do), and imported when
the person confirms, in the request for a small file and in a worker for a large one. The
library's own flow keeps the file in a temporary folder of one web process, draws every row
of the preview and runs inside the request, which a 100,000-row file cannot afford.
"""

import csv
import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from import_export.admin import ImportExportMixin
from import_export.forms import ExportForm

from inventory.admin.readonly import ReadOnlyMixin
from inventory.display import when
from inventory.imports import jobs, words
from inventory.imports.console import refused_text
from inventory.imports.files import FileProblem
from inventory.imports.formats import FORMATS
from inventory.imports.stock import MODES
from inventory.models import ImportJob, Location

IMPORT_PERMISSION = "inventory.import_stock"


def max_upload_bytes():
    return getattr(settings, "IMPORT_MAX_UPLOAD_MB", 20) * 1024 * 1024


class SheetImportForm(forms.Form):
    import_file = forms.FileField(
        label="File", help_text="CSV (UTF-8, comma or semicolon separated) or XLSX."
    )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the limit is "
                f"{max_upload_bytes() // 1048576} MB. Split it into smaller files."
            )
        return upload

    def resource_options(self):
        return {}


class StockImportForm(SheetImportForm):
    mode = forms.ChoiceField(choices=MODES.items(), initial="count", widget=forms.RadioSelect)
    reason = forms.CharField(
        required=False,
        max_length=255,
        help_text="For the whole file (a reason column, if any, fills rows left blank here). "
        "An adjustment needs one.",
    )
    location = forms.ModelChoiceField(
        Location.objects.order_by("code"),
        required=False,
        to_field_name="code",
        empty_label="(each row names its location)",
        help_text="Every row is for this location; the file may then omit the location column.",
    )

    def resource_options(self):
        location = self.cleaned_data.get("location")
        return {
            "mode": self.cleaned_data["mode"],
            "reason": self.cleaned_data.get("reason", ""),
            "location": location.code if location else None,
        }


class SpreadsheetAdminMixin(ImportExportMixin):
    """Import and export buttons on a changelist, driven by one resource for each."""

    sheet_import_resource = None
    sheet_export_resource = None
    sheet_import_form = SheetImportForm
    # Model permissions needed besides inventory.import_stock (e.g. to create locations).
    import_permissions = ()
    formats = FORMATS
    # The export writes every column: a stock file without "expected" would lose its guard.
    export_form_class = ExportForm
    # The movement (stock) and the ImportJob are the record of an import, not one LogEntry
    # per row: 100,000 of them would double an import's time.
    skip_admin_log = True

    def get_import_resource_classes(self, request):
        return [self.sheet_import_resource]

    def get_export_resource_classes(self, request):
        return [self.sheet_export_resource or self.sheet_import_resource]

    def has_import_permission(self, request):
        user = request.user
        return user.has_perm(IMPORT_PERMISSION) and all(
            user.has_perm(p) for p in self.import_permissions
        )

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def import_action(self, request, **kwargs):
        """Upload: store the file as an ImportJob, start its check, show its page."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        resource_class = self.sheet_import_resource
        form = self.sheet_import_form(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                job = jobs.job_create(
                    resource_class=resource_class,
                    data=upload.read(),
                    file_name=upload.name,
                    options=form.resource_options(),
                    user=request.user,
                )
            except FileProblem as exc:
                form.add_error("import_file", str(exc))
            else:
                _start(request, job, jobs.CHECK)
                return redirect("admin:inventory_importjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Import {resource_class.get_display_name().lower()}",
            "form": form,
            "columns": _columns(resource_class),
            "media": self.media + form.media,
            "inline_max_rows": jobs.inline_max_rows(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/inventory/import_form.html", context)

    def process_import(self, request, **kwargs):
        # Confirming happens on the ImportJob's page; this URL of the library is unused.
        return redirect("admin:inventory_importjob_changelist")


def _columns(resource_class):
    spec = getattr(resource_class, "columns", None)
    if spec:
        return [
            (c.name, "required" if c.required else ("ignored" if c.ignored else "")) for c in spec
        ]
    return [(f.column_name, "") for f in resource_class().get_user_visible_fields()]


def _start(request, job, stage):
    big = job.rows > jobs.inline_max_rows()
    jobs.job_start(job, stage)
    if big and job.status != ImportJob.Status.FAILED:
        messages.info(
            request,
            f"{words.rows(job.rows)}: a worker is on it. This page shows its progress; you can "
            "leave and come back (Inventory: Imports).",
        )


# Statuses in which nothing was applied: their totals say why, not what would have changed.
NOTHING_APPLIED = (ImportJob.Status.REFUSED, ImportJob.Status.STALE, ImportJob.Status.FAILED)


def totals_text(job):
    """The totals in words: "3 rows read: 1 created, 2 updated, 0 unchanged" or, for a file
    that changed nothing, "3 rows read, nothing changed: 2 problems in 2 rows"."""
    s = job.summary or {}
    if not s:
        return ""
    read = f"{words.rows(s.get('read', 0))} read"
    if job.status in NOTHING_APPLIED:
        return f"{read}, nothing changed: {refused_text(s)}"
    return (
        f"{read}: {s.get('created', 0):,} created, {s.get('updated', 0):,} updated, "
        f"{s.get('unchanged', 0):,} unchanged"
    )


def life(job):
    """The import's life, a step a line: [(step, when, what)], `what` safe HTML."""
    Status = ImportJob.Status
    by = format_html(" by {}", job.user) if job.user else ""
    steps = [("Uploaded", job.created_at, by)]
    if job.checked_at or job.status in (Status.CHECKED, Status.IMPORTING, Status.DONE):
        checked = format_html("{}{}", words.rows(job.rows), by)
        if job.status == Status.REFUSED:
            checked = format_html("{}: refused, {}", checked, refused_text(job.summary or {}))
        steps.append(("Checked", job.checked_at, checked))
    if job.movement_id:
        steps.append(("Imported", job.movement.created_at, _movement_link(job.movement, "as")))
        undone = job.undone_by
        if undone is not None:
            who = format_html(" by {}", undone.user) if undone.user_id else ""
            steps.append(
                (
                    "Undone",
                    undone.created_at,
                    format_html("{} {}", who, _movement_link(undone, "as")),
                )
            )
    elif job.status in (Status.STALE, Status.FAILED):
        step = "Refused" if job.status == Status.STALE else "Failed"
        steps.append((step, job.finished_at, "nothing applied"))
    return [(step, when(moment, empty=""), what) for step, moment, what in steps]


def _movement_link(movement, word):
    url = reverse("admin:inventory_movement_change", args=[movement.pk])
    return format_html('{} <a href="{}">movement #{}</a>', word, url, movement.pk)


class StateFilter(admin.SimpleListFilter):
    """The statuses, and "undone" (an import whose movement was reversed, from any page)."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("undone", "Undone"), *ImportJob.Status.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "undone":
            return queryset.filter(movement__reversed_by__isnull=False)
        if value == ImportJob.Status.DONE:
            return queryset.filter(status=value, movement__reversed_by__isnull=True)
        if value in ImportJob.Status.values:
            return queryset.filter(status=value)
        return queryset


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "user", "state", "steps", "totals")
    list_filter = (StateFilter, "what")
    search_fields = ("=id", "file_name")
    list_select_related = ("user", "movement", "movement__reversed_by__user")
    show_full_result_count = False

    def get_queryset(self, request):
        # The files and the previews' on hand stay in the database.
        return (
            super()
            .get_queryset(request)
            .select_related("user", "movement", "movement__reversed_by__user")
            .defer("data", "previewed")
        )

    @admin.display(description="state", ordering="status")
    def state(self, job):
        return job.get_state_display()

    @admin.display(description="life")
    def steps(self, job):
        return format_html_join(
            mark_safe("<br>"),
            "<strong>{}</strong> {} {}",
            ((step, moment, what) for step, moment, what in life(job)),
        )

    @admin.display(description="totals")
    def totals(self, job):
        return totals_text(job)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="inventory_importjob_confirm"),
            path("<int:pk>/retry/", wrap(self.retry_view), name="inventory_importjob_retry"),
            path(
                "<int:pk>/problems.csv",
                wrap(self.problems_view),
                name="inventory_importjob_problems",
            ),
            *super().get_urls(),
        ]

    def can_run(self, request, job):
        user = request.user
        return user.has_perm(IMPORT_PERMISSION) and (user.is_superuser or job.user_id == user.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        summary = job.summary or {}
        has_file = _has_file(job)
        stale_rows = {row["row"] for row in summary.get("stale", [])}
        problems = summary.get("problems", [])
        progress = jobs.job_progress(job) if job.running else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(job),
            "job": job,
            "summary": summary,
            "applied": job.status not in NOTHING_APPLIED,
            "life": life(job),
            "rows_text": words.rows(job.rows),
            "refused_text": refused_text(summary),
            "problems": [p for p in problems if p["row"] not in stale_rows],
            "stale": summary.get("stale", []),
            "earlier": summary.get("earlier"),
            "more_problems": max(0, summary.get("errors", 0) - len(problems)),
            "progress": progress,
            "progress_text": jobs.progress_text(job, progress) if job.running else "",
            "can_run": self.can_run(request, job) and has_file,
            "file_dropped": not has_file,
            "can_undo": job.movement_id is not None
            and job.undone_by is None
            and request.user.has_perm("inventory.adjust_stock")
            and request.user.has_perm("inventory.move_stock"),
            "options": job.options,
        }
        context["more_text"] = words.problems(context["more_problems"])
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/inventory/importjob/job.html", context)

    def problems_view(self, request, pk):
        """The problems of the page as a CSV file: the same rows, columns and messages."""
        job = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "column", "value", "problem"])
        for p in (job.summary or {}).get("problems", []):
            row = "file" if p["row"] is None else p["row"]
            writer.writerow([row, p["column"], p["value"], p["message"]])
        response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv")
        stem = job.file_name.rsplit(".", 1)[0] or "import"
        response["Content-Disposition"] = content_disposition_header(True, f"{stem} problems.csv")
        return response

    def confirm_view(self, request, pk):
        """Import what the check showed; "again" applies a file imported before once more."""
        return self._run(request, pk, [ImportJob.Status.CHECKED], jobs.IMPORT)

    def retry_view(self, request, pk):
        """Check the file again: after a failure, or a fresh preview once stock has moved."""
        return self._run(request, pk, [ImportJob.Status.FAILED, ImportJob.Status.STALE], jobs.CHECK)

    def _run(self, request, pk, statuses, stage):
        if request.method != "POST":
            return redirect("admin:inventory_importjob_change", pk)
        job = get_object_or_404(ImportJob.objects.defer("data", "previewed"), pk=pk)
        if not self.can_run(request, job):
            raise PermissionDenied
        if job.status not in statuses:
            self.message_user(
                request,
                f"Nothing to do: this import is {job.get_status_display().lower()}.",
                messages.WARNING,
            )
        elif not _has_file(job):
            self.message_user(request, DROPPED, messages.WARNING)
        else:
            if stage == jobs.IMPORT and request.POST.get("again") and not job.again:
                ImportJob.objects.filter(pk=job.pk).update(again=True)
                job.again = True
            _start(request, job, stage)
        return redirect("admin:inventory_importjob_change", pk)


DROPPED = "This upload's file was dropped (uploads are kept IMPORT_KEEP_DAYS); upload it again."


def _has_file(job):
    """Whether the upload's file is still stored (purge_imports drops old ones)."""
    return ImportJob.objects.filter(pk=job.pk).exclude(data=b"").exists()
