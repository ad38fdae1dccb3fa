from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inventory.exceptions import InventoryError
from inventory.models import Action, Location, Source, StockLevel, Variant
from inventory.services import StockLine, stock_apply


class Command(BaseCommand):
    help = "Apply one stock change through the stock service and print the new balances."

    def add_arguments(self, parser):
        parser.add_argument("sku")
        parser.add_argument("location", help="location code (the source, for a move)")
        parser.add_argument("action", choices=[a.value for a in Action])
        parser.add_argument("quantity", type=int)
        parser.add_argument("--to", dest="to_location", help="destination location code (move)")
        parser.add_argument(
            "--reason", required=True, help="why the stock changes (recorded on the movement)"
        )
        parser.add_argument("--reference", default="")
        parser.add_argument("--key", help="idempotency key: a repeat applies nothing")
        parser.add_argument("--expect", type=int, help="the on hand you expect to replace")
        parser.add_argument("--user", help="username to record as the author")

    def handle(self, *args, **opts):
        if opts["action"] == Action.MOVE and not opts["to_location"]:
            raise CommandError("a move needs --to LOCATION")
        opts["reason"] = opts["reason"].strip()
        if not opts["reason"]:
            raise CommandError(
                "give a --reason: it is recorded on the movement (nothing was changed)"
            )
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {opts['user']!r}")
        line = StockLine(
            action=opts["action"],
            quantity=opts["quantity"],
            sku=opts["sku"],
            location=opts["location"],
            to_location=opts["to_location"],
            expected=opts["expect"],
        )
        try:
            result = stock_apply(
                lines=[line],
                source=Source.COMMAND,
                reason=opts["reason"],
                reference=opts["reference"],
                user=user,
                key=opts["key"],
            )
        except InventoryError as exc:
            raise CommandError(f"refused, nothing changed: {exc}") from exc
        movement = result.movement
        if movement is None:
            self.stdout.write("nothing to change: the count equals what is on hand")
        else:
            note = " (replay of an earlier request: nothing applied)" if result.replayed else ""
            self.stdout.write(f"movement #{movement.pk}{note}")
        self._print_balances(opts)

    def _print_balances(self, opts):
        codes = [opts["location"], *([opts["to_location"]] if opts["to_location"] else [])]
        variant = Variant.objects.get(sku=opts["sku"])
        for code in codes:
            location = Location.objects.with_codes([code]).get()
            level = StockLevel.objects.filter(variant=variant, location=location).first()
            on_hand, allocated = (level.on_hand, level.allocated) if level else (0, 0)
            self.stdout.write(
                f"{variant.sku} at {code}: on hand {on_hand}, allocated {allocated}, "
                f"available {on_hand - allocated}"
            )
