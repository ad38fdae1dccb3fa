from django.apps import AppConfig, apps
from django.core import checks
from django.db.models.signals import post_migrate

from config.checks import sqlite_settings
from config.roles import ROLE_APPS, sync_roles


class ProjectConfig(AppConfig):
    """The project itself: its commands (run, load_demo, embedded_redis), its policy (the
    staff roles over every app's permissions) and its system checks."""

    name = "config"
    verbose_name = "Back-office"

    def ready(self):
        # After the last app the roles cover has migrated, every permission they name exists.
        last = apps.get_app_config(ROLE_APPS[-1])
        post_migrate.connect(sync_roles, sender=last, dispatch_uid="config-sync-roles")
        checks.register(sqlite_settings)
