"""The README's platform tables say what the registry and the connectors declare."""

from pathlib import Path

import pytest

from connectors.platforms import docs, registry

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_tables_are_the_generated_ones():
    text = README.read_text()
    assert docs.rewrite(text) == text, "run `manage.py platform_tables --write README.md`"


def test_the_tables_name_each_shipped_platform_and_only_those():
    tables = docs.tables()
    for platform in docs.shipped():
        assert f"| {platform.label} |" in tables
    assert "Tally" not in tables  # registered by the tests, not shipped
    assert "tally" in registry.names()


def test_text_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="markers"):
        docs.rewrite("no tables here")
