"""The stock domain: catalog, locations, stock levels and the immutable ledger.

Nothing here changes stock: every mutation goes through `inventory.services.stock`.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.text import Truncator
from django.utils.translation import ngettext

from inventory.display import when
from inventory.exceptions import LedgerImmutable

ARCHIVED_HELP = (
    "When it was discontinued: kept with its history, hidden from the lists, restorable."
)


class Product(models.Model):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    archived_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=ARCHIVED_HELP
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["name"])]
        permissions = [("archive_product", "Can archive and restore products")]

    def __str__(self):
        return self.name

    @property
    def archived(self):
        return self.archived_at is not None


def _kind(value):
    for kind, name in ((bool, "yes/no"), (str, "a text"), (int, "a number"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return {list: "a list", dict: "an object"}.get(
        type(value), "nothing" if value is None else "a list"
    )


def validate_options(value):
    """Options are an object of named texts, {"size": "M"}: the export makes a column of each."""
    if not isinstance(value, dict):
        raise ValidationError(
            'Options must be an object of names and values, e.g. {"size": "M"}, not %(kind)s.',
            params={"kind": _kind(value)},
            code="invalid_options",
        )
    for name, option in value.items():
        if not name.strip():
            raise ValidationError("An option needs a name.", code="invalid_options")
        if not isinstance(option, str):
            raise ValidationError(
                "Option %(name)r must be a text value (in quotes), not %(kind)s.",
                params={"name": name, "kind": _kind(option)},
                code="invalid_options",
            )
        if "\x00" in name or "\x00" in option:
            raise ValidationError(
                "Option %(name)r holds a NUL character.", params={"name": name}, code="null"
            )


def options_of(variant_options):
    """A stored variant's options as a dict (a row saved before options were checked may hold
    something else: it reads as no options rather than breaking an export for everyone)."""
    return variant_options if isinstance(variant_options, dict) else {}


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="variants")
    sku = models.CharField("SKU", max_length=64, unique=True)
    barcode = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True, help_text="Defaults to the product name.")
    options = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_options],
        help_text='Option values, e.g. {"size": "M", "colour": "red"}.',
    )
    tracked = models.BooleanField(
        default=True, help_text="Untracked variants have infinite stock: sales never run out."
    )
    allow_backorder = models.BooleanField(
        "sell when out of stock",
        default=False,
        help_text="Orders may allocate more than is available (channels keep selling at 0).",
    )
    reorder_point = models.PositiveIntegerField(
        null=True, blank=True, help_text="Flag the variant when total available falls to this."
    )
    archived_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=ARCHIVED_HELP
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        permissions = [("archive_variant", "Can archive and restore variants")]

    def __str__(self):
        return self.sku

    @property
    def archived(self):
        return self.archived_at is not None

    def clean(self):
        # An empty value skips the field's validators: [] or "" would be stored as such.
        if not self.options:
            self.options = {}

    @property
    def display_name(self):
        return self.name or self.product.name


# Codes are typed in files and on command lines: letters, digits and . - _ only, so that
# "WH 3 / bad" cannot be made; they are unique and matched without regard to case.
LOCATION_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z"
location_code_validator = RegexValidator(
    LOCATION_CODE_PATTERN,
    "A location code is letters, digits, '.', '-' and '_' only (no spaces or slashes), "
    "starting with a letter or a digit, e.g. WH2.",
)


class LocationQuerySet(models.QuerySet):
    def with_codes(self, codes):
        """The locations whose code is one of `codes`, in any case (wh1 finds WH1)."""
        codes = [c for c in codes if isinstance(c, str) and "\x00" not in c]
        return self.annotate(code_upper=Upper("code")).filter(
            Q(code_upper__in=[c.upper() for c in codes]) | Q(code__in=codes)
        )

    def ids_by_code(self, codes):
        """{code as given: id} for the codes that name a location, in any case."""
        codes = set(codes)
        found = {}
        for code, pk in self.with_codes(codes).values_list("code", "pk"):
            found[code] = found[code.upper()] = pk
        ids = {c: found.get(c, found.get(c.upper())) for c in codes if isinstance(c, str)}
        return {c: pk for c, pk in ids.items() if pk is not None}


class Location(models.Model):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", "Warehouse"
        STORE = "store", "Store"
        SUPPLIER = "supplier", "Supplier"
        TRANSIT = "transit", "In transit"

    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[location_code_validator],
        help_text="Short code used in files: letters, digits, '.', '-' and '_'; any case matches.",
    )
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WAREHOUSE)
    allow_negative = models.BooleanField(
        "may go negative",
        default=False,
        help_text="Allow on hand below zero here (e.g. sell before the goods are booked in).",
    )
    active = models.BooleanField(default=True)

    objects = LocationQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                Upper("code"),
                name="location_code_unique_any_case",
                violation_error_message="A location with this code already exists "
                "(codes match without regard to case).",
            )
        ]

    def __str__(self):
        return self.code


class StockLevel(models.Model):
    """The cached balance of one variant at one location; always equal to its ledger."""

    # No single-column indexes: the unique (variant, location) and the (location, variant)
    # index serve lookups by either, and each index costs every insert and non-HOT update.
    variant = models.ForeignKey(
        Variant, on_delete=models.PROTECT, related_name="levels", db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="levels", db_index=False
    )
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    available = models.GeneratedField(
        expression=F("on_hand") - F("allocated"),
        output_field=models.IntegerField(),
        db_persist=True,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["variant_id", "location_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "location"], name="stocklevel_one_per_place"
            ),
            models.CheckConstraint(
                condition=Q(allocated__gte=0), name="stocklevel_allocated_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["location", "variant"])]
        permissions = [
            ("adjust_stock", "Can adjust stock (increment, decrement, allocate, count)"),
            ("move_stock", "Can move stock between locations"),
            ("import_stock", "Can import stock and catalog files"),
        ]

    def __str__(self):
        return f"{self.variant.sku} at {self.location.code}"


class Action(models.TextChoices):
    INCREMENT = "increment", "Increment"
    DECREMENT = "decrement", "Decrement"
    ALLOCATE = "allocate", "Allocate"
    DEALLOCATE = "deallocate", "Deallocate"
    MOVE = "move", "Move"
    COUNT = "count", "Count"


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    IMPORT = "import", "Import"
    COMMAND = "command", "Command"
    CHANNEL = "channel", "Channel"
    SYSTEM = "system", "System"


TITLE_REASON = 80  # characters of a reason in a movement's title (its page shows the whole)


class Movement(models.Model):
    """One movement document: a single reason, reference, user and source for its ledger lines."""

    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=255, blank=True, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    line_count = models.PositiveIntegerField(default=0)
    failed_lines = models.JSONField(
        default=list, blank=True, help_text="Lines refused in partial mode, with their reasons."
    )

    class Meta:
        ordering = ["-pk"]

    def __str__(self):
        return f"Movement #{self.pk}: {self.title}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise LedgerImmutable(
                f"Movement #{self.pk} is part of the ledger and cannot be changed"
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable(f"Movement #{self.pk} is part of the ledger and cannot be deleted")

    @property
    def title(self):
        """What the movement is, as staff name it: "Import of stock.csv by anna, 2 Dec 2026,
        18:37" or "Manual adjustment by anna, 2 Dec 2026, 18:40: damaged" (the user loaded)."""
        by = f" by {self.user}" if self.user_id else ""
        reason = self.reason
        if self.reverses_id:
            what = f"Reversal of #{self.reverses_id}{by}"
            if reason == f"Reversal of movement #{self.reverses_id}":
                reason = ""  # the service's default says nothing more
        elif self.source == Source.IMPORT:
            what = f"Import of {self.reference or 'a file'}{by}"
        elif self.source == Source.ADMIN:
            what = f"Manual adjustment{by}"
        elif self.source == Source.COMMAND:
            what = f"Command-line adjustment{by}"
        else:  # a channel's or the system's own words are its reason
            what, reason = (reason or self.reference or self.get_source_display()), ""
            what = Truncator(what).chars(TITLE_REASON)
        title = f"{what}, {when(self.created_at)}"
        return f"{title}: {Truncator(reason).chars(TITLE_REASON)}" if reason else title


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("Ledger rows cannot be changed; record a compensating movement")

    def delete(self):
        raise LedgerImmutable("Ledger rows cannot be deleted; record a compensating movement")


LEDGER_VERBS = {
    Action.INCREMENT: "added",
    Action.DECREMENT: "removed",
    Action.ALLOCATE: "allocated",
    Action.DEALLOCATE: "released",
}


class StockTransaction(models.Model):
    """One immutable ledger line: what changed at one level and the balances after it."""

    movement = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="lines")
    line = models.PositiveIntegerField(help_text="The request line this ledger row comes from.")
    # No database constraint on variant and location: the service writes a ledger row only
    # for a level it has locked, and that level's own foreign keys are checked; checking
    # them again per ledger row cost PostgreSQL 0.6-1 s per 100,000 rows at commit.
    # PROTECT still refuses to delete a variant or location with history (the ORM checks it).
    # Lookups by variant use the indexes below: (variant, location, id) for one level's
    # history, (variant, id) for a variant's newest rows (its page, its history chart).
    variant = models.ForeignKey(
        Variant,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        db_constraint=False,
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="transactions", db_constraint=False
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    quantity = models.IntegerField(
        help_text="The quantity asked for (a count: the number counted)."
    )
    on_hand_change = models.IntegerField(default=0)
    allocated_change = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    allocated_after = models.IntegerField()
    group = models.UUIDField(
        null=True, blank=True, help_text="Ties the two halves of a move together."
    )
    created_at = models.DateTimeField(db_index=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["variant", "location", "id"]),
            models.Index(fields=["variant", "id"]),
        ]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"

    def __str__(self):
        """ "BLUE-MUG at WH-1: removed 2, 40 on hand" (the variant and location loaded)."""
        text = f"{self.variant.sku} at {self.location.code}: {self.what}, "
        text += f"{self.on_hand_after:,} on hand"
        if self.allocated_after:
            text += f", {self.allocated_after:,} allocated"
        return text

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerImmutable(f"Ledger entry #{self.pk} cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable(f"Ledger entry #{self.pk} cannot be deleted")

    @property
    def what(self):
        """The action in words, with its quantity: "removed 2", "counted 12 (+2)"."""
        if self.action == Action.MOVE:
            direction = "in" if self.on_hand_change > 0 else "out"
            return f"moved {abs(self.on_hand_change):,} {direction}"
        if self.action == Action.COUNT:
            return f"counted {self.quantity:,} ({self.on_hand_change:+,})"
        return f"{LEDGER_VERBS.get(self.action, self.action)} {self.quantity:,}"

    @property
    def change(self):
        """What the line changed, signed: "-2 on hand", "+3 allocated", "no change"."""
        parts = [
            f"{n:+,} {what}"
            for n, what in ((self.on_hand_change, "on hand"), (self.allocated_change, "allocated"))
            if n
        ]
        return ", ".join(parts) or "no change"

    @property
    def available_after(self):
        return self.on_hand_after - self.allocated_after


# A stock file's mode (inventory.imports.stock.MODES), as what the file holds.
IMPORT_MODES = {"count": "stock count", "adjust": "stock adjustment"}


class ImportJob(models.Model):
    """A file uploaded in the admin: checked first (a dry run showing what each row will do),
    imported when the person confirms. Small files run in the request, large ones in a worker;
    either way this row is the page the person comes back to."""

    class Status(models.TextChoices):
        # An import undone (its movement reversed, from any page or command) keeps DONE:
        # `state` says "Undone", read from the movement, so that every way of undoing agrees.
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked: waiting for confirmation"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused: nothing applied"
        STALE = "stale", "Stale: stock moved since the preview, nothing applied"
        FAILED = "failed", "Failed: nothing applied"

    resource = models.CharField(
        max_length=255, help_text="The django-import-export resource class, as a dotted path."
    )
    what = models.CharField(max_length=64, help_text="What the file holds, for people.")
    file_name = models.CharField(max_length=255)
    # The file itself: a worker on any machine reads it from the database (no shared disk).
    data = models.BinaryField(editable=False)
    options = models.JSONField(
        default=dict, blank=True, help_text="The resource's options (a stock file's mode...)."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKING)
    rows = models.PositiveIntegerField(default=0, help_text="Rows in the file, header excluded.")
    summary = models.JSONField(
        default=dict, blank=True, help_text="Totals and problems of the latest check or import."
    )
    changes = models.JSONField(
        default=dict, blank=True, help_text="What the first rows will do (or did): headers, rows."
    )
    previewed = models.JSONField(
        null=True,
        blank=True,
        help_text="The on hand each row showed at the check ({row: on hand}): what its import "
        "expects to replace.",
    )
    again = models.BooleanField(
        default=False,
        help_text="Applied although the same file was imported before (the person asked).",
    )
    movement = models.ForeignKey(
        Movement, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.TextField(blank=True, help_text="An unexpected failure, for the logs.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest check of the file ended."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name = "import"

    def __str__(self):
        rows = ngettext("%(n)s row", "%(n)s rows", self.rows) % {"n": f"{self.rows:,}"}
        return f"{self.file_name} ({self.holds}, {rows})"

    @property
    def holds(self):
        """What the file holds, in words: "stock count", "locations (by code)"."""
        mode = (self.options or {}).get("mode")
        if mode in IMPORT_MODES:
            return IMPORT_MODES[mode]
        return self.what[:1].lower() + self.what[1:]

    @property
    def running(self):
        return self.status in (self.Status.CHECKING, self.Status.IMPORTING)

    @property
    def undone_by(self):
        """The movement that reversed this import's movement, or None (the movement and its
        reversal loaded: select_related("movement__reversed_by"))."""
        if self.movement_id is None:
            return None
        return getattr(self.movement, "reversed_by", None)

    @property
    def state(self):
        """The status, or "undone" once the import's movement was reversed."""
        return "undone" if self.undone_by is not None else self.status

    def get_state_display(self):
        return (
            "Undone: its movement was reversed"
            if self.state == "undone"
            else (self.get_status_display())
        )
