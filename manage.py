#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

from django.core.management import execute_from_command_line

from config.env import ConfigError


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:  # a setting the app cannot start with: say which, no traceback
        sys.exit(f"{os.path.basename(sys.argv[0])}: configuration error: {exc}")


if __name__ == "__main__":
    main()
