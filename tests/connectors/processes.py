"""What tests that start their own worker processes share."""

from django.db import connection


def database_url():
    """The test database's URL, for a child process (a worker) to share it."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
