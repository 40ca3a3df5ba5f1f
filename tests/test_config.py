from pathlib import Path

import pytest

from salesplan import config


def test_defaults_hold_the_methods_numbers():
    cfg = config.load_config()
    assert cfg["customer_tiers"] == {"A": 10_000_000, "B": 5_000_000, "C": 500_000}
    assert {k: cfg["retro"]["thresholds"][k] for k in ("yellow", "red", "dark_red")} == {
        "yellow": 0.05,
        "red": 0.10,
        "dark_red": 0.15,
    }
    assert cfg["targets"]["phasing"]["quarterly_templates"]["front_loaded"] == [0.28, 0.32, 0.27, 0.13]
    assert [t[1] for t in cfg["commission"]["tiers"]] == [0.0, 0.01, 0.015, 0.02]
    assert cfg["targets"]["bottom_up"]["level_coefficient"]["junior"] == 0.7


def test_user_file_is_deep_merged(tmp_path: Path):
    f = tmp_path / "c.yaml"
    f.write_text("retro:\n  thresholds:\n    yellow: 0.03\n", encoding="utf-8")
    cfg = config.load_config(f)
    defaults = config.load_defaults()
    assert cfg["retro"]["thresholds"] == {**defaults["retro"]["thresholds"], "yellow": 0.03}
    assert cfg["retro"]["thresholds"]["red"] == 0.10


def test_unknown_section_is_rejected(tmp_path: Path):
    f = tmp_path / "c.yaml"
    f.write_text("retor:\n  thresholds: {}\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"retor: unknown key"):
        config.load_config(f)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("targets:\n  top_down:\n    multipler: 1.5\n", "targets.top_down.multipler: unknown key"),
        ("forecast:\n  pipeline:\n    blend_wieghts: [0.5]\n", "forecast.pipeline.blend_wieghts: unknown key"),
        ("retro:\n  thresholds:\n    yelow: 0.03\n", "retro.thresholds.yelow: unknown key"),
        (
            "targets:\n  scenarios:\n    bold:\n      top_down: {multipler: 1.6}\n",
            "scenarios.bold.top_down.multipler: unknown key",
        ),
    ],
)
def test_a_misspelt_nested_key_names_its_path(tmp_path: Path, text: str, path: str):
    f = tmp_path / "c.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as info:
        config.load_config(f)
    assert path in str(info.value)
    assert str(f) in str(info.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"retro": {"thresholds": {"yellow": 0.2}}}, "retro.thresholds"),
        ({"report": {"money_unit": "X"}}, "report.money_unit"),
        ({"targets": {"phasing": {"template": "nope"}}}, "targets.phasing"),
        ({"forecast": {"levels": [80, 120]}}, "forecast.levels.1"),
        ({"commission": {"tiers": [[1.0, 0.01], [0.8, 0.02]]}}, "commission"),
        ({"targets": {"draft_from_month": 13}}, "targets.draft_from_month"),
    ],
)
def test_bad_values_are_refused_with_their_path(override: dict, message: str):
    with pytest.raises(config.ConfigError, match=message.replace(".", r"\.")):
        config.load_settings(overrides=override)


def test_typed_settings_match_the_dict_form():
    settings = config.load_settings()
    assert settings.targets.top_down.multiplier == config.load_config()["targets"]["top_down"]["multiplier"]
    assert settings.retro.thresholds.dark_red == 0.15
    # No section of the defaults is left out of the typed model, and no model field lacks a default value.
    assert set(settings.as_dict()) == set(config.load_defaults())


def test_missing_explicit_file_and_bad_yaml_are_clear_errors(tmp_path: Path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("retro: [unclosed\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load_config(bad)


def test_yaml_is_loaded_safely(tmp_path: Path):
    f = tmp_path / "evil.yaml"
    f.write_text("retro: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(config.ConfigError):
        config.load_config(f)


def test_relative_paths_resolve_from_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert config.resolve_path("data/raw") == config.PROJECT_ROOT / "data" / "raw"
    assert config.resolve_path(tmp_path) == tmp_path
    assert (config.PROJECT_ROOT / "pyproject.toml").exists()


def test_assumptions_table_lists_every_value():
    cfg = config.load_config()
    table = config.assumptions_table(cfg, "retro", "customer_tiers")
    assert "retro.thresholds.yellow" in set(table["key"])
    assert table.set_index("key").loc["customer_tiers.A", "value"] == "10000000"
    assert table.set_index("key").loc["retro.thresholds.yellow", "setting"] == "Thresholds, yellow"
    assert config.setting_label("targets.bottom_up.level_coefficient.mid") == "Level coefficient, mid (bottom up)"
    assert config.setting_label("kpi.churn_goal") == "Churn goal"
    with pytest.raises(config.ConfigError):
        config.assumptions_table(cfg, "nope")


def test_typed_settings_from_a_partial_mapping_keep_the_defaults_of_the_rest():
    defaults = config.default_settings()
    merged = config.as_settings({"forecast": {"horizon": 3}})
    assert merged.forecast.horizon == 3
    assert merged.forecast.levels == defaults.forecast.levels
    assert config.as_settings(None) is defaults
    assert config.as_settings(merged) is merged


def test_a_section_is_taken_as_typed_or_validated_over_its_defaults():
    defaults = config.default_settings().forecast
    section = config.as_section({"pipeline": {"min_closed": 2}}, defaults, "forecast")
    assert section.pipeline.min_closed == 2
    assert section.pipeline.stage_probability == defaults.pipeline.stage_probability
    assert config.as_section(section, defaults) is section
    assert config.as_section(None, defaults) is defaults
    with pytest.raises(config.ConfigError, match=r"forecast\.horizon: .*greater than or equal to 1"):
        config.as_section({"horizon": 0}, defaults, "forecast")
    with pytest.raises(config.ConfigError, match=r"forecast\.horizn: unknown key"):
        config.as_section({"horizn": 4}, defaults, "forecast")
