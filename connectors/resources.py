"""Listing files: which variant each channel sells under which ids, by channel name and SKU.

Columns: channel (the channel's name), sku, remote_id, and optionally remote_parent_id (see
Listing for what each platform calls them). Listings are written row by row with full model
validation, so a remote id already used on that channel is named on its row; a new listing
starts pending, so the sync pushes its quantity.
"""

from import_export import fields, resources

from connectors.models import Channel, Listing
from inventory.imports.base import LibraryRowsMixin, LookupWidget
from inventory.models import Variant


class ListingResource(LibraryRowsMixin, resources.ModelResource):
    """Listings (by channel and SKU)."""

    channel = fields.Field(
        attribute="channel", column_name="channel", widget=LookupWidget(Channel, "name", "channel")
    )
    sku = fields.Field(
        attribute="variant", column_name="sku", widget=LookupWidget(Variant, "sku", "SKU")
    )

    class Meta:
        model = Listing
        import_id_fields = ("channel", "sku")
        fields = ("channel", "sku", "remote_id", "remote_parent_id")
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
