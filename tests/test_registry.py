"""The registry against the catalogue: every id is there, once, and every function imports."""

import json
import re
from pathlib import Path

import pytest

from nnconform.reference.registry import FAMILIES, REGISTRY, entry, resolve

CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "catalogue.md"


def catalogue_ids(text: str) -> list[str]:
    """The ids of the catalogue: the back-quoted first cell of each table row."""
    return re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE)


def test_the_registry_holds_the_65_catalogue_ids_once_each():
    assert len(REGISTRY) == 65
    assert len({e.id for e in REGISTRY.values()}) == 65


@pytest.mark.skipif(not CATALOGUE.exists(), reason="the catalogue is not beside this checkout")
def test_the_registry_follows_the_catalogue_in_order():
    assert list(REGISTRY) == catalogue_ids(CATALOGUE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("id", list(REGISTRY))
def test_every_function_of_every_id_imports_and_is_callable(id):
    e = entry(id)
    assert e.family in FAMILIES
    assert e.functions and e.sources
    for spec in e.functions:
        assert callable(resolve(spec)), spec


def test_every_entry_serialises_to_json_with_the_documented_fields():
    for e in REGISTRY.values():
        record = json.loads(json.dumps(e.as_json()))
        assert {"id", "family", "functions", "variants", "sources"} <= set(record)
        assert all(re.fullmatch(r"nnconform\.reference\.\w+:\w+", f) for f in record["functions"])


def test_an_unknown_id_names_itself_and_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown catalogue id 'adamw'.*adam"):
        entry("adamw")


def test_resolve_rejects_a_spec_without_a_colon():
    with pytest.raises(ValueError, match="'module:name'"):
        resolve("nnconform.reference.activations.relu")
