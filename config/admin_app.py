"""Django's admin app, with the project's site: the documented way to replace the default site.

Listed in INSTALLED_APPS in place of "django.contrib.admin". Not in config/apps.py: Django
would take any AppConfig there for the `config` app's own."""

from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "config.dashboard.BackOfficeAdminSite"
