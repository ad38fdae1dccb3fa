"""Channel credentials and tokens encrypted at rest (connectors/fields.py): the columns become
text holding a Fernet token, and the rows already there are encrypted in place."""

import json

from cryptography.fernet import InvalidToken
from django.db import migrations

import connectors.fields

COLUMNS = ("credentials", "auth_state")


def _rewrite(schema_editor, change):
    """Apply `change` to each row's stored text of both columns, with plain SQL: the model's
    field would decrypt what is not encrypted yet."""
    connection = schema_editor.connection
    table = schema_editor.quote_name("connectors_channel")
    cols = ", ".join(schema_editor.quote_name(c) for c in COLUMNS)
    sets = ", ".join(f"{schema_editor.quote_name(c)} = %s" for c in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {cols} FROM {table}")
        rows = cursor.fetchall()
        for pk, *values in rows:
            cursor.execute(
                f"UPDATE {table} SET {sets} WHERE id = %s", [*(change(v) for v in values), pk]
            )


def _encrypted(text):
    if not text:
        return connectors.fields.encrypt_json({})
    try:
        connectors.fields.fernet().decrypt(text.encode())
    except InvalidToken:
        value = json.loads(text) if isinstance(text, str) else text
        return connectors.fields.encrypt_json(value)
    return text  # already encrypted (a migration run again after a failure)


def _plain(text):
    return json.dumps(connectors.fields.decrypt_json(text)) if text else "{}"


def encrypt_rows(apps, schema_editor):
    _rewrite(schema_editor, _encrypted)


def decrypt_rows(apps, schema_editor):
    _rewrite(schema_editor, _plain)


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0007_channel_percentage_at_most_100"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="auth_state",
            field=connectors.fields.EncryptedJSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AlterField(
            model_name="channel",
            name="credentials",
            field=connectors.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows, elidable=False),
    ]
