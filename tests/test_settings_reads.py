"""Library code reads settings as typed attributes, never by string key.

``config_path`` becomes a validated :class:`salesplan.settings.Settings` at its first hop and
every function downstream takes the typed section it needs (``wb.settings.forecast.horizon``,
``thresholds.yellow``). A string-key read (``config["forecast"]["horizon"]``,
``phasing.get("season")``) bypasses the validation and lets a misspelt key fall back silently,
so this test walks every module of ``lib/salesplan`` with ``ast`` and refuses one.

What counts as a settings read: a subscript or ``.get`` with a constant string key that is a
field name of any settings model, on an expression whose root name is a settings holder
(``config``, ``cfg``, ``settings``, a section's name such as ``thresholds`` or ``phasing``).
DataFrame columns that share a field's name (``table["target"]``) are read from frames whose
names do not look like settings holders, and are not counted.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pydantic import BaseModel

from salesplan import settings as settings_module

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "salesplan"

# Names a settings object travels under in the library (the root of ``x.y["key"]``).
HOLDER = re.compile(
    r"(config|cfg|settings|thresholds|bands|goals|escalation|warnings|impact|probability|rules|retro|kpi|"
    r"commission|review|targets|forecast|alloc|tier|phas|actions|process|pipeline|calib|opts|section|risk)",
    re.IGNORECASE,
)
# Holders of data that share a settings name: a pipeline table, the rep bands table, opportunities.
DATA = re.compile(r"table|frame|rep_bands|^pipeline$|opp")


def _field_names(model: type[BaseModel], seen: set[str]) -> set[str]:
    names: set[str] = set()
    if model.__name__ in seen:
        return names
    seen.add(model.__name__)
    for name, field in model.model_fields.items():
        names.add(name)
        annotation = field.annotation
        for t in (*getattr(annotation, "__args__", ()), annotation):
            if isinstance(t, type) and issubclass(t, BaseModel):
                names |= _field_names(t, seen)
    return names


SETTING_KEYS = _field_names(settings_module.Settings, set())


def string_key_reads(source: str, where: str = "<source>") -> list[str]:
    """Every ``holder["key"]`` / ``holder.get("key")`` in ``source`` whose key is a settings field."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        key = base = None
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            key, base = node.slice.value, node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            key, base = node.args[0].value, node.func.value
        if key not in SETTING_KEYS or base is None:
            continue
        text = ast.unparse(base)
        if HOLDER.search(text) and not DATA.search(text):
            hits.append(f"{where}:{node.lineno}: {ast.unparse(node)[:100]}")
    return hits


def test_the_finder_catches_a_planted_string_key_read() -> None:
    planted = 'def f(config):\n    return config["forecast"]["horizon"], cfg.get("season")\n'
    assert len(string_key_reads(planted)) == 3
    typed = "def f(settings):\n    return settings.forecast.horizon, table['target']\n"
    assert string_key_reads(typed) == []


def test_no_library_module_reads_settings_by_string_key() -> None:
    hits = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        for hit in string_key_reads(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert hits == [], f"{len(hits)} string-key settings reads:\n" + "\n".join(hits)
