from django.core.management.base import BaseCommand, CommandError

from inventory.models import Location, Variant
from inventory.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Verify that every stock level equals its ledger; exit non-zero listing any that differ."

    def handle(self, *args, **opts):
        mismatches = ledger_mismatches()
        if not mismatches:
            self.stdout.write("ledger OK: every stock level equals its ledger")
            return
        skus = dict(
            Variant.objects.filter(pk__in={m[0] for m in mismatches}).values_list("pk", "sku")
        )
        codes = dict(Location.objects.values_list("pk", "code"))
        for variant_id, location_id, level, ledger, why in mismatches:
            shown = "missing" if level is None else f"on hand {level[0]}, allocated {level[1]}"
            self.stderr.write(
                f"{skus.get(variant_id, variant_id)} at {codes.get(location_id, location_id)}: "
                f"level {shown}; ledger ({why}) on hand {ledger[0]}, allocated {ledger[1]}"
            )
        raise CommandError(f"{len(mismatches)} stock level(s) differ from the ledger")
