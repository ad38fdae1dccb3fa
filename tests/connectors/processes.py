"""What tests that start their own worker processes share."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url():
    """The test database's URL, for a child process (a worker) to share it."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def start_worker(*queues, log=subprocess.DEVNULL, burst=True, **environ):
    """A real `manage.py rqworker` on the test database, for a test to SIGKILL: in burst
    mode, rq's SimpleWorker (one process); otherwise the app's own worker (settings.RQ's
    WORKER_CLASS, with its work horses and its scheduler). `environ` adds to its
    environment."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        **environ,
    }
    command = [sys.executable, "manage.py", "rqworker", *queues]
    if burst:
        command += ["--burst", "--worker-class", "rq.SimpleWorker"]
    else:
        command += ["--with-scheduler"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
