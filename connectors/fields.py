"""A JSON value kept encrypted in the database: channel credentials and the tokens got with them.

Fernet (AES-128-CBC with an HMAC) under settings.CREDENTIALS_KEYS through MultiFernet: the first
key encrypts, every key decrypts, so a new key is put first and the old one kept until
`reencrypt_credentials` has rewritten every row under the new one (README: Operations)."""

import functools
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from connectors.exceptions import ConfigError


class CredentialsUnreadable(ConfigError):
    """A stored value that none of CREDENTIALS_KEYS decrypts: the channel cannot be used
    until its key is put back (or new credentials are entered), like wrong settings."""

    def __init__(self, column):
        super().__init__(
            f"stored {column} cannot be decrypted with any key in CREDENTIALS_KEYS: was the key "
            "they were encrypted with removed before `manage.py reencrypt_credentials` ran? Put "
            "it back (after the new one) and run that command."
        )


@functools.cache
def _fernet(keys):
    return MultiFernet([Fernet(key) for key in keys])


def fernet():
    """The keys now configured (a test may override the setting)."""
    return _fernet(tuple(settings.CREDENTIALS_KEYS))


def encrypt_json(value):
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token, column="credentials"):
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(column) from None


class Unreadable(dict):
    """A column none of CREDENTIALS_KEYS decrypts, as loaded: empty to whoever reads it (the
    channel's pages, lists and the dashboard still open), its token kept so that saving the
    channel writes it back as it was, and `error` saying why. Whoever needs the credentials
    calls readable(), which raises."""

    def __init__(self, token, column):
        super().__init__()
        self.token = token
        self.error = CredentialsUnreadable(column)


def readable(value):
    """The decrypted value; CredentialsUnreadable if the stored one could not be decrypted."""
    if isinstance(value, Unreadable):
        raise value.error
    return value


class EncryptedJSONField(models.TextField):
    """A dict in Python, a Fernet token in the column: no backup or query shows its content."""

    description = "JSON, encrypted"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        try:
            return decrypt_json(value, self.name)
        except CredentialsUnreadable:
            return Unreadable(value, self.name)

    def to_python(self, value):
        if isinstance(value, str):  # a token, as a fixture or dumpdata carries it
            return decrypt_json(value, self.name) if value else {}
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Unreadable):  # left as it was stored
            return value.token
        return encrypt_json(value)

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return None  # never a form field: the channel form has write-only fields of its own
