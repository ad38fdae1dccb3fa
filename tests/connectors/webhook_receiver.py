"""A tiny HTTP server that records what a sandbox delivers to it (for the platform tests)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Serves on 127.0.0.1 until stop(); `deliveries` holds (path, headers with lower-case
    names, body bytes) in arrival order; every request is answered `status`."""

    def __init__(self, status=200):
        self.status = status
        self.deliveries = []
        self.answering = threading.Event()  # cleared: requests wait for it before the answer
        self.answering.set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.deliveries.append((self.path, headers, body))
                receiver.answering.wait(10)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count, timeout=10.0):
        """The first `count` deliveries, once that many arrived (AssertionError after
        `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries[:count])
            time.sleep(0.02)
        raise AssertionError(f"{len(self.deliveries)} deliveries after {timeout} s, not {count}")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
