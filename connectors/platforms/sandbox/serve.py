"""Start a platform's sandbox by name, or serve them all in the foreground."""

import threading

from connectors.platforms import registry
from connectors.platforms.sandbox.server import RunningSandbox


def start_sandbox(platform: str, port: int = 0, host: str = "127.0.0.1") -> RunningSandbox:
    """Serve a fresh sandbox of `platform` in a daemon thread; port 0 picks a free port."""
    return RunningSandbox(registry.get(platform).sandbox_class()(), host=host, port=port)


def sandboxed():
    """The platforms that have a sandbox."""
    return [p for p in registry.platforms() if p.sandbox]


def serve_forever(platforms=None, ports=None, host: str = "127.0.0.1", out=print) -> None:
    """Serve the given platforms (default: all with a sandbox) until interrupted; `ports`
    maps a platform to its port, else its default port is used."""
    ports = ports or {}
    running = []
    try:
        for name in platforms or [p.name for p in sandboxed()]:
            port = ports.get(name, registry.get(name).port or 0)
            running.append(start_sandbox(name, port, host))
            out(f"{name:<12} {running[-1].url}")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for sandbox in running:
            sandbox.stop()
