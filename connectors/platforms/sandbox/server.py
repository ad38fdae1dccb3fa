"""Serving a sandbox app with Werkzeug's threaded server, in a daemon thread."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    # Set here so Werkzeug does not patch the shared WSGIRequestHandler class itself.
    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-") -> None:
        """Benchmarks send tens of thousands of requests; the sandbox keeps its own log."""


class RunningSandbox:
    """A sandbox served on 127.0.0.1 until stop(); usable as a context manager."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.server = make_server(
            host, port, app, threaded=True, request_handler=QuietRequestHandler
        )
        self.host = host
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{app.platform}-{self.port}",
            daemon=True,
        )
        self.thread.start()

    @property
    def platform(self) -> str:
        return self.app.platform

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        # Wakes handlers sleeping on latency or timeout switches, so they finish now.
        self.app.stopping.set()
        self.app.outbox.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "RunningSandbox":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningSandbox {self.platform} {self.url}>"
