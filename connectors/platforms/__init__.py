"""The platforms: one package each (connector, sandbox, demo data, test hooks) over the base
contract (base.py), the engine's write step (strategy.py), one HTTP path (http.py), pacing
(pacing.py) and one registry (registry.py) that everything else reads.

Nothing here touches the ORM: connectors get plain values and return plain results.
"""
