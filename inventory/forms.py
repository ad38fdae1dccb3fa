"""Admin forms for stock changes. They only collect input; the stock service decides."""

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator

from inventory.models import Action, Location
from inventory.services import StockLine

ADJUST_ACTIONS = [
    (Action.INCREMENT, "Increment: goods received (+ on hand)"),
    (Action.DECREMENT, "Decrement: goods gone (- on hand)"),
    (Action.COUNT, "Count: set on hand to the number counted"),
    (Action.ALLOCATE, "Allocate: reserve for an order"),
    (Action.DEALLOCATE, "Deallocate: release a reservation"),
]


REASON_HELP = 'Why the stock changes (recorded on the movement, e.g. "damaged in transit").'
REASON_REQUIRED = "Give a reason: it is recorded on the movement for whoever reads the ledger."


def _locations():
    return Location.objects.filter(active=True).order_by("code")


def _reason():
    # CharField strips whitespace: a reason of spaces is no reason, and is refused.
    return forms.CharField(
        max_length=255, help_text=REASON_HELP, error_messages={"required": REASON_REQUIRED}
    )


class StockForm(forms.Form):
    """What the adjust and move forms share: the quantity's limit and the form's token."""

    # The idempotency token the form was opened with: a form submitted twice applies once.
    token = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9_-]*\Z", "The form's token is damaged: reload the page and try again."
            )
        ],
    )

    def __init__(self, *args, token=None, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.STOCK_MAX_QUANTITY  # read per form: a setting, not an import-time value
        quantity = self.fields["quantity"]
        quantity.max_value = limit
        quantity.widget.attrs["max"] = limit
        quantity.validators.append(
            MaxValueValidator(
                limit,
                f"At most {limit:,} units a line (STOCK_MAX_QUANTITY): check it for a typo.",
            )
        )
        if token is not None:
            self.fields["token"].initial = token


class AdjustStockForm(StockForm):
    # Not named "action": the changelist's bulk actions post their own "action" field.
    operation = forms.ChoiceField(choices=ADJUST_ACTIONS, label="Action")
    location = forms.ModelChoiceField(queryset=_locations(), to_field_name="pk")
    quantity = forms.IntegerField(
        min_value=0, help_text="Whole units. For a count: the number counted (0 allowed)."
    )
    reason = _reason()
    # The on-hand figures shown when the form was opened, per location ("12,3:40"):
    # a count is refused as stale if the level moved since.
    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, seen_levels=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()
        if seen_levels is not None:
            self.fields["seen"].initial = ",".join(f"{k}:{v}" for k, v in seen_levels.items())

    def seen_on_hand(self, location_id):
        for part in (self.cleaned_data.get("seen") or "").split(","):
            loc, _, value = part.partition(":")
            if loc.strip() == str(location_id) and value.strip().lstrip("-").isdigit():
                return int(value)
        return None

    def stock_lines(self, variant_ids):
        data = self.cleaned_data
        location = data["location"]
        expected = None
        if data["operation"] == Action.COUNT and len(variant_ids) == 1:
            expected = self.seen_on_hand(location.pk)
            if expected is None:
                expected = 0  # no level was shown: there was none, i.e. 0 on hand
        return [
            StockLine(
                action=data["operation"],
                quantity=data["quantity"],
                variant_id=variant_id,
                location_id=location.pk,
                expected=expected,
            )
            for variant_id in variant_ids
        ]


class MoveStockForm(StockForm):
    from_location = forms.ModelChoiceField(queryset=_locations(), label="From")
    to_location = forms.ModelChoiceField(queryset=_locations(), label="To")
    quantity = forms.IntegerField(min_value=1)
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_location"].queryset = _locations()
        self.fields["to_location"].queryset = _locations()

    def clean(self):
        data = super().clean()
        if data.get("from_location") and data.get("from_location") == data.get("to_location"):
            raise forms.ValidationError("Choose two different locations.")
        return data

    def stock_lines(self, variant_ids):
        data = self.cleaned_data
        return [
            StockLine(
                action=Action.MOVE,
                quantity=data["quantity"],
                variant_id=variant_id,
                location_id=data["from_location"].pk,
                to_location_id=data["to_location"].pk,
            )
            for variant_id in variant_ids
        ]


class BulkAdjustForm(forms.Form):
    """The bulk "adjust selected" form: one action, location and reason, and a quantity per
    selected variant (left blank: that variant is left alone). Applied as one movement, all
    or nothing; a count is refused as stale if the level moved since the form was shown."""

    token = StockForm.base_fields["token"]
    operation = forms.ChoiceField(choices=ADJUST_ACTIONS, label="Action")
    location = forms.ModelChoiceField(queryset=_locations(), to_field_name="pk")
    reason = _reason()
    # "variant:location:on hand" of every level shown ("12:3:40;12:4:0"), for counts.
    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, variants, seen_levels=None, token=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.variants = list(variants)
        self.fields["location"].queryset = _locations()
        limit = settings.STOCK_MAX_QUANTITY
        for variant in self.variants:
            self.fields[self.quantity_name(variant)] = forms.IntegerField(
                label=variant.sku,
                required=False,
                min_value=0,
                max_value=limit,
                widget=forms.NumberInput(attrs={"min": 0, "max": limit, "class": "vIntegerField"}),
            )
        if token is not None:
            self.fields["token"].initial = token
        if seen_levels is not None:
            self.fields["seen"].initial = ";".join(
                f"{v}:{loc}:{on_hand}" for (v, loc), on_hand in seen_levels.items()
            )

    @staticmethod
    def quantity_name(variant):
        return f"quantity_{variant.pk}"

    def rows(self):
        """(variant, its quantity field) in the order they were selected."""
        return [(v, self[self.quantity_name(v)]) for v in self.variants]

    def clean(self):
        data = super().clean()
        if not self.errors and not self.given():
            raise forms.ValidationError(
                "Enter a quantity for at least one variant (a blank line is left alone)."
            )
        return data

    def given(self):
        return [
            (v, self.cleaned_data[self.quantity_name(v)])
            for v in self.variants
            if self.cleaned_data.get(self.quantity_name(v)) is not None
        ]

    def _seen(self):
        seen = {}
        for part in (self.cleaned_data.get("seen") or "").split(";"):
            bits = part.split(":")
            if len(bits) == 3 and all(b.strip().lstrip("-").isdigit() for b in bits):
                seen[int(bits[0]), int(bits[1])] = int(bits[2])
        return seen

    def stock_lines(self):
        """[(variant, StockLine)] for the lines given, in the form's order."""
        data = self.cleaned_data
        location, operation = data["location"], data["operation"]
        seen = self._seen() if operation == Action.COUNT else {}
        return [
            (
                variant,
                StockLine(
                    action=operation,
                    quantity=quantity,
                    variant_id=variant.pk,
                    location_id=location.pk,
                    # No level shown there: there was none, i.e. 0 on hand.
                    expected=seen.get((variant.pk, location.pk), 0)
                    if operation == Action.COUNT
                    else None,
                ),
            )
            for variant, quantity in self.given()
        ]
