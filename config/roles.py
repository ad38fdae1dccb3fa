"""The three staff roles: project policy over the permissions of every app, kept as groups in
step with them after each migrate (config.apps)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

VIEWER = "Viewer"
CLERK = "Stock clerk"
MANAGER = "Inventory manager"

# Apps whose models the roles cover (models are looked up when used: config.apps imports this
# module before the app registry is ready).
ROLE_APPS = ("inventory", "connectors")
CLERK_EXTRA = ("inventory.adjust_stock", "inventory.move_stock", "inventory.import_stock")


def _permission():
    return global_apps.get_model("auth", "Permission")


def _perms(codenames_by_app):
    qs = (
        _permission()
        .objects.filter(content_type__app_label__in=ROLE_APPS)
        .select_related("content_type")
    )
    return [p for p in qs if codenames_by_app(p.content_type.app_label, p.codename)]


def role_permissions():
    """{group name: [Permission]} as the roles are defined today."""
    view = _perms(lambda app, code: code.startswith("view_"))
    extra = {tuple(p.split(".")) for p in CLERK_EXTRA}
    clerk = view + _perms(lambda app, code: (app, code) in extra)
    manager = _perms(lambda app, code: True)
    rq = _permission().objects.filter(content_type__app_label="django_rq")
    return {VIEWER: view, CLERK: clerk, MANAGER: manager + list(rq)}


def sync_roles(sender=None, apps=global_apps, **kwargs):
    """Create or update the role groups; safe to run any number of times."""
    # post_migrate reaches this before later apps have their permissions: make them all now.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name, perms in role_permissions().items():
        group, _ = global_apps.get_model("auth", "Group").objects.get_or_create(name=name)
        group.permissions.set(perms)
