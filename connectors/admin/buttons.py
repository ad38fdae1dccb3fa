"""Buttons on an object's own page for the list actions that act on one object (a channel's
Push now, a drift's Push ours): the same action, its permission and its messages, run on that
one object by a POST, then back to its page."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse


class ObjectActionsMixin:
    """`object_actions`: (action name, button label) in the order shown. The buttons offered
    are the actions the person may run (the list's own permission checks) for which
    `object_action_applies(obj, name)` holds."""

    object_actions = ()
    change_form_template = "admin/connectors/acting_change_form.html"

    def object_action_applies(self, obj, name):
        return True

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.object_action_view)
        return [
            path(
                "<path:object_id>/do/<str:action>/",
                view,
                name=f"{opts.app_label}_{opts.model_name}_do",
            ),
            *super().get_urls(),
        ]

    def object_buttons(self, request, obj):
        """[(label, url, description)] for the buttons of this object's page."""
        if obj is None or obj.pk is None:
            return []
        available = self.get_actions(request)
        opts = self.model._meta
        buttons = []
        for name, label in self.object_actions:
            if name not in available or not self.object_action_applies(obj, name):
                continue
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_do", args=[obj.pk, name])
            buttons.append((label, url, available[name][2]))
        return buttons

    def object_page_context(self, request, obj):
        """More for the object's page (object_links: [(words, url)], object_help: words)."""
        return {}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {
            **(extra_context or {}),
            "object_buttons": self.object_buttons(request, obj),
            **(self.object_page_context(request, obj) if obj is not None else {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def object_action_view(self, request, object_id, action):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {object_id}.")
        page = reverse(
            f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_change",
            args=[obj.pk],
        )
        if request.method != "POST":  # a followed or bookmarked link: the page with the button
            return redirect(page)
        names = dict(self.object_actions)
        available = self.get_actions(request)
        if action not in names:
            raise Http404(f"No action {action!r} on this page.")
        if action not in available:
            raise PermissionDenied
        if not self.object_action_applies(obj, action):
            return redirect(page)  # already done (resumed, resolved): the page says so
        func = available[action][0]
        func(self, request, self.get_queryset(request).filter(pk=obj.pk))
        return redirect(page)
