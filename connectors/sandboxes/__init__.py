"""Local, stateful HTTP sandboxes of the five channels' inventory APIs (channels.md).

    with start_sandbox("webflow") as sandbox:
        requests.get(f"{sandbox.url}/_sandbox/state")

Each sandbox is a Werkzeug WSGI app (no Django) with the platform's routes plus the control
API under /_sandbox/ (base.py). `serve_forever` runs one or all of them in the foreground;
`manage.py sandbox` calls it.
"""

import threading
from typing import NamedTuple

from connectors.sandboxes.base import Sandbox
from connectors.sandboxes.elasticpath import ElasticPathSandbox
from connectors.sandboxes.highlevel import HighLevelSandbox
from connectors.sandboxes.server import RunningSandbox
from connectors.sandboxes.unicommerce import UnicommerceSandbox
from connectors.sandboxes.webflow import WebflowSandbox
from connectors.sandboxes.zettle import ZettleSandbox


class Platform(NamedTuple):
    factory: type[Sandbox]
    port: int


PLATFORMS: dict[str, Platform] = {
    "highlevel": Platform(HighLevelSandbox, 8101),
    "webflow": Platform(WebflowSandbox, 8102),
    "unicommerce": Platform(UnicommerceSandbox, 8103),
    "elasticpath": Platform(ElasticPathSandbox, 8104),
    "zettle": Platform(ZettleSandbox, 8105),
}


def start_sandbox(platform: str, port: int = 0, host: str = "127.0.0.1") -> RunningSandbox:
    """Serve a fresh sandbox of `platform` in a daemon thread; port 0 picks a free port."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; choose from {sorted(PLATFORMS)}")
    return RunningSandbox(PLATFORMS[platform].factory(), host=host, port=port)


def serve_forever(platforms=None, ports=None, host: str = "127.0.0.1", out=print) -> None:
    """Serve the given platforms (default: all) until interrupted; `ports` maps a platform
    to its port, else the registry's default port is used."""
    ports = ports or {}
    running = []
    try:
        for name in platforms or PLATFORMS:
            running.append(start_sandbox(name, ports.get(name, PLATFORMS[name].port), host))
            out(f"{name:<12} {running[-1].url}")
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for sandbox in running:
            sandbox.stop()


__all__ = ["PLATFORMS", "RunningSandbox", "Sandbox", "serve_forever", "start_sandbox"]
