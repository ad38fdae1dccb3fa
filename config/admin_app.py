"""Django's admin app, with the project's site: the documented way to replace the default site;
and django-rq's, under the name staff know its pages by.

Listed in INSTALLED_APPS in place of "django.contrib.admin" and "django_rq". Not in
config/apps.py: Django would take any AppConfig there for the `config` app's own."""

from django.contrib.admin.apps import AdminConfig
from django_rq.apps import DjangoRqAdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "config.dashboard.BackOfficeAdminSite"


class JobQueuesConfig(DjangoRqAdminConfig):
    """django-rq's pages as "Job queues" (its own name shows as "Django_Rq")."""

    verbose_name = "Job queues"
