"""`manage.py run`: the start-up banner, and one Ctrl-C stopping everything it started."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from redis import Redis
from rq import Queue

from config.management.commands.run import (
    LEFTOVER_WAIT,
    banner,
    demo_login,
    running_services,
    web_answers,
)

BASE = Path(__file__).resolve().parents[2]


def test_banner_says_where_who_what_and_how_to_stop():
    login = {
        "password": "demo-secret",
        "path": Path("var/demo-login.txt"),
        "users": [("admin", "superuser: everything"), ("clerk", "Stock clerk: adjusts")],
    }
    running = [("web", "http://127.0.0.1:8000/"), ("worker", "rqworker")]
    text = banner("http://127.0.0.1:8000/admin/", running, login)
    assert "Inventory back-office: http://127.0.0.1:8000/admin/" in text
    assert "password demo-secret" in text
    assert "(kept in var/demo-login.txt)" in text
    assert "    admin     superuser: everything" in text
    assert "    clerk     Stock clerk: adjusts" in text
    assert "    worker    rqworker" in text
    assert text.splitlines()[-2] == "  Ctrl-C stops everything."


def test_banner_without_demo_logins_says_how_to_make_one():
    text = banner("http://x/admin/", [], None)
    assert "python manage.py createsuperuser" in text


@pytest.mark.django_db
def test_demo_login_lists_admin_and_one_user_per_role(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert demo_login() is None  # no load_demo yet
    call_command("load_demo", stdout=StringIO())
    login = demo_login()
    assert login["password"] == (tmp_path / "demo-login.txt").read_text().strip()
    assert [u for u, _ in login["users"]] == ["admin", "viewer", "clerk", "manager"]
    assert dict(login["users"])["clerk"].startswith("Stock clerk: ")


@pytest.mark.django_db
def test_demo_login_is_not_shown_once_admin_has_another_password(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())
    from django.contrib.auth.models import User

    admin = User.objects.get(username="admin")
    admin.set_password("changed-since")
    admin.save()
    assert demo_login() is None


def test_running_services_name_the_sandbox_ports_redis_and_database():
    rows = dict(running_services("127.0.0.1:8000", ["web", "worker", "cron", "sandboxes"]))
    assert rows["web"].startswith("http://127.0.0.1:8000/")
    assert "HighLevel 8101" in rows["sandboxes"]
    assert "Zettle 8105" in rows["sandboxes"]
    assert {"redis", "database"} <= rows.keys()


def test_web_answers_once_something_listens():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{server.getsockname()[1]}"
        assert not web_answers(addr)
        server.listen()
        assert web_answers(addr)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker):
    """Pids of this user's processes whose environment holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


@contextlib.contextmanager
def running_app(tmp_path, *args):
    """`manage.py run --no-sandboxes` (and `args`) on a fresh VAR_DIR, once its banner is out:
    (the process, its output file, the web address). Killed on the way out if still running."""
    addr = f"127.0.0.1:{_free_port()}"
    drop = {"DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "LOG_REQUESTS", "INVENTORY_TEST_REDIS_SOCKET"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path), DEBUG="1")
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, cwd=BASE, env=env, check=True, capture_output=True, timeout=300)
    out = tmp_path / "run.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run", "--no-sandboxes", "--addr", addr, *args],
            cwd=BASE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        until(lambda: "Ctrl-C stops everything" in out.read_text(), proc, out)
        yield proc, out, addr
    finally:
        # A failed test leaves nothing behind: `run`, and each process it started (they
        # run in process groups of their own), by the VAR_DIR in their environment.
        for pid in _processes_with(f"VAR_DIR={tmp_path}".encode()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()


def until(condition, proc, out, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, out.read_text()
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.2)


def _workers(tmp_path, run):
    """The rqworker processes `run` started, in process groups of their own (not the
    scheduler a worker forks, which stays in the worker's group; but a work horse, which
    makes its own group, looks like one once its worker died and it was handed to `run`)."""
    return [
        pid
        for pid in _processes_with(f"VAR_DIR={tmp_path}".encode())
        if b"rqworker" in _cmdline(pid) and _stat(pid)[:2] == [run.pid, pid]
    ]


def _children(tmp_path, parent):
    """The processes `parent` forked (a worker's scheduler, its work horses)."""
    return [p for p in _processes_with(f"VAR_DIR={tmp_path}".encode()) if _parent(p) == parent]


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stat(pid):
    """[parent, process group] of a process, [0, 0] once it is gone."""
    try:
        return [
            int(f) for f in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1:3]
        ]
    except (OSError, IndexError, ValueError):
        return [0, 0]


def _started(pid):
    """When a process started (clock ticks after boot), for ordering."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _parent(pid):
    return _stat(pid)[0]


def test_ctrl_c_stops_web_worker_cron_and_the_embedded_redis_cleanly(tmp_path):
    """Like a terminal's Ctrl-C: SIGINT to the foreground process group. The banner comes
    once the web process answers; afterwards nothing started is left, and no traceback."""
    with running_app(tmp_path) as (proc, out, addr):
        assert web_answers(addr)
        assert len(_processes_with(f"VAR_DIR={tmp_path}".encode())) >= 4  # run, web, worker, cron
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, out.read_text()
    text = out.read_text()
    assert text.index(f"http://{addr}/ (Django's development server)") > text.index(
        "Starting development server"
    )
    assert "Traceback" not in text, text
    assert "could not connect to Redis" not in text, text
    assert text.rstrip().endswith("embedded Redis stopped\nstopped")
    assert _processes_with(f"VAR_DIR={tmp_path}".encode()) == []
    assert not web_answers(addr)


def _kill_the_worker_and_hold_its_scheduler(tmp_path, proc, out, busy=False):
    """SIGKILL of the worker `run` started, its scheduler process (forked, left behind)
    stopped with SIGSTOP so that it is slow to stop; once a new worker runs: the
    scheduler's pid. `busy`: the worker is killed while its work horse runs a 3 s job."""
    (worker,) = _workers(tmp_path, proc)
    if busy:
        socket_path = tmp_path / "redis" / "valkey.sock"
        with Redis(unix_socket_path=str(socket_path)) as connection:
            Queue("default", connection=connection).enqueue("time.sleep", 3)
        until(lambda: [p for p in _children(tmp_path, worker) if _stat(p)[1] == p], proc, out)
    # Its scheduler stays in its process group (a work horse, if a job runs, makes its own)
    # and is forked first, before the worker takes a job.
    until(lambda: [p for p in _children(tmp_path, worker) if _stat(p)[1] == worker], proc, out)
    scheduler = min((p for p in _children(tmp_path, worker) if _stat(p)[1] == worker), key=_started)
    before = set(_processes_with(f"VAR_DIR={tmp_path}".encode()))
    os.kill(worker, signal.SIGKILL)
    os.kill(scheduler, signal.SIGSTOP)
    # The new worker (a work horse the dead one left, handed to `run`, looks like one).
    until(lambda: [p for p in _workers(tmp_path, proc) if p not in before], proc, out)
    assert "worker exited with code -9; starting it again" in out.read_text()
    assert _parent(scheduler) == proc.pid  # handed to `run`, which waits for it
    return scheduler


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "mid-job"])
def test_a_worker_that_dies_is_started_again(tmp_path, busy):
    """SIGKILL of the worker (no Redis outage can be the cause here): `run` says so and
    starts another; the web and the rest carry on. The scheduler process the dead worker
    left behind is stopped too, and waited for before the embedded Redis goes: a Ctrl-C
    right after leaves nothing running and no traceback. Killed mid-job, its work horse
    finishes the job, and is waited for too."""
    with running_app(tmp_path) as (proc, out, addr):
        scheduler = _kill_the_worker_and_hold_its_scheduler(tmp_path, proc, out, busy=busy)
        assert web_answers(addr)
        os.killpg(proc.pid, signal.SIGINT)
        until(lambda: not _workers(tmp_path, proc), proc, out)  # the new worker has stopped
        assert "embedded Redis stopped" not in out.read_text()  # Redis waits for the scheduler
        os.kill(scheduler, signal.SIGCONT)  # which releases its lock, with Redis still there
        assert proc.wait(timeout=30) == 0, out.read_text()
    text = out.read_text()
    assert "Traceback" not in text, text
    assert text.rstrip().endswith("embedded Redis stopped\nstopped"), text
    assert _processes_with(f"VAR_DIR={tmp_path}".encode()) == []


def test_what_a_dead_worker_left_is_killed_if_it_does_not_stop(tmp_path):
    """The left-behind scheduler never stops: Ctrl-C waits LEFTOVER_WAIT for it, says so,
    kills it, and stops the rest."""
    with running_app(tmp_path) as (proc, out, _addr):
        scheduler = _kill_the_worker_and_hold_its_scheduler(tmp_path, proc, out)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0, out.read_text()
    text = out.read_text()
    # (Its work horse too, if a job was running, and still is.)
    killed = re.search(
        rf"left running by a dead worker or cron and not stopped in {LEFTOVER_WAIT} s"
        r" \(pid ([\d, ]+)\): killing",
        text,
    )
    assert killed, text
    assert str(scheduler) in killed.group(1).split(", ")
    assert text.rstrip().endswith("embedded Redis stopped\nstopped"), text
    assert _processes_with(f"VAR_DIR={tmp_path}".encode()) == []


def test_run_refuses_to_start_on_a_port_another_program_holds(tmp_path):
    """Nothing is started (no banner for somebody else's server), and the message says what
    to do."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path), DEBUG="1")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        addr = f"127.0.0.1:{other.getsockname()[1]}"
        proc = subprocess.run(
            [sys.executable, "manage.py", "run", "--no-sandboxes", "--no-worker", "--addr", addr],
            cwd=BASE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    assert f"already in use by another program: {addr} (web)" in proc.stderr
    assert "--addr HOST:PORT" in proc.stderr
    assert "Ctrl-C stops everything" not in proc.stdout
    assert not (tmp_path / "redis" / "valkey.sock").exists()


def _get(addr, path):
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{addr}{path}", timeout=10).read()


def test_run_logs_each_warning_once_and_no_request_lines_so_the_banner_stays(tmp_path):
    with running_app(tmp_path) as (proc, out, addr):
        _get(addr, "/admin/login/")
        _get(addr, "/no-such-page/")
        until(lambda: "Not Found: /no-such-page/" in out.read_text(), proc, out)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, out.read_text()
    text = out.read_text()
    assert text.count("Not Found: /no-such-page/") == 1, text
    assert "GET /admin/login/" not in text, text
    after_banner = text.split("Ctrl-C stops everything.", 1)[1].splitlines()
    # The rule under the banner, the one warning, then only the stopping lines.
    assert [line for line in after_banner if "Not Found" in line or "GET " in line] == [
        line for line in after_banner if "Not Found: /no-such-page/" in line
    ], text


def test_run_verbose_keeps_the_line_per_request(tmp_path):
    with running_app(tmp_path, "--verbose", "--no-worker") as (proc, out, addr):
        _get(addr, "/admin/login/")
        until(lambda: "GET /admin/login/" in out.read_text(), proc, out)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, out.read_text()
    assert out.read_text().count("GET /admin/login/") == 1
