"""The workshop reads the method's settings as typed sections, and writes its files atomically."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pandas as pd
import pytest
from pydantic import BaseModel, ValidationError

import salesplan.workshop as ws
from salesplan.config import load_settings
from salesplan.settings import Settings
from salesplan.workshop import handouts
from salesplan.workshop.kit import write_scores

WORKSHOP = Path(ws.__file__).parent


def test_the_company_holds_the_validated_settings() -> None:
    co = ws.company()
    assert isinstance(co.settings, Settings)
    assert co.settings == load_settings()
    with pytest.raises(ValidationError):
        co.settings.targets.stretch_pct = 0.5  # sections are frozen: an exercise cannot move the answers


def test_derived_inputs_follow_the_typed_settings() -> None:
    co = ws.company()
    targets = co.settings.targets
    assert co.market["multiplier"] == targets.top_down.multiplier
    assert co.funnel["win_rate"] == targets.process.fallback_win_rate
    assert co.level_coefficient == dict(targets.bottom_up.level_coefficient)
    assert co.thresholds == co.settings.retro.thresholds.model_dump()
    assert list(co.thresholds) == ["yellow", "red", "dark_red", "ahead"]


def test_settings_table_walks_sections_and_mapping_entries() -> None:
    table = ws.settings_table("targets.bottom_up.level_coefficient.mid", "targets.phasing.seasonal_templates")
    assert table.loc["targets.bottom_up.level_coefficient.mid", "value"] == "0.9"
    seasons = table.loc["targets.phasing.seasonal_templates.campaign", "value"]
    # A setting holding sections is shown as the settings file spells it, not as a model's repr.
    assert "spring push" in seasons and "name=" not in seasons


@pytest.mark.parametrize("name", ["targets.nope", "targets.bottom_up.level_coefficient.intern", "nope"])
def test_settings_table_names_an_unknown_setting(name: str) -> None:
    with pytest.raises(KeyError, match=name.rsplit(".", 1)[-1]):
        ws.settings_table(name)


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for kind in (field.annotation, *get_args(field.annotation)):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= _field_names(kind)
    return names


SETTING_NAMES = _field_names(Settings)
"""Every section and setting name; a key of a mapping setting (a template's name) is data, not one of these."""


def _string_key_reads(path: Path) -> list[str]:
    """Subscripts and ``.get`` calls with a setting's name as literal key on anything named like a
    settings holder."""
    hits = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript):
            base, key = node.value, node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            base, key = node.func.value, node.args[0]
        else:
            continue
        holder = any(word in ast.unparse(base).lower() for word in ("config", "cfg", "settings", "rules"))
        if holder and isinstance(key, ast.Constant) and key.value in SETTING_NAMES:
            hits.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return hits


def test_the_workshop_reads_no_setting_by_string_key() -> None:
    hits = [hit for path in sorted(WORKSHOP.glob("*.py")) for hit in _string_key_reads(path)]
    assert hits == []


def test_the_string_key_scan_finds_a_dict_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('w = co.targets_config["reconcile"]["top_down_weight"]\ns = cfg.get("season")\n')
    assert len(_string_key_reads(sample)) == 3


def test_write_scores_replaces_only_when_complete(tmp_path: Path) -> None:
    scores = pd.DataFrame({"team": ["a"], "exercise": [1], "passed": [3], "checks": [4], "run": ["ran"]})
    path = write_scores(scores, tmp_path / "scores.csv")
    before = path.read_bytes()
    assert b"team" in before
    with pytest.raises(Exception):  # noqa: B017 - any failure while writing must leave the old file
        write_scores("not a table", path)  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_handout_pages_leave_no_staged_files(tmp_path: Path) -> None:
    (tmp_path / "glossary.html").write_text("old", encoding="utf-8")
    written = handouts.build_handouts(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    assert (tmp_path / "glossary.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
