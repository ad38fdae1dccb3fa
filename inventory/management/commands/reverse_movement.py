from django.core.management.base import BaseCommand, CommandError

from inventory.exceptions import InventoryError
from inventory.models import Movement, Source
from inventory.services import movement_reverse


class Command(BaseCommand):
    help = "Undo a movement document with a compensating movement (nothing is deleted)."

    def add_arguments(self, parser):
        parser.add_argument("movement_id", type=int)
        parser.add_argument("--reason", default="")

    def handle(self, *args, **opts):
        movement = Movement.objects.filter(pk=opts["movement_id"]).first()
        if movement is None:
            raise CommandError(f"no movement #{opts['movement_id']}")
        try:
            result = movement_reverse(
                movement=movement, source=Source.COMMAND, reason=opts["reason"]
            )
        except InventoryError as exc:
            raise CommandError(f"refused, nothing changed: {exc}") from exc
        self.stdout.write(
            f"movement #{movement.pk} reversed by movement #{result.movement.pk} "
            f"({len(result.transactions)} ledger lines)"
        )
