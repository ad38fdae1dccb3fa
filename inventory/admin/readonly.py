"""Records nobody adds, edits or deletes in the admin, superusers included: the ledger, its
movements, imports, and (in connectors) what each channel was sent."""


class ReadOnlyMixin:
    """For a ModelAdmin or an inline: viewable with view permission, never written here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
