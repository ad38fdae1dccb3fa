"""Location files: code, name, and optionally kind, allow_negative and active; by code.

Locations are a handful of rows, so this resource keeps the library's row loop with full
model validation (a kind that is not one of the choices is named on its row) and writes a row
only when it changes.
"""

from import_export import fields, resources

from inventory.imports.base import LibraryRowsMixin, YesNoWidget
from inventory.imports.cells import text
from inventory.models import Location


class LocationResource(LibraryRowsMixin, resources.ModelResource):
    """Locations (by code)."""

    # A blank cell keeps what the location has (or the default, for a new one).
    allow_negative = fields.Field(
        attribute="allow_negative",
        column_name="allow_negative",
        widget=YesNoWidget(),
        saves_null_values=False,
    )
    active = fields.Field(
        attribute="active", column_name="active", widget=YesNoWidget(), saves_null_values=False
    )

    class Meta:
        model = Location
        import_id_fields = ("code",)
        fields = ("code", "name", "kind", "allow_negative", "active")
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        self.codes = {
            code.upper(): code for code in Location.objects.values_list("code", flat=True)
        }

    def before_import_row(self, row, **kwargs):
        # Codes match in any case: a row for "wh1" updates WH1 (and keeps its code as it is).
        code = text(row.get("code"))
        if code:
            row["code"] = self.codes.get(code.upper(), code)
        super().before_import_row(row, **kwargs)
