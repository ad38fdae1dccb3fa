"""The job queues' dashboard (django-rq) for those with the queue permission only.

django-rq's views check only that the user is staff, and from them a user can delete or
requeue jobs: every one of them, the JSON ones too, also needs `django_rq.admin` (the Inventory
manager role). The JSON views (stats, metrics) accept django-rq's API token as well, which is
checked by the view itself and only for a request without a logged-in user: for a staff user
django-rq would take the session alone."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

TOKEN_VIEWS = {"django_rq_home_json", "django_rq_metrics"}  # they also take an API token


def _guarded(view, *, token=False):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        anonymous = not request.user.is_authenticated
        if not request.user.has_perm("django_rq.admin") and not (token and anonymous):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class GuardedQueueAdmin(QueueAdmin):
    def get_urls(self):
        urls = super().get_urls()
        for pattern in urls:
            token = getattr(pattern, "name", None) in TOKEN_VIEWS
            pattern.callback = _guarded(pattern.callback, token=token)
        return urls

    def has_module_permission(self, request):
        return request.user.has_perm("django_rq.admin")


# Its one "model" reads "Django-RQ" on the admin's index; staff know the pages as the queues.
Dashboard._meta.verbose_name = Dashboard._meta.verbose_name_plural = "Queues and jobs"

if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, GuardedQueueAdmin)
