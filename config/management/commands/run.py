"""Run the whole app in one terminal: embedded Redis, web, worker and channel sandboxes."""

import signal
import subprocess
import sys
import time

from django.core.management import get_commands
from django.core.management.base import BaseCommand

from config.embedded_redis import owned_embedded_redis


class Command(BaseCommand):
    help = (
        "Start the web process, an rqworker with its scheduler and the sandboxes; Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web address (host:port)")
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--no-sandboxes", action="store_true")

    def handle(self, *args, **opts):
        manage = [sys.executable, "manage.py"]
        wanted = [("web", [*manage, "runserver", opts["addr"], "--noreload"])]
        if not opts["no_worker"]:
            wanted.append(
                ("worker", [*manage, "rqworker", "default", "sync", "imports", "--with-scheduler"])
            )
            if "rqcron" in get_commands():  # the sweeper and the daily reconcile
                wanted.append(("cron", [*manage, "rqcron", "connectors.cron"]))
        sandboxes = not opts["no_sandboxes"] and "sandbox" in get_commands()
        if sandboxes:
            wanted.append(("sandboxes", [*manage, "sandbox"]))

        stopping = False

        def request_stop(*_):
            nonlocal stopping
            stopping = True

        # Handle both explicitly: started in the background, a process inherits SIGINT ignored.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        with owned_embedded_redis(stdout=self.stdout):
            children = [(name, subprocess.Popen(cmd)) for name, cmd in wanted]
            if sandboxes and "load_demo_channels" in get_commands():
                # The sandboxes start empty: give them the demo channels' items, push them all.
                seeding = [*manage, "load_demo_channels", "--seed"]
                children.append(("seeding", subprocess.Popen(seeding)))
            self.stdout.write(
                f"started {', '.join(n for n, _ in children)}; "
                f"open http://{opts['addr']}/admin/ (Ctrl-C stops everything)"
            )
            try:
                while not stopping:
                    dead = [
                        (n, p)
                        for n, p in children
                        if p.poll() not in (None, 0) or (p.poll() == 0 and n != "seeding")
                    ]
                    if dead:
                        name, proc = dead[0]
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping")
                        break
                    time.sleep(0.5)
            finally:
                self._stop(children)
        self.stdout.write("stopped")

    def _stop(self, children):
        for _, proc in children:
            if proc.poll() is None:
                proc.terminate()  # the worker finishes its job (warm shutdown), then exits
        deadline = time.monotonic() + 10
        for name, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it")
                proc.kill()
                proc.wait()
