"""One rule for the quantity an untracked variant is shown as: at least 1 on every platform
(Elastic Path and Unicommerce took 0 before, which showed an unlimited variant as sold out).
A stored value below 1 becomes 1, so that no channel is paused by the stricter check."""

from django.db import migrations


def at_least_one(apps, schema_editor):
    Channel = apps.get_model("connectors", "Channel")
    for channel in Channel.objects.all():
        value = (channel.settings or {}).get("untracked_quantity")
        try:
            low = value not in (None, "") and int(str(value).strip()) < 1
        except ValueError:
            continue  # not a number: the channel's check says so, as it did before
        if low:
            channel.settings = {**channel.settings, "untracked_quantity": 1}
            channel.save(update_fields=["settings"])


class Migration(migrations.Migration):
    dependencies = [("connectors", "0004_platform_choices_from_the_registry")]

    operations = [migrations.RunPython(at_least_one, migrations.RunPython.noop)]
