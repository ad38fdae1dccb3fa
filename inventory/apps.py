from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        from django.db.models.signals import post_migrate

        from inventory.roles import sync_roles

        post_migrate.connect(sync_roles, sender=self, dispatch_uid="inventory-sync-roles")
