"""The migration that makes location codes unique in any case stops, naming them, when two
existing codes differ only by case (it neither merges nor renames locations with stock)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("inventory", "0006_import_previews_and_again")]


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_codes_that_differ_only_by_case_stop_the_migration_naming_them():
    executor = migrate(BEFORE)
    Location = executor.loader.project_state(BEFORE).apps.get_model("inventory", "Location")
    Location.objects.create(code="WH2", name="Overflow")
    Location.objects.create(code="wh2", name="Typed again")
    Location.objects.create(code="STORE", name="Store")
    try:
        with pytest.raises(RuntimeError, match=r"differ only by case: 'WH2'; 'wh2'\. Rename"):
            migrate()
        assert sorted(Location.objects.values_list("code", flat=True)) == ["STORE", "WH2", "wh2"]
    finally:
        Location.objects.filter(code="wh2").delete()
        migrate()
