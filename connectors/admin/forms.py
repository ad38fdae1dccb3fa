"""The channel form: the platform's credentials (write-only) and settings, each a field of
its kind with the platform's own words; and the listing form, variant by SKU."""

from django import forms

from connectors.fields import Unreadable
from connectors.models import Channel, Listing
from connectors.platforms import registry


def fields_by_name(attr):
    """{name: [(platform label, Setting)]} over every platform's credential or setting
    fields: platforms share names (HighLevel's token and Webflow's token are one field)."""
    fields = {}
    for platform in registry.platforms():
        for f in getattr(platform.connector_class(), attr):
            fields.setdefault(f.name, []).append((platform.label, f))
    return fields


def _used_by(uses):
    """Which platforms use a field, and as what; platforms that declare it alike share one
    description (the untracked quantity is one Setting for three of them)."""
    alike = {}
    for label, f in uses:
        alike.setdefault(f, []).append(label)
    return "; ".join(
        f"{', '.join(labels)}: {f.label}{'' if f.required else ' (optional)'}"
        + (f" ({f.help.rstrip('.')})" if f.help else "")
        for f, labels in alike.items()
    )


def _label(name, uses):
    return uses[0][1].label if len(uses) == 1 else name.replace("_", " ").capitalize()


def _setting_field(name, uses):
    """A form field for a setting, of the kind the platforms declare (text if they differ)."""
    kinds = {f.kind for _, f in uses}
    kind = kinds.pop() if len(kinds) == 1 else "str"
    options = {"label": _label(name, uses), "required": False, "help_text": _used_by(uses)}
    if kind == "int":
        minimums = [f.minimum for _, f in uses if f.minimum is not None]
        maximum = max(f.maximum for _, f in uses)
        return forms.IntegerField(
            min_value=min(minimums) if minimums else None, max_value=maximum, **options
        )
    if kind == "bool":
        choices = [("", "Not set (the default)"), ("true", "Yes"), ("false", "No")]
        return forms.TypedChoiceField(choices=choices, empty_value="", **options)
    if kind == "choice":
        values = dict.fromkeys(c for _, f in uses for c in f.choices)
        choices = [("", "Not set (the default)"), *((v, v) for v in values)]
        return forms.ChoiceField(choices=choices, **options)
    return forms.CharField(max_length=2000, **options)


class ChannelForm(forms.ModelForm):
    """Credentials are write-only: blank keeps what is stored; nothing is ever shown back.
    Settings are one field each; only those of the chosen platform are kept."""

    base_url = forms.URLField(
        assume_scheme="https", help_text="The API's base URL (a sandbox's http://127.0.0.1:PORT)."
    )

    class Meta:
        model = Channel
        fields = (
            "name",
            "platform",
            "base_url",
            "mode",
            "locations",
            "buffer",
            "percentage",
            "cap",
            "zero_out_threshold",
            "allocation_order",
            "return_location",
            "remote_changes",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = (self.instance.credentials or {}) if self.instance.pk else {}
        unreadable = isinstance(self.instance.credentials, Unreadable)
        for name, uses in fields_by_name("credential_fields").items():
            state = "set: leave blank to keep" if stored.get(name) else "not set"
            if unreadable:
                state = "stored, but no key in CREDENTIALS_KEYS decrypts it: enter it again"
            self.fields[f"credential_{name}"] = forms.CharField(
                label=_label(name, uses),
                required=False,
                max_length=4000,
                strip=True,
                widget=forms.PasswordInput(render_value=False),
                help_text=f"{_used_by(uses)}. Write-only ({state}).",
            )
        # Blank keeps the default policy (a form posted without it, as before it existed).
        if "remote_changes" in self.fields:  # a viewer's page has it read-only
            self.fields["remote_changes"].required = False
        self.fields["clear_credentials"] = forms.BooleanField(
            required=False, help_text="Forget the stored credentials before applying these."
        )
        settings = self.instance.settings or {}
        for name, uses in fields_by_name("setting_fields").items():
            field = _setting_field(name, uses)
            value = settings.get(name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            field.initial = value
            self.fields[f"setting_{name}"] = field

    def clean_remote_changes(self):
        return self.cleaned_data.get("remote_changes") or Channel.RemoteChanges.PUSH_OURS

    def clean_allocation_order(self):
        """Codes of the channel's own locations, each once (any case); stored as typed."""
        value = self.cleaned_data.get("allocation_order") or ""
        codes = [c.strip() for c in value.split(",") if c.strip()]
        seen, problems = set(), []
        for code in codes:
            if code.upper() in seen:
                problems.append(f"{code} is named twice")
            seen.add(code.upper())
        if problems:
            raise forms.ValidationError("; ".join(problems))
        return ", ".join(codes)

    def _check_allocation_codes(self, data):
        locations = data.get("locations")
        codes = [c.strip() for c in (data.get("allocation_order") or "").split(",") if c.strip()]
        if locations is None or not codes:
            return
        sold = {loc.code.upper() for loc in locations}
        foreign = [code for code in codes if code.upper() not in sold]
        if foreign:
            self.add_error(
                "allocation_order",
                f"not among the locations it sells: {', '.join(foreign)} (it sells "
                f"{', '.join(sorted(loc.code for loc in locations)) or 'none'})",
            )

    def clean(self):
        data = super().clean()
        self._check_allocation_codes(data)
        name = data.get("platform")
        if not name:
            return data
        platform = registry.get(name)
        cls = platform.connector_class()
        credentials = {} if data.get("clear_credentials") else dict(self.instance.credentials or {})
        allowed = {f.name for f in cls.credential_fields}
        for field in allowed:
            value = (data.get(f"credential_{field}") or "").strip()
            if value:
                credentials[field] = value
        credentials = {k: v for k, v in credentials.items() if k in allowed}
        settings, shown = {}, set()
        for setting in cls.setting_fields:
            value = data.get(f"setting_{setting.name}")
            if value not in (None, ""):
                settings[setting.name] = value
            problem = setting.problem(value)
            if problem:  # said on its own field
                self.add_error(f"setting_{setting.name}", f"{platform.label}: {problem}")
                shown.add(f"setting {problem}")
        problems = [p for p in cls.config_problems(credentials, settings) if p not in shown]
        if problems and isinstance(self.instance.credentials, Unreadable):
            problems.append(str(self.instance.credentials.error))
        if problems:
            raise forms.ValidationError([f"{platform.label}: {p}" for p in problems])
        self.new_credentials, self.new_settings = credentials, settings
        return data

    def setting_names(self):
        return [name for name in self.fields if name.startswith("setting_")]

    def save(self, commit=True):
        moved = {"platform", "base_url"} & set(self.changed_data)
        if self.new_credentials != self.instance.credentials or moved:
            self.instance.auth_state = {}  # tokens of the old credentials are no use
        if not (isinstance(self.instance.credentials, Unreadable) and not self.new_credentials):
            self.instance.credentials = self.new_credentials  # unreadable ones stay as stored
        self.instance.settings = self.new_settings
        return super().save(commit)


class ListingForm(forms.ModelForm):
    """Which channel, which variant (found by SKU), and its ids there; the sync state is
    shown, never edited."""

    class Meta:
        model = Listing
        fields = ("channel", "variant", "remote_parent_id", "remote_id")
        labels = {"remote_id": "Remote id", "remote_parent_id": "Remote parent id"}
        help_texts = {
            "variant": "Type a SKU, barcode or name to find the variant.",
            "remote_id": "The item's id on the platform (see Channels in the README for each "
            "platform's name for it).",
            "remote_parent_id": "Its parent's id where the platform has one (Webflow's SKU "
            "collection, Unicommerce's productId, Zettle's productUuid).",
        }

    def clean_channel(self):
        channel = self.cleaned_data.get("channel")
        if self.instance.pk and channel is not None and channel.pk != self.instance.channel_id:
            raise forms.ValidationError(
                "A listing stays on its channel (the old one would keep showing what it was "
                "last sent): list the variant on the other channel instead."
            )
        return channel
