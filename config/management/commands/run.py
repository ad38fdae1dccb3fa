"""Run the whole app in one terminal: embedded Redis, web, worker and channel sandboxes."""

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from config.embedded_redis import owned_embedded_redis
from config.management.commands.load_demo import LOGIN_FILE, STAFF
from config.roles import CLERK, MANAGER, VIEWER
from connectors.platforms import registry

# What each demo login may do (config/roles.py), for the start-up banner.
ROLE_SUMMARY = {
    VIEWER: "sees everything, changes nothing",
    CLERK: "adjusts, moves and imports stock, reverses movements",
    MANAGER: "everything in inventory and channels, job queues too",
}
SEEDING_WAIT = 20  # seconds the banner waits for the demo sandboxes' seeding to finish
# Processes started again when they die (a worker that lost Redis for good, a kill); the
# others (web, sandboxes) stop everything: their port or settings need a person.
RESTARTED = ("worker", "cron")
RESTART_CALM = 60  # seconds a restarted process must live for its next restart to be at once
LEFTOVER_WAIT = 10  # seconds what a dead process left gets to stop before it is killed
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def adopt_orphans():
    """Have the children of a child that dies handed to this process, not to init (Linux's
    child subreaper): a SIGKILLed worker's scheduler process lives on, and `run` must be
    able to wait for it (and reap it) before it stops the embedded Redis. False elsewhere."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def my_children():
    """The pids whose parent is this process (from /proc; empty without it)."""
    me, found = os.getpid(), set()
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                if int(stat.read().rsplit(b")", 1)[1].split()[1]) == me:
                    found.add(int(pid))
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
    return found


def adopted(own):
    """The processes handed to this one because their parent died (a killed worker's
    scheduler, the work horse of its job) that still run; those that have exited are
    reaped. `own`: the pids this process started itself."""
    running = []
    for pid in my_children() - own:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                running.append(pid)
    return running


def sandboxes_installed():
    """Whether the sandboxes' extra (Werkzeug) is installed."""
    try:
        return importlib.util.find_spec("werkzeug") is not None
    except (ImportError, ValueError):  # blocked, or half there
        return False


def sandboxed_platforms():
    """The platforms whose sandbox `run` serves on its default port."""
    return [p for p in registry.platforms() if p.sandbox and p.port]


def web_answers(addr, timeout=0.5):
    """True once something accepts TCP connections at host:port."""
    host, _, port = addr.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout):
            return True
    except (OSError, ValueError):
        return False


def demo_login():
    """The demo logins `load_demo` made, if its password file is there and still admin's."""
    path = settings.VAR_DIR / LOGIN_FILE
    try:
        password = path.read_text().strip()
        users = {
            u.username: u
            for u in get_user_model()
            .objects.filter(username__in=["admin", *(n for n, _ in STAFF)], is_active=True)
            .prefetch_related("groups")
        }
        if "admin" not in users or not users["admin"].check_password(password):
            return None
    except (OSError, DatabaseError):
        return None
    logins = [("admin", "superuser: everything")]
    for username, role in STAFF:
        user = users.get(username)
        if user is not None and role in {g.name for g in user.groups.all()}:
            summary = ROLE_SUMMARY.get(role)
            logins.append((username, f"{role}: {summary}" if summary else role))
    return {"password": password, "path": shown(path), "users": logins}


def shown(path):
    """A path as the banner shows it: relative to the checkout when inside it."""
    path = Path(path)
    return path.relative_to(settings.BASE_DIR) if path.is_relative_to(settings.BASE_DIR) else path


def banner(url, running, login=None):
    """The block printed once the web process answers: where to go, who to log in as, what
    runs, and how to stop it."""
    rule = "-" * 78
    lines = [rule, f"  Inventory back-office: {url}", ""]
    if login:
        lines.append(f"  Log in as one of these, password {login['password']}")
        lines.append(f"  (kept in {login['path']}):")
        lines += [f"    {username:<9} {what}" for username, what in login["users"]]
    else:
        lines.append("  Log in with a staff user (none yet? python manage.py createsuperuser).")
    lines += ["", "  Running:"]
    lines += [f"    {name:<9} {what}" for name, what in running]
    lines += ["", "  Ctrl-C stops everything.", rule]
    return "\n".join(lines)


def running_services(addr, names):
    """(name, description) of each process `run` started, and of the services it uses."""
    described = {
        "web": f"http://{addr}/ (Django's development server)",
        "worker": "rqworker on the default, sync and imports queues, with the scheduler",
        "cron": "rqcron config.cron: the sync sweeper, the daily reconcile and upload purge",
    }
    rows = [(name, described[name]) for name in names if name in described]
    if "sandboxes" in names:
        ports = ", ".join(f"{p.label} {p.port}" for p in sandboxed_platforms())
        rows.append(("sandboxes", f"on 127.0.0.1: {ports}"))
    if settings.EMBEDDED_REDIS:
        rows.append(("redis", f"embedded Valkey at {shown(settings.EMBEDDED_REDIS_SOCKET)}"))
    else:
        rows.append(("redis", "the server REDIS_URL names"))
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        rows.append(("database", f"SQLite {shown(db['NAME'])}"))
    else:
        rows.append(("database", f"PostgreSQL {db['NAME']} (DATABASE_URL)"))
    return rows


class Command(BaseCommand):
    help = (
        "Start the web process, an rqworker with its scheduler and the sandboxes; Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web address (host:port)")
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--no-sandboxes", action="store_true")
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="log every request the web process serves and every job the worker and cron run",
        )

    def handle(self, *args, **opts):
        manage = [sys.executable, "manage.py"]
        addr = opts["addr"]
        # By default the worker and the cron scheduler log warnings and errors only: a line
        # for every sweep (twice a minute) would scroll the start-up banner away.
        quiet = not opts["verbose"]
        # The web process's line per request goes too; django.request still reports each
        # 4xx and 5xx, once (settings.LOGGING).
        web_env = None
        if quiet and "LOG_REQUESTS" not in os.environ:
            web_env = {**os.environ, "LOG_REQUESTS": "0"}
        wanted = [("web", [*manage, "runserver", addr, "--noreload"], web_env)]
        if not opts["no_worker"]:
            worker = [*manage, "rqworker", "default", "sync", "imports", "--with-scheduler"]
            wanted.append(("worker", worker + (["--verbosity", "0"] if quiet else []), None))
            if "rqcron" in get_commands():  # the sweeper and the daily reconcile
                # (rqcron's --logging-level gives way to the settings' LOGGING: use LOG_LEVEL.)
                env = None
                if quiet and "LOG_LEVEL" not in os.environ:
                    env = {**os.environ, "LOG_LEVEL": "WARNING"}
                wanted.append(("cron", [*manage, "rqcron", "config.cron"], env))
        # The sandboxes are an extra (Werkzeug); without it, `run` runs without them.
        sandboxes = not opts["no_sandboxes"] and sandboxes_installed()
        if sandboxes:
            wanted.append(("sandboxes", [*manage, "sandbox"], None))

        busy = self._ports_in_use(addr, sandboxes)
        if busy:
            ways = ["stop that program"]
            if any(what.endswith("(web)") for what in busy):
                ways.append("give the web process another address (--addr HOST:PORT)")
            if any(what.endswith("sandbox)") for what in busy):
                ways.append("run without the sandboxes (--no-sandboxes)")
            ways = " or ".join(ways)
            raise CommandError(
                f"already in use by another program: {', '.join(busy)}. "
                f"{ways[0].upper()}{ways[1:]}."
            )

        stopping = False

        def request_stop(*_):
            nonlocal stopping
            stopping = True

        # Handle these explicitly: started in the background, a process inherits SIGINT
        # ignored. The children run in their own process groups, so a Ctrl-C in the terminal
        # reaches this process only, and each child is stopped once, in order, below (a
        # worker sent two signals would abandon its job; the embedded Redis goes last).
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, request_stop)
        adopt_orphans()
        with owned_embedded_redis(stdout=self.stdout):
            children = [(name, self._start(cmd, env)) for name, cmd, env in wanted]
            # What this process started, the embedded Redis too: any other child it has
            # later on (but the restarted) was handed to it.
            self.own = my_children()
            if sandboxes and "load_demo_channels" in get_commands():
                # The sandboxes start empty: give them the demo channels' items, push them all.
                seeding = [*manage, "load_demo_channels", "--seed", "--app-url", f"http://{addr}"]
                children.append(("seeding", self._start(seeding)))
            login = demo_login()
            started = time.monotonic()
            announced = False
            commands = {name: (cmd, env) for name, cmd, env in wanted}
            restarts = {}  # name: (quick deaths in a row, when its restart may start)
            try:
                while not stopping:
                    dead = [
                        (n, p)
                        for n, p in children
                        if p.poll() not in (None, 0) or (p.poll() == 0 and n != "seeding")
                    ]
                    for name, proc in [(n, p) for n, p in dead if n in RESTARTED]:
                        dead.remove((name, proc))
                        children = self._restart(name, proc, children, commands, restarts)
                    if dead:
                        name, proc = dead[0]
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping")
                        break
                    if not announced and self._ready(addr, children, started):
                        names = [n for n, _ in children]
                        self.stdout.write(
                            banner(f"http://{addr}/admin/", running_services(addr, names), login)
                        )
                        announced = True
                    adopted(self.own | {p.pid for _, p in children})  # reaps the exited
                    time.sleep(0.5)
            finally:
                self._stop(children)
        self.stdout.write("stopped")

    def _restart(self, name, proc, children, commands, restarts):
        """The worker or the cron process died: start it again, at once if it had run for
        RESTART_CALM, else after a wait that doubles each time (up to 30 s)."""
        now = time.monotonic()
        count, not_before = restarts.get(name, (0, None))
        if not_before is None:  # just found dead
            calm = now - proc.started_at >= RESTART_CALM
            count = 1 if calm else count + 1
            wait = 0.0 if count == 1 else min(2.0 ** (count - 1), 30.0)
            not_before = now + wait
            restarts[name] = (count, not_before)
            later = f" in {wait:.0f} s" if wait else ""
            code = proc.returncode
            self.stderr.write(f"{name} exited with code {code}; starting it again{later}")
        if now < not_before:
            return children
        # What the dead process left in its group (a SIGKILLed worker's scheduler process
        # lives on, orphaned) stops now, releasing its locks: the new one starts its own.
        # It is waited for before Redis stops, like the children (see _stop_adopted).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        cmd, env = commands[name]
        fresh = self._start(cmd, env)
        restarts[name] = (count, None)
        return [(n, fresh if p is proc else p) for n, p in children]

    @staticmethod
    def _ports_in_use(addr, sandboxes):
        """What would fail to start because its port already answers."""
        wanted = [(f"{addr} (web)", addr)]
        if sandboxes:
            wanted += [
                (f"{p.port} (the {p.label} sandbox)", f"127.0.0.1:{p.port}")
                for p in sandboxed_platforms()
            ]
        return [what for what, where in wanted if web_answers(where, timeout=0.2)]

    @staticmethod
    def _start(cmd, env=None):
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, process_group=0, env=env)
        proc.started_at = time.monotonic()
        return proc

    @staticmethod
    def _ready(addr, children, started):
        """The web process answers, and the demo seeding is done (or taking too long)."""
        seeding = [p for n, p in children if n == "seeding" and p.poll() is None]
        if seeding and time.monotonic() - started < SEEDING_WAIT:
            return False
        return web_answers(addr)

    def _stop(self, children):
        for _, proc in children:
            if proc.poll() is None:
                proc.terminate()  # the worker finishes its job (warm shutdown), then exits
        deadline = time.monotonic() + 10
        for name, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # A second SIGTERM is rq's cold shutdown: the worker kills the job's
                # work-horse (a process group of its own) before it exits.
                self.stderr.write(f"{name} did not stop in time; stopping it now")
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{name} still running; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)  # and whatever else is in its group
                    proc.wait()
        self._stop_adopted(children)

    def _stop_adopted(self, children):
        """Wait for the processes handed to this one (a killed worker's scheduler, told to
        stop when its worker was found dead; the work horse finishing its job), killing
        what is still there after LEFTOVER_WAIT: the embedded Redis, stopped next, must not
        go while one of them still talks to it."""
        own = self.own | {p.pid for _, p in children}
        deadline = time.monotonic() + LEFTOVER_WAIT
        while (left := adopted(own)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            pids = ", ".join(map(str, sorted(left)))
            self.stderr.write(
                f"left running by a dead worker or cron and not stopped in {LEFTOVER_WAIT} s"
                f" (pid {pids}): killing"
            )
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while adopted(own) and time.monotonic() < deadline:
            time.sleep(0.1)
