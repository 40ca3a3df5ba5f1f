"""Project paths and configuration.

The configuration is the package's ``defaults.yaml`` (every business assumption with the
method's default) deep-merged with an optional user YAML file. Relative paths are always
resolved against the project root, never against the working directory, so a notebook
run by papermill, by nbval (cwd = ``notebooks/``) or by hand in JupyterLab reads the
same files.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")


def _find_project_root() -> Path:
    env = os.environ.get("SALESPLAN_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    # Editable install: lib/salesplan/config.py -> project root two levels up.
    candidate = here.parents[2]
    if (candidate / "pyproject.toml").exists() and (candidate / "notebooks").exists():
        return candidate
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "pyproject.toml").exists() and (folder / "lib" / "salesplan").exists():
            return folder
    return cwd


PROJECT_ROOT: Path = _find_project_root()


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or holds an invalid value."""


def resolve_path(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """Return ``path`` as an absolute path, relative ones taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or PROJECT_ROOT) / p


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``base`` with ``override`` merged in (nested dicts merged, other values replaced)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(content).__name__}")
    return content


def load_defaults() -> dict[str, Any]:
    """The method's default configuration, as shipped with the package."""
    return _read_yaml(DEFAULTS_FILE)


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load the configuration: package defaults, deep-merged with the YAML file at ``path``
    (relative to the project root; a missing default file is fine, a missing explicit
    file is an error) and then with ``overrides``.

    Unknown top-level sections are rejected, so a typo does not silently fall back to a
    default.
    """
    config = load_defaults()
    if path is not None:
        file = resolve_path(path)
        if file.exists():
            user = _read_yaml(file)
            unknown = sorted(set(user) - set(config))
            if unknown:
                raise ConfigError(
                    f"{file}: unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(config))}"
                )
            config = deep_merge(config, user)
        elif Path(path) != Path("config/salesplan.yaml"):
            raise ConfigError(f"{file}: config file not found")
    if overrides:
        config = deep_merge(config, overrides)
    return config


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        rows: list[tuple[str, Any]] = []
        for key, sub in value.items():
            rows.extend(_flatten(f"{prefix}.{key}" if prefix else str(key), sub))
        return rows
    return [(prefix, value)]


def assumptions_table(config: dict[str, Any], *sections: str) -> pd.DataFrame:
    """The values a report used, one row per setting (``section.key`` and value), for printing."""
    rows: list[tuple[str, Any]] = []
    for section in sections:
        if section not in config:
            raise ConfigError(f"no config section {section!r}")
        rows.extend(_flatten(section, config[section]))
    return pd.DataFrame(
        [
            (name, value if isinstance(value, str) else repr(value) if isinstance(value, list | dict) else value)
            for name, value in rows
        ],
        columns=["setting", "value"],
    ).astype({"value": str})
