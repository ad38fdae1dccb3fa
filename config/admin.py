"""The job queues' dashboard (django-rq) for those with the queue permission only.

django-rq's views check only that the user is staff, and from them a user can delete or
requeue jobs: here they also need `django_rq.admin` (the Inventory manager role)."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

TOKEN_VIEWS = {"django_rq_home_json", "django_rq_metrics"}  # they check their API token


def _guarded(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.has_perm("django_rq.admin"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class GuardedQueueAdmin(QueueAdmin):
    def get_urls(self):
        urls = super().get_urls()
        for pattern in urls:
            if getattr(pattern, "name", None) not in TOKEN_VIEWS:
                pattern.callback = _guarded(pattern.callback)
        return urls

    def has_module_permission(self, request):
        return request.user.has_perm("django_rq.admin")


if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, GuardedQueueAdmin)
