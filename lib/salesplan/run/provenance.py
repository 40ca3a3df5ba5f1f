"""What a run records about itself: every parameter's value and where it came from, where the
notebooks differ from the pack's declared defaults or their committed code, the plan in force,
package versions and the git commit (``run.json``), and the what-if note a page states.
"""

from __future__ import annotations

import ast
import html
import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from salesplan.config import PROJECT_ROOT
from salesplan.month import Month
from salesplan.run.errors import TemplateChangedError
from salesplan.run.pack import PACK_FILE, PackEntry, notebook_parameters

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce

VERSION_PACKAGES = (
    "salesplan",
    "pandas",
    "numpy",
    "statsforecast",
    "statsmodels",
    "scipy",
    "pandera",
    "pyarrow",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "jinja2",
)

SOURCE_RUN, SOURCE_USER, SOURCE_NOTEBOOK = "run", "-p/-f", "notebook default"
_SOURCE_WORDS = {SOURCE_USER: "set for this run", SOURCE_NOTEBOOK: "saved in the notebook"}


def default_value(source: str) -> Any:
    """A default as papermill reports it (the source text of the assignment) as a Python value:
    literals (strings, numbers, None, lists, dicts) evaluated, any other expression kept as its text."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return source


def template_changes(entry: PackEntry, declared: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Where the notebook's saved parameter defaults differ from the defaults the pack declares.

    Rule: every parameter of the notebook must keep the default ``pack.yaml`` declares for it
    (compared as values: ``"base"`` and ``'base'`` agree); a parameter the pack declares no
    default for is a change too. A pack that declares no defaults (``entry.defaults`` None)
    checks nothing. ``declared``: the notebook's parameters (:func:`notebook_parameters`),
    read when not given. One sentence per change, naming the parameter and both values.
    """
    if entry.defaults is None:
        return []
    found = []
    for name, info in (declared if declared is not None else notebook_parameters(entry.path)).items():
        saved = default_value(str(info.get("default")))
        if name not in entry.defaults:
            found.append(f"parameter {name} (default {saved!r}) is not declared in {PACK_FILE}")
        elif saved != entry.defaults[name]:
            found.append(f"{name} = {saved!r} saved in the notebook; the pack's default is {entry.defaults[name]!r}")
    return found


def edited_cells(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Where a template notebook's code differs from its committed version (``git show HEAD:``):
    one sentence naming the code cells (1-based, the parameters cell left to
    :func:`template_changes`) added, removed or edited. Prose cells are not compared: a sentence
    changes no figure. Nothing for a notebook outside a git checkout or not committed yet."""
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        shown = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{rel}"], capture_output=True, timeout=30, check=False
        )
    except (ValueError, OSError, subprocess.SubprocessError):
        return []
    if shown.returncode != 0:
        return []

    def code(nb: Any) -> list[str]:
        return [
            c.source.strip()
            for c in nb.cells
            if c.cell_type == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])
        ]

    committed = code(nbformat.reads(shown.stdout.decode("utf-8"), as_version=4))
    current = code(nbformat.read(path, as_version=4))
    if committed == current:
        return []
    changed = [i + 1 for i in range(max(len(committed), len(current))) if committed[i : i + 1] != current[i : i + 1]]
    return [f"code cell(s) {', '.join(map(str, changed))} differ from the committed notebook (git diff {rel})"]


def check_templates(entries: Sequence[PackEntry]) -> dict[str, list[str]]:
    """Notebook -> its template changes: parameter defaults (:func:`template_changes`) and edited
    code (:func:`edited_cells`), only the notebooks with some."""
    found = {entry.name: [*template_changes(entry), *edited_cells(entry.path)] for entry in entries}
    return {name: changes for name, changes in found.items() if changes}


def refuse_template_changes(changes: Mapping[str, Sequence[str]]) -> None:
    """Raise :class:`TemplateChangedError` (exit 2) naming each notebook and its changes, if any."""
    if not changes:
        return
    listing = "\n".join(f"  {name}.ipynb: {'; '.join(items)}" for name, items in changes.items())
    raise TemplateChangedError(
        "--strict: notebooks differ from the pack's declared parameter defaults or their committed code; "
        "nothing was run:\n"
        f"{listing}\nRestore the notebook (git checkout -- notebooks/<name>.ipynb), keep a what-if in a copy "
        f"or pass it with -p NAME VALUE; a new default belongs in notebooks/{PACK_FILE} too."
    )


def parameter_values(
    entry: PackEntry,
    declared: Mapping[str, Mapping[str, Any]],
    passed: Mapping[str, Any],
    user: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """Every parameter the notebook declares with its effective value and where it came from.

    ``passed``: the values injected into the notebook; ``user``: those given with ``-p``/``-f``.
    A passed value comes from "-p/-f" when the user gave it, else from the "run" (month, data,
    config, plan, report folder); a parameter not passed keeps the "notebook default".
    ``default`` is the pack's declared default (the notebook's own when the pack declares none).
    ``what_if`` rule: a value not set by the run itself that differs from ``default`` (the run's
    month, data, config, report folder and ``--plan`` are stated by every page already).
    """
    values = {}
    for name, info in declared.items():
        own = default_value(str(info.get("default")))
        if name in passed:
            value, source = passed[name], SOURCE_USER if name in user else SOURCE_RUN
        else:
            value, source = own, SOURCE_NOTEBOOK
        default = entry.defaults[name] if entry.defaults is not None and name in entry.defaults else own
        values[name] = {
            "value": value,
            "source": source,
            "default": default,
            "what_if": source != SOURCE_RUN and value != default,
        }
    return values


def _md_text(value: Any) -> str:
    """A value as literal text in a markdown cell: HTML-escaped, markdown punctuation escaped."""
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(text, quote=False))


def what_if_note(values: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The page header's statement of the what-if values (:func:`parameter_values`), one line each:
    ``scenario: stretch — a what-if, not the plan (saved in the notebook; the default is base)``;
    None when the page used only the defaults."""
    lines = [
        f"**{_md_text(name)}: {_md_text(v['value'])}** — a what-if, not the plan "
        f"({_SOURCE_WORDS.get(v['source'], v['source'])}; the default is {_md_text(v['default'])})"
        for name, v in values.items()
        if v.get("what_if")
    ]
    return "\n".join(f"> {line}  " for line in lines) if lines else None


WHAT_IF_TAG = "what-if-parameters"


def add_what_if_note(nb: nbformat.NotebookNode, note: str | None) -> None:
    """Put ``note`` (:func:`what_if_note`) in the page's header: a markdown cell right after the
    first cell with a heading (the title), else first. Nothing when ``note`` is None."""
    if not note:
        return
    cell = nbformat.v4.new_markdown_cell(note)
    cell.metadata["tags"] = [WHAT_IF_TAG]
    titled = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("#")]
    nb.cells.insert(titled[0] + 1 if titled else 0, cell)


def package_versions() -> dict[str, str | None]:
    """Python and key package versions (None for a package that is not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any] | None:
    """The commit the code was at and whether the working tree had changes (None outside git)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def plan_record(plan: PlanInForce, month: str) -> dict[str, Any]:
    """The plan in force as run.json records it and the index shows it, in the one provenance
    wording (:func:`salesplan.targets.views.plan_words`): the plan's provenance
    (:meth:`PlanInForce.provenance`) with ``words`` on each segment and on the report month,
    ``months`` (every month of the year: ``month`` "YYYY-MM", ``source``, ``version``, ``plan``)
    and ``text`` (the report month's plan and every segment of the year,
    :func:`salesplan.targets.views.plan_text`), the sentence on the index."""
    from salesplan.targets.views import plan_month_words, plan_text, plan_words

    number = Month.parse(str(month)).number
    record = plan.provenance(number)
    record["segments"] = [{**seg, "words": plan_words(seg)} for seg in record["segments"]]
    record["month"] = {**record["month"], "words": plan_words(record["month"])}
    record["months"] = plan_month_words(plan).to_dict(orient="records")
    record["text"] = plan_text(plan, number)
    return record


def run_record(
    *,
    month: str,
    status: str,
    started: str,
    duration_s: float,
    parameters: Mapping[str, Any],
    jobs: int,
    plan: Mapping[str, Any] | None,
    template_changes: Mapping[str, Sequence[str]],
    sources: Sequence[Mapping[str, Any]] | None,
    notebooks: Sequence[Mapping[str, Any]],
    cwd: Path = PROJECT_ROOT,
) -> dict[str, Any]:
    """The content of ``run.json``: what the run was asked (month, every parameter as text,
    ``jobs``), what it read (input files with their hashes, the plan in force), what it ran with
    (package versions, git commit, platform) and what each notebook did. Enough to reproduce the
    report from its inputs; machine paths are scrubbed by the caller."""
    return {
        "month": month,
        "status": status,
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": duration_s,
        "parameters": {**{k: (None if v is None else str(v)) for k, v in parameters.items()}, "jobs": jobs},
        "plan": dict(plan or {}),
        "template_changes": {name: list(found) for name, found in template_changes.items()},
        "inputs": list(sources or []),
        "versions": package_versions(),
        "git": git_state(cwd),
        "platform": {"system": platform.system(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "notebooks": list(notebooks),
    }
