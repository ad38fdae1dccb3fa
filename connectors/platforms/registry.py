"""The platforms a channel can be on, by name: one package each, found or registered.

A platform is a package whose `__init__` holds `PLATFORM = Platform(...)`: its name and
label, and by dotted path its connector, its sandbox, its demo data and its test hooks, so
that nothing is imported before it is used (the sandboxes need Werkzeug, an extra). The
packages inside each of `settings.CHANNEL_PLATFORM_PACKAGES` (default: connectors.platforms)
are found on first use; `register()` adds one more. Everything else reads this registry:
Channel.platform's choices, the channel form, the sandbox command and `make run`, the demo
channels, the README's tables, the shared contract and sync tests, the benchmarks.
"""

import importlib
import pkgutil
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_PACKAGES = ("connectors.platforms",)


@dataclass(frozen=True)
class Docs:
    """What the README says of a platform, beside what its connector declares."""

    base_url: str
    remote_id: str
    remote_parent_id: str = "(blank)"
    writes: str = ""
    per_request: str = ""
    reads: str = ""
    untracked: str = ""
    rate_note: str = ""  # what else sets its pace (a plan, a store's kind)


@dataclass(frozen=True)
class Platform:
    name: str  # Channel.platform's value
    label: str
    connector: str  # dotted path of the Connector subclass
    sandbox: str = ""  # dotted path of its Sandbox (connectors.platforms.sandbox)
    port: int | None = None  # the sandbox's default port
    demo: str = ""  # dotted path of its demo module (see connectors.demo)
    testing: str = ""  # dotted path of its test Hooks class (connectors.platforms.testing)
    docs: Docs | None = None
    order: int = 100  # where it is listed

    def connector_class(self):
        return import_string(self.connector)

    def sandbox_class(self):
        if not self.sandbox:
            raise LookupError(f"{self.label} has no sandbox")
        return import_string(self.sandbox)

    def demo_module(self):
        return importlib.import_module(self.demo) if self.demo else None

    def hooks(self):
        """What the shared tests need to drive its sandbox (connectors.platforms.testing)."""
        if not self.testing:
            raise LookupError(f"{self.label} has no test hooks")
        return import_string(self.testing)()


_platforms: dict[str, Platform] = {}
_found = False
_finding = threading.RLock()  # discovery imports modules, which may ask the registry again


def register(platform):
    """Add a platform (or replace one of the same name); returns it."""
    if not isinstance(platform, Platform):
        raise TypeError(f"not a Platform: {platform!r}")
    if len(platform.name) > 16 or not platform.name.isidentifier():
        raise ValueError(f"a platform name is a short identifier, not {platform.name!r}")
    _platforms[platform.name] = platform
    return platform


def _find():
    """Discover the platforms once. Under a lock, and marked found only when done: a
    threaded web server's first requests would otherwise see a half-filled registry and
    answer that a channel's platform is not installed."""
    global _found
    if _found:
        return
    with _finding:
        if _found:
            return
        for package_name in getattr(settings, "CHANNEL_PLATFORM_PACKAGES", DEFAULT_PACKAGES):
            package = importlib.import_module(package_name)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.ispkg:
                    continue
                module = importlib.import_module(f"{package_name}.{info.name}")
                platform = getattr(module, "PLATFORM", None)
                if isinstance(platform, Platform) and platform.name not in _platforms:
                    register(platform)
        _found = True


def platforms():
    """Every platform, in the order they are listed."""
    _find()
    return sorted(_platforms.values(), key=lambda p: (p.order, p.label))


def names():
    return [p.name for p in platforms()]


def get(name):
    """The platform of that name; LookupError naming the known ones when there is none."""
    _find()
    try:
        return _platforms[name]
    except KeyError:
        known = ", ".join(names())
        raise LookupError(f"no platform named {name!r} (known: {known})") from None


def label(name):
    """A platform's label, or the name itself if it is not (or no longer) registered."""
    try:
        return get(name).label
    except LookupError:
        return name


def choices():
    """Channel.platform's choices: a callable, so that a new platform needs no migration."""
    return [(p.name, p.label) for p in platforms()]


def connector_class(name):
    """The Connector subclass for a platform name."""
    return get(name).connector_class()
