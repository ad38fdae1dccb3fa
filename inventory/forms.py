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


def _locations():
    return Location.objects.filter(active=True).order_by("code")


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
    reason = forms.CharField(max_length=255, required=False)
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
    reason = forms.CharField(max_length=255, required=False)

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
