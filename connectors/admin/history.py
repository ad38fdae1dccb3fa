"""What a channel's History page says about an edit: each changed rule, location, mode and
setting with its old and new value as staff name them (location codes, not ids); for
credentials only which ones were set or cleared, never a value."""

from django import forms
from django.db.models import Model

CREDENTIAL = "credential_"


def channel_change_message(form, notes=()):
    """One line per change the form made, then `notes` (what saving it did besides)."""
    credentials, parts = [], []
    for name in form.changed_data:
        field = form.fields[name]
        if name.startswith(CREDENTIAL):
            credentials.append(str(field.label))
        elif name == "clear_credentials":
            parts.append("credentials: the stored ones cleared")
        else:
            before = _shown(field, form.get_initial_for_field(field, name))
            after = _shown(field, form.cleaned_data.get(name))
            if before != after:  # a blank posted for a default is no change
                parts.append(f"{field.label}: {before} → {after}")
    if credentials:
        parts.append(f"credentials set: {', '.join(sorted(credentials))} (values not recorded)")
    parts.extend(notes)
    return ("Changed " + "; ".join(parts) + ".") if parts else "No fields changed."


def _shown(field, value):
    if isinstance(field, forms.ModelMultipleChoiceField):
        objs = _objects(field, value or [])
        return ", ".join(sorted(_name(o) for o in objs)) or "none"
    if isinstance(field, forms.ModelChoiceField):
        objs = _objects(field, [] if value in (None, "") else [value])
        return _name(objs[0]) if objs else "none"
    if value in (None, ""):
        return "blank"
    return str(value)


def _objects(field, values):
    values = list(values)
    if all(isinstance(v, Model) for v in values):
        return values
    return list(field.queryset.filter(pk__in=[getattr(v, "pk", v) for v in values]))


def _name(obj):
    return getattr(obj, "code", None) or str(obj)
