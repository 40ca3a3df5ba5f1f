"""The monthly pack: which notebooks run, in which order, what each reads and writes, the
parameter defaults it declares (``notebooks/pack.yaml``) and the parameters a run passes.

``pack.yaml`` is read into :class:`PackFile` (pydantic): an unknown key, a missing name or a
value of the wrong kind is refused naming the key and the rule. A notebook waits for every
earlier notebook that writes something it reads (:func:`dependencies`); :func:`run_order`
gives an order that respects those waits (``graphlib``) and refuses a cycle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from salesplan.config import PROJECT_ROOT
from salesplan.run.errors import RunInputError

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
PACK_FILE = "pack.yaml"
RUNNER_PARAMETERS = ("month", "data_dir", "config_path", "output_dir", "plan_version")
"""Parameters the run sets itself (``--month``, ``--data``, ``--config``, the run folder, ``--plan``)."""


# A dotted Python module name (what ``preload`` lists; imported with ``__import__``).
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class PackEntry:
    """One notebook of the monthly pack: its file, what it reads and writes, the parameter
    defaults the pack declares for it (None: the pack declares none, nothing is checked) and
    the modules its kernel imports as it starts besides the notebook's own (``preload``)."""

    path: Path
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    defaults: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    preload: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem


class PackItem(BaseModel):
    """One entry of ``pack.yaml``'s ``notebooks`` list. Rules: ``name`` is the notebook's file
    name without ``.ipynb``; ``reads`` and ``writes`` are lists of names; ``defaults`` maps
    parameter names to values; ``preload`` lists dotted module names (``statsforecast.models``);
    no other key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    defaults: dict[str, Any] | None = None
    preload: tuple[str, ...] = ()

    @field_validator("reads", "writes", "preload", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("preload")
    @classmethod
    def _module_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if not _MODULE_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not a module name: {', '.join(map(repr, bad))} (dotted names, e.g. scipy.stats)")
        return value


class PackFile(BaseModel):
    """``pack.yaml``: ``notebooks`` (required, in run order, each name once) and ``defaults``,
    the parameter defaults shared by every notebook that declares the parameter; no other key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notebooks: list[PackItem]
    defaults: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _names_once(self) -> PackFile:
        names = [item.name for item in self.notebooks]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"notebook(s) {', '.join(twice)} listed more than once")
        return self


_RULES = {
    "extra_forbidden": "unknown key",
    "missing": "required key missing",
    "tuple_type": "expected a list of names",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of parameter names to values",
    "model_type": "expected a mapping of keys to values",
    "string_type": "expected a text",
}


def _pack_problem(exc: ValidationError) -> str:
    """Every problem of a pydantic validation as ``key: rule (got value)``, joined by "; ": the
    key as a path (``notebooks[0].reeds``), the rule in the pack's words where pydantic's are not."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        rule = _RULES.get(error["type"], error["msg"].removeprefix("Value error, "))
        if error["type"] == "extra_forbidden":
            model = PackItem if len(loc) > 2 and loc[0] == "notebooks" else PackFile
            rule += f" (known: {', '.join(model.model_fields)})"
        elif error["type"] not in ("missing", "value_error"):
            rule += f" (got {error['input']!r})"
        problems.append(f"{where or 'the file'}: {rule}")
    return "; ".join(problems)


def load_pack(notebooks_dir: str | os.PathLike[str] | None = None) -> list[PackEntry]:
    """The declared pack (``pack.yaml`` in ``notebooks_dir``, read into :class:`PackFile`), in
    its order; without a pack file every ``NN_*.ipynb`` in numbered order, declaring nothing
    (so all independent).

    Parameter defaults: the pack's top-level ``defaults`` (for every notebook that declares the
    parameter) updated by the entry's own ``defaults``; an entry gets None when the pack
    declares no defaults at all. A bad pack file is refused (:class:`RunInputError`, exit 2)
    naming the file, the key (``notebooks[2].colour``) and the rule it breaks."""
    import yaml

    folder = Path(notebooks_dir) if notebooks_dir is not None else PROJECT_ROOT / "notebooks"
    if not folder.is_dir():
        raise RunInputError(f"notebooks folder {folder} does not exist")
    pack_file = folder / PACK_FILE
    if not pack_file.exists():
        return [PackEntry(p) for p in sorted(folder.glob(NOTEBOOK_GLOB), key=lambda p: p.name)]
    try:
        declared = PackFile.model_validate(yaml.safe_load(pack_file.read_text(encoding="utf-8")) or {})
    except ValidationError as exc:
        raise RunInputError(f"{pack_file}: not a valid pack declaration ({_pack_problem(exc)})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise RunInputError(f"{pack_file}: not a valid pack declaration ({exc})") from None
    pack = []
    for i, item in enumerate(declared.notebooks):
        path = folder / f"{item.name}.ipynb"
        if not path.exists():
            raise RunInputError(
                f"{pack_file}: not a valid pack declaration (notebooks[{i}].name: {path.name} does not exist)"
            )
        shared, own = declared.defaults, item.defaults
        defaults = None if shared is None and own is None else {**(shared or {}), **(own or {})}
        pack.append(PackEntry(path, item.reads, item.writes, defaults, item.preload))
    return pack


def discover_notebooks(notebooks_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The run's notebooks, in the pack's order."""
    return [entry.path for entry in load_pack(notebooks_dir)]


def dependencies(pack: Sequence[PackEntry]) -> dict[str, set[str]]:
    """For each notebook, the earlier notebooks of ``pack`` that write something it reads.

    Rule: a notebook waits for an earlier one when that one writes a name it reads; a later
    notebook never holds an earlier one back (in pack order, what it writes is not there yet)."""
    out: dict[str, set[str]] = {}
    for i, entry in enumerate(pack):
        out[entry.name] = {e.name for e in pack[:i] if set(e.writes) & set(entry.reads)}
    return out


def run_order(waits_for: Mapping[str, Iterable[str]]) -> TopologicalSorter[str]:
    """The notebooks as a prepared :class:`graphlib.TopologicalSorter`: ``get_ready()`` gives
    the notebooks whose waits (:func:`dependencies`) are all ``done()``. A cycle (A waits for
    B, B for A) is refused with :class:`RunInputError` naming the notebooks in it."""
    order: TopologicalSorter[str] = TopologicalSorter()
    for name, needs in waits_for.items():
        order.add(name, *needs)
    try:
        order.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise RunInputError(
            f"the pack's notebooks wait for each other in a circle ({cycle}): nothing can run first"
        ) from None
    return order


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares (``papermill.inspect_notebook``): name -> default, type, help."""
    import papermill as pm

    try:
        return dict(pm.inspect_notebook(str(notebook)))
    except Exception as exc:  # papermill raises several types for unreadable notebooks
        raise RunInputError(f"{notebook}: not a readable notebook ({type(exc).__name__}: {exc})") from None


def parse_parameter(text: str) -> Any:
    """A ``-p NAME VALUE`` value as papermill's CLI reads it: True/False/None, int, float, else the string."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def check_user_parameters(user: Mapping[str, Any], declared: Mapping[str, Sequence[str]]) -> None:
    """Refuse parameters no notebook declares, and those the run sets itself (with the option to use)."""
    options = {"month": "--month", "data_dir": "--data", "config_path": "--config", "plan_version": "--plan"}
    for name in user:
        if name in options:
            raise RunInputError(f"parameter {name!r} is set by the run: use {options[name]}")
        if name == "output_dir":
            raise RunInputError("parameter 'output_dir' is set by the run (the report folder being built)")
    known = sorted({n for names in declared.values() for n in names} - set(RUNNER_PARAMETERS))
    unknown = sorted(set(user) - set(known))
    if unknown:
        listing = "; ".join(
            f"{nb}: {', '.join(n for n in names if n not in RUNNER_PARAMETERS) or '(none)'}"
            for nb, names in declared.items()
        )
        raise RunInputError(
            f"unknown parameter(s) {', '.join(unknown)}: no notebook of this run declares them. Declared: {listing}"
        )


def select_notebooks(notebooks: Sequence[Path], only: str | Sequence[str] | None) -> list[Path]:
    """Keep the notebooks named by ``only`` (comma-separated string or list), in numbered order.

    A name matches a notebook by its file name (``00_data_check.ipynb``), its stem
    (``00_data_check``) or a prefix of the stem (``00``, ``04_retro``). Every name must
    match at least one notebook.
    """
    if only is None:
        return list(notebooks)
    tokens = [t.strip() for t in (only.split(",") if isinstance(only, str) else only) if t and t.strip()]
    if not tokens:
        raise RunInputError("--only: give one or more notebook names or number prefixes, e.g. --only 00,04")
    chosen: set[Path] = set()
    unknown = []
    for token in tokens:
        stem = token.removesuffix(".ipynb")
        matches = [nb for nb in notebooks if nb.stem == stem or nb.stem.startswith(stem)]
        if not matches:
            unknown.append(token)
        chosen.update(matches)
    if unknown:
        available = ", ".join(nb.stem for nb in notebooks) or "(none)"
        raise RunInputError(f"--only: no notebook matches {', '.join(map(repr, unknown))}; available: {available}")
    return [nb for nb in notebooks if nb in chosen]
