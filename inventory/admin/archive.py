"""Discontinue instead of delete, for products and variants: archive and restore (a page, a
button, list actions), and a delete refused by history that says why and offers Archive."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import PROTECT
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import get_text_list
from django.utils.translation import ngettext

from inventory import selectors
from inventory.admin.filters import ArchivedFilter
from inventory.display import when
from inventory.models import Product, Variant

KEEP_LISTED, UNLIST = "zero", "unlist"
CHANNEL_CHOICES = [
    (
        KEEP_LISTED,
        "Keep it listed on its channels, showing 0: each channel is sent 0 now (no selling "
        "when out of stock either); Restore sends its stock again.",
    ),
    (
        UNLIST,
        "Unlist it from every channel: its listings here are removed and nothing more is sent "
        "for it; each channel keeps its item as it is now (hide or delete it there). After a "
        "Restore, list it again (a listing file or its page).",
    ),
]

ARCHIVED_LOG = {
    False: "Archived; kept listed on its channels, shown as 0.",
    True: "Archived and unlisted from every channel.",
}

# What rows pointing at a variant are, in words, by the relation's name; others read as
# their model's verbose name.
_RELATION_WORDS = {
    "transactions": lambda n: ngettext("%(n)s stock movement", "%(n)s stock movements", n),
    "levels": lambda n: ngettext(
        "a stock level at %(n)s location", "stock levels at %(n)s locations", n
    ),
    "order_lines": lambda n: ngettext("%(n)s channel order line", "%(n)s channel order lines", n),
}
_LISTED = "listings"


def history_words(variant_ids):
    """("57 stock movements, stock levels at 2 locations", "listed on 3 channels" or "", whether
    the history forbids a delete) for these variants."""
    has, listed, protected = [], "", False
    counts = sorted(
        selectors.variant_related_counts(variant_ids),
        key=lambda c: list(_RELATION_WORDS).index(c[0]) if c[0] in _RELATION_WORDS else 99,
    )
    for name, model, n in counts:
        if name == _LISTED:
            listed = ngettext("listed on %(n)s channel", "listed on %(n)s channels", n) % {"n": n}
            continue
        words = _RELATION_WORDS.get(name)
        if words is None:
            opts = model._meta
            has.append(f"{n:,} {opts.verbose_name if n == 1 else opts.verbose_name_plural}")
        else:
            has.append(words(n) % {"n": f"{n:,}"})
        protected = protected or any(
            f.remote_field.on_delete is PROTECT
            for f in model._meta.fields
            if f.is_relation and f.related_model is Variant
        )
    return get_text_list(has, "and"), listed, protected


def why_not_deleted(obj):
    """Why a product or variant with history cannot be deleted, in a sentence; None if it can
    (Django's own delete page then asks to confirm)."""
    if isinstance(obj, Variant):
        has, listed, protected = history_words([obj.pk])
        if not protected:
            return None
        return f"{obj.sku} has {has}" + (f" and is {listed}" if listed else "") + "."
    variants = list(obj.variants.order_by("sku").values_list("pk", "sku"))
    if not variants:
        return None
    has, listed, _ = history_words([pk for pk, _ in variants])
    skus = get_text_list([sku for _, sku in variants[:5]], "and")
    if len(variants) > 5:
        skus += f" and {len(variants) - 5:,} more"
    sentence = ngettext(
        "%(name)s has %(n)s variant (%(skus)s)",
        "%(name)s has %(n)s variants (%(skus)s)",
        len(variants),
    ) % {"name": obj.name, "n": f"{len(variants):,}", "skus": skus}
    if has:
        sentence += f" with {has}"
    if listed:
        sentence += f", {listed}"
    return sentence + "."


class ArchiveAdminMixin:
    """For the Product and Variant admins: archive (choosing what the channels do) and restore,
    from the object's page and as list actions, for those with the archive_<model> permission;
    a default list without the archived; a delete that history forbids explained."""

    def archive_objects(self, objects, *, unlist):
        """Archive them through the catalog service; how many were."""
        raise NotImplementedError

    def restore_objects(self, objects):
        """Restore them through the catalog service; how many were."""
        raise NotImplementedError

    def has_archive_permission(self, request):
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.archive_{opts.model_name}")

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), ArchivedFilter)

    def get_actions(self, request):
        # Archiving replaces the bulk delete: that one is refused for anything with history.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path("<int:pk>/archive/", wrap(self.archive_view), name=f"{name}_archive"),
            path("<int:pk>/restore/", wrap(self.restore_view), name=f"{name}_restore"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_archive": self.has_archive_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # ------------------------------------------------------------------ the actions

    @admin.action(
        description="Archive selected, keep them listed showing 0", permissions=["archive"]
    )
    def archive_keep_listed(self, request, queryset):
        self._archive_selected(request, queryset, unlist=False)

    @admin.action(
        description="Archive selected and unlist them from every channel",
        permissions=["archive"],
    )
    def archive_unlist(self, request, queryset):
        self._archive_selected(request, queryset, unlist=True)

    @admin.action(description="Restore selected (archived) ones", permissions=["archive"])
    def restore_selected(self, request, queryset):
        chosen = list(queryset.filter(archived_at__isnull=False))
        n = self.restore_objects(chosen)
        for obj in chosen:
            self.log_change(request, obj, "Restored.")
        self.message_user(
            request, self._restored_words(n), messages.SUCCESS if n else messages.WARNING
        )

    def _archive_selected(self, request, queryset, *, unlist):
        chosen = list(queryset.filter(archived_at__isnull=True))
        n = self.archive_objects(chosen, unlist=unlist)
        for obj in chosen:
            self.log_change(request, obj, ARCHIVED_LOG[unlist])
        self._archived(request, n, unlist=unlist)

    def _archived(self, request, n, *, unlist):
        opts = self.model._meta
        if not n:
            self.message_user(
                request,
                f"Nothing archived: those {opts.verbose_name_plural} were archived already.",
                messages.WARNING,
            )
            return
        what = ngettext("%(n)s %(one)s archived", "%(n)s %(many)s archived", n) % {
            "n": n,
            "one": opts.verbose_name,
            "many": opts.verbose_name_plural,
        }
        then = (
            "unlisted from every channel (nothing more is sent for them)"
            if unlist
            else "the channels listing them are sent 0"
        )
        self.message_user(
            request, f"{what}: {then}. Find them with the archived filter.", messages.SUCCESS
        )

    def _restored_words(self, n):
        opts = self.model._meta
        if not n:
            return f"Nothing restored: those {opts.verbose_name_plural} were not archived."
        return ngettext(
            "%(n)s %(one)s restored: the channels still listing it are sent its stock again.",
            "%(n)s %(many)s restored: the channels still listing them are sent their stock again.",
            n,
        ) % {"n": n, "one": opts.verbose_name, "many": opts.verbose_name_plural}

    # ------------------------------------------------------------------ the pages

    def _object_or_404(self, request, pk):
        obj = self.get_object(request, str(pk))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {pk}.")
        return obj

    def archive_view(self, request, pk):
        if not self.has_archive_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, pk)
        if obj.archived_at is not None:
            self.message_user(
                request, f"{obj} was already archived ({when(obj.archived_at)}).", messages.WARNING
            )
            return redirect(self._url(obj, "change"))
        error = None
        if request.method == "POST":
            choice = request.POST.get("channels")
            if choice in (KEEP_LISTED, UNLIST):
                unlist = choice == UNLIST
                self.archive_objects([obj], unlist=unlist)
                self.log_change(request, obj, ARCHIVED_LOG[unlist])
                self._archived(request, 1, unlist=unlist)
                return redirect(self._url(obj, "change"))
            error = "Choose what the channels do with it: keep it listed showing 0, or unlist it."
        return self._archive_page(request, obj, title=f"Archive {obj}", error=error)

    def restore_view(self, request, pk):
        if not self.has_archive_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, pk)
        if request.method != "POST":  # a followed or bookmarked link: the page with the button
            return redirect(self._url(obj, "change"))
        if self.restore_objects([obj]):
            self.log_change(request, obj, "Restored.")
            self.message_user(
                request, f"{obj} restored: the channels still listing it are sent its stock again."
            )
        else:
            self.message_user(request, f"{obj} was not archived.", messages.WARNING)
        return redirect(self._url(obj, "change"))

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        why = (
            why_not_deleted(obj)
            if obj is not None and self.has_delete_permission(request, obj)
            else None
        )
        if why is None:
            return super().delete_view(request, object_id, extra_context)
        return self._archive_page(request, obj, title=f"{obj} cannot be deleted", why=why)

    def _archive_page(self, request, obj, *, title, why=None, error=None):
        opts = self.model._meta
        has, listed, _ = history_words(self._variant_ids(obj))
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "original": obj,
            "title": title,
            "why": why,
            "error": error,
            "has": has,
            "listed": listed,
            "choices": CHANNEL_CHOICES,
            "can_archive": self.has_archive_permission(request) and obj.archived_at is None,
            "archive_url": self._url(obj, "archive"),
        }
        return TemplateResponse(request, "admin/inventory/archive.html", context)

    def _variant_ids(self, obj):
        if isinstance(obj, Product):
            return list(obj.variants.values_list("pk", flat=True))
        return [obj.pk]

    def _url(self, obj, view):
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
