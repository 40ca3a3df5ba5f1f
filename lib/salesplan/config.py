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
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from salesplan.merge import deep_merge
from salesplan.settings import Settings

S = TypeVar("S", bound=BaseModel)

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
    """The method's default configuration, as shipped with the package (a fresh copy each call)."""
    return copy.deepcopy(_parsed_defaults())


@lru_cache(maxsize=1)
def _parsed_defaults() -> dict[str, Any]:
    # Parsing the YAML costs ~40 ms; the file ships with the package and does not change in a run.
    return _read_yaml(DEFAULTS_FILE)


def _merged(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None
) -> tuple[dict[str, Any], Path | None]:
    config = load_defaults()
    file = None
    if path is not None:
        file = resolve_path(path)
        if file.exists():
            config = deep_merge(config, _read_yaml(file))
        elif Path(path) != Path("config/salesplan.yaml"):
            raise ConfigError(f"{file}: config file not found")
        else:
            file = None
    if overrides:
        config = deep_merge(config, overrides)
    return config, file


def _settings_error(exc: Exception, where: str, section: str = "") -> ConfigError:
    """One line per problem, each with the dotted path of the bad key (below ``section``, when given)."""
    lines = []
    for err in exc.errors():  # type: ignore[attr-defined]
        path = [section, *err["loc"]] if section else list(err["loc"])
        loc = ".".join(str(part) for part in path)
        if err["type"] == "extra_forbidden":
            parent = ".".join(str(part) for part in path[:-1])
            lines.append(f"  {loc}: unknown key (misspelt?{f' see {parent} in defaults.yaml' if parent else ''})")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"  {loc or '(top level)'}: {err['msg']}{shown}")
    return ConfigError(f"{where}: invalid settings\n" + "\n".join(lines))


def load_settings(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """The validated, typed settings (:class:`salesplan.settings.Settings`): package defaults,
    deep-merged with the YAML file at ``path`` (relative to the project root; a missing default
    file is fine, a missing explicit file is an error) and then with ``overrides``.

    Every key at every level is checked: an unknown or misspelt key, a wrong type or a value
    outside its range raises :class:`ConfigError` naming the key's dotted path.
    """
    merged, file = _merged(path, overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        where = str(file) if file is not None else "settings"
        raise _settings_error(exc, where) from None


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """The method's defaults (``defaults.yaml`` alone) as validated settings, read once: the
    models are frozen, so every caller can share them."""
    return load_settings()


def as_settings(config: Settings | Mapping[str, Any] | None = None) -> Settings:
    """``config`` as typed settings: a :class:`Settings` as it is; a mapping (the nested dict
    of :func:`load_config`, or a part of it) deep-merged over the defaults and validated, so a
    missing key takes its ``defaults.yaml`` value; None gives the defaults. Bad values raise
    :class:`ConfigError` naming each key's dotted path."""
    if isinstance(config, Settings):
        return config
    return load_settings(overrides=dict(config)) if config else default_settings()


def as_section(value: S | Mapping[str, Any] | None, default: S, where: str = "") -> S:
    """One typed settings section: ``value`` as it is when it already has the type of
    ``default`` (the section of :func:`default_settings`), ``default`` when None or empty, and a
    mapping deep-merged over ``default`` and validated (a partial section keeps the defaults of
    the keys it lacks). ``where`` (the section's dotted key, e.g. ``forecast``) prefixes each
    problem of a :class:`ConfigError`."""
    if isinstance(value, type(default)):
        return value
    if not value:
        return default
    try:
        return type(default).model_validate(deep_merge(default.model_dump(), dict(value)))
    except ValidationError as exc:
        raise _settings_error(exc, "settings", where) from None


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validated settings of :func:`load_settings` as a nested plain dict (every key present),
    the form the library's functions take."""
    return load_settings(path, overrides).as_dict()


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        rows: list[tuple[str, Any]] = []
        for key, sub in value.items():
            rows.extend(_flatten(f"{prefix}.{key}" if prefix else str(key), sub))
        return rows
    return [(prefix, value)]


def setting_label(key: str) -> str:
    """A dotted settings key as words for a page: ``targets.bottom_up.level_coefficient.mid`` ->
    "Level coefficient, mid (bottom up)"."""
    words = [part.replace("_", " ") for part in key.split(".")[1:]] or [key]
    if len(words) == 1:
        return words[0][:1].upper() + words[0][1:]
    head = f"{words[-2][:1].upper()}{words[-2][1:]}, {words[-1]}"
    return head + (f" ({', '.join(words[:-2])})" if len(words) > 2 else "")


def _setting_text(value: Any) -> str:
    """A setting's value as a reader types it in YAML: a list as ``a, b, c``, a mapping as
    ``key: value; ...``, anything else as its text (numbers exactly as set)."""
    if isinstance(value, list | tuple):
        return ", ".join(_setting_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_setting_text(v)}" for k, v in value.items()) or "–"
    return str(value)


def assumptions_table(config: Settings | Mapping[str, Any], *sections: str) -> pd.DataFrame:
    """The values a report used, one row per setting: ``setting`` (in words), ``key`` (the dotted
    key to override in config/salesplan.yaml) and ``value``, for printing. ``config``: the
    validated settings (``wb.settings``; a nested mapping is printed as given)."""
    if isinstance(config, Settings):
        config = config.as_dict()
    rows: list[tuple[str, Any]] = []
    for section in sections:
        if section not in config:
            raise ConfigError(f"no config section {section!r}")
        rows.extend(_flatten(section, config[section]))
    return pd.DataFrame(
        [
            (
                setting_label(name),
                name,
                _setting_text(value),
            )
            for name, value in rows
        ],
        columns=["setting", "key", "value"],
    ).astype({"value": str})
