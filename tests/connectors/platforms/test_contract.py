"""The shared connector contract, run for every registered platform (test-only ones too)."""

from connectors.platforms import registry
from tests.connectors.platforms.contract import ConnectorContract

for _platform in registry.platforms():
    if _platform.sandbox and _platform.testing:
        _name = f"TestContract{_platform.name.title()}"
        globals()[_name] = type(_name, (ConnectorContract,), {"platform": _platform.name})
