"""A small demo catalog with stock, and a demo login; safe to run again (changes nothing then)."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from config.roles import CLERK, MANAGER, VIEWER
from inventory.models import Location, Product, Source, Variant
from inventory.services import StockLine, stock_apply

LOCATIONS = [
    ("WH1", "Main warehouse", Location.Kind.WAREHOUSE, False),
    ("STORE", "High Street store", Location.Kind.STORE, False),
    ("POPUP", "Weekend pop-up", Location.Kind.STORE, True),
]
CATALOG = [
    (
        "Organic cotton T-shirt",
        "TEE",
        [{"size": s, "colour": c} for c in ("black", "white") for s in ("S", "M", "L")],
    ),
    ("Enamel mug", "MUG", [{"colour": c} for c in ("blue", "green")]),
    ("Canvas tote bag", "TOTE", [{}]),
    ("Hand-thrown bowl", "BOWL", [{"size": s} for s in ("small", "large")]),
]
STAFF = [("viewer", VIEWER), ("clerk", CLERK), ("manager", MANAGER)]
GIFT_CARD = "GIFT-CARD"
# What the front page shows on first sight: a variant at its reorder point (every demo
# variant's is 5; this one opens with 4 in the warehouse, none in the store) ...
LOW_STOCK = ("BOWL-LAR", 4)
# ... and the pop-up below zero (it may go negative): a sale there, through the stock
# service, before its stock was booked in.
POPUP_SALE = ("TOTE", 2)
POPUP_SALE_REASON = "Sold at the weekend pop-up before its stock was booked in"
LOGIN_FILE = "demo-login.txt"  # under VAR_DIR: the demo users' shared password


def _sku(prefix, options):
    return "-".join([prefix, *(v[:3].upper() for v in options.values())])


def demo_skus():
    """The SKUs of the demo's own variants: what its channels list, and nothing staff made."""
    skus = [_sku(prefix, opt) for _, prefix, options in CATALOG for opt in options]
    return [*skus, GIFT_CARD]


class Command(BaseCommand):
    help = "Load a small demo catalog (locations, products, variants, stock) and a demo login."

    def add_arguments(self, parser):
        parser.add_argument("--no-login", action="store_true", help="skip the demo users")

    def handle(self, *args, **opts):
        with transaction.atomic():
            created = self._catalog()
        if created:
            self._stock()
        self.stdout.write(
            f"demo catalog: {Variant.objects.count()} variants at "
            f"{Location.objects.count()} locations"
        )
        if not opts["no_login"]:
            self._logins()

    def _catalog(self):
        for code, name, kind, negative in LOCATIONS:
            Location.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "allow_negative": negative}
            )
        created = 0
        for name, prefix, options in CATALOG:
            product, _ = Product.objects.get_or_create(name=name)
            for opt in options:
                _, made = Variant.objects.get_or_create(
                    sku=_sku(prefix, opt),
                    defaults={"product": product, "options": opt, "reorder_point": 5},
                )
                created += made
        Variant.objects.get_or_create(
            sku=GIFT_CARD,
            defaults={
                "product": Product.objects.get_or_create(name="Gift card")[0],
                "tracked": False,
            },
        )
        return created

    def _stock(self):
        """The opening stock, then a sale at the pop-up: only on the load that made the
        catalog (a second `make run` leaves the stock as staff left it)."""
        lines = []
        for i, variant in enumerate(Variant.objects.filter(tracked=True).order_by("sku")):
            low = LOW_STOCK[1] if variant.sku == LOW_STOCK[0] else None
            lines.append(
                StockLine(
                    action="count",
                    quantity=10 + (i * 7) % 40 if low is None else low,
                    variant_id=variant.pk,
                    location="WH1",
                )
            )
            lines.append(
                StockLine(
                    action="count", quantity=(i * 3) % 9, variant_id=variant.pk, location="STORE"
                )
            )
        stock_apply(
            lines=lines,
            source=Source.SYSTEM,
            reason="Demo opening stock",
            reference="load_demo",
            key="demo-opening-stock",
        )
        sku, quantity = POPUP_SALE
        stock_apply(
            lines=[StockLine(action="decrement", quantity=quantity, sku=sku, location="POPUP")],
            source=Source.SYSTEM,
            reason=POPUP_SALE_REASON,
            reference="load_demo",
            key="demo-popup-sale",
        )

    def _logins(self):
        """One superuser plus a user per role, sharing a password kept in var/."""
        path = settings.VAR_DIR / LOGIN_FILE
        if path.exists():
            password = path.read_text().strip()
        else:
            password = "demo-" + secrets.token_urlsafe(9)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
        User = get_user_model()
        admin, _ = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(password)
        admin.save()
        for username, role in STAFF:
            user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
        self.stdout.write(
            self.style.SUCCESS(
                f"demo login: admin / {password}   (also viewer, clerk, manager with the same "
                "password, one per role)"
            )
        )
