"""The monthly run: execute the numbered notebooks for one month and publish the report.

``run_month`` loads and validates the data, picks the month (default: the latest complete
month in the data), settles the plan in force (:mod:`salesplan.plans`), then runs the
notebooks declared in ``notebooks/pack.yaml`` through papermill (a notebook waits for every
earlier one that writes something it reads; ``jobs`` run side by side) and writes
``reports/YYYY-MM/``:

- each executed notebook (``.ipynb``) and its HTML export (code, prompts and the
  parameter cells hidden),
- ``index.html``: the month's headline figures and links to every notebook,
- ``run.json``: parameters, input file hashes, package versions, git commit, and the
  start, duration and status of every notebook.

Safety: the report is built in ``reports/.tmp-YYYY-MM-<pid>`` and swapped in only when
every notebook succeeded (old folder renamed to a backup, new folder renamed into place,
backup deleted), so a failed or killed run never damages the previous report of that
month. A failed run is kept in ``reports/YYYY-MM.failed/``. One run per month at a time:
an exclusive ``flock`` on ``reports/.YYYY-MM.lock``.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import fcntl
import html
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from salesplan.config import PROJECT_ROOT, resolve_path
from salesplan.publish import HEADLINE_MIME, headline_payload, status_style

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
# Cells hidden in the HTML export: papermill's injected values, the defaults cell, and cells
# an author marks as scaffolding.
HTML_REMOVE_TAGS = frozenset({"injected-parameters", "parameters", "remove_cell"})
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
KERNEL_NAME = "salesplan"
"""The project's Jupyter kernel: the notebooks' metadata, JupyterLab, nbval and the run all use it."""
KERNEL_DISPLAY_NAME = "Python (salesplan)"
# Folders of the run's kernel sockets in the temporary folder: prefix, runner pid, random part.
SOCKETS_PREFIX = "salesplan-kernels-"
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
TEMPLATES_DIR = Path(__file__).with_name("templates")
PAGE_TEMPLATE = TEMPLATES_DIR / "notebook_page.html.j2"


class RunError(Exception):
    """A monthly run could not complete; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class RunInputError(RunError):
    """A bad argument to the run (month format, unknown notebook name, missing folder)."""

    exit_code = 2


class LockError(RunError):
    """Another run of the same month holds the lock."""

    exit_code = 3


class NotebookFailedError(RunError):
    """A notebook raised an error; the message names the notebook, the cell and the error."""

    exit_code = 1

    def __init__(self, message: str, *, notebook: str, failed_dir: Path | None):
        super().__init__(message)
        self.notebook = notebook
        self.failed_dir = failed_dir


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM; the message says what was stopped.

    A ``KeyboardInterrupt``, so that no ``except Exception`` on the way (papermill, nbclient)
    swallows it and whatever handles Ctrl-C handles it. ``exit_code`` follows the shell's
    convention, 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int, message: str = "") -> None:
        # Without a message the stop came before any notebook ran (loading and checking the data).
        super().__init__(
            message or f"stopped by {signal.Signals(signum).name} before any notebook ran; no report changed"
        )
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise RunInterrupted(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """While active, SIGINT and SIGTERM raise :class:`RunInterrupted` in the main thread, so a
    run stopped by Ctrl-C, ``kill`` or a scheduler cleans up (kernels, half-built folder, lock)
    before the process exits. Outside the main thread (signals cannot be handled there) it
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of acting on them while the block runs (the swap that
    publishes a report, the clean-up after a stop): the caller decides afterwards. Yields the
    list the signals received are appended to."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.signal(signum, lambda n, _f: received.append(n)) for signum in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ignore_interrupts_in_worker() -> None:
    # Pool workers share the terminal's process group: Ctrl-C reaches them too. The parent
    # decides what to stop; a Python-level handler (not SIG_IGN) so that kernels started by
    # the worker still get the default SIGINT behaviour (handlers are reset on exec). SIGTERM,
    # which the parent sends to stop a worker, just ends it (a forked worker would otherwise
    # inherit the parent's handler and print a traceback on the way out).
    signal.signal(signal.SIGINT, lambda _n, _f: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _descendants() -> dict[int, float]:
    """This process's descendants (kernels, pool workers): pid -> create time."""
    import psutil  # a dependency of ipykernel, so present wherever notebooks run

    found = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            found[proc.pid] = proc.create_time()
    return found


def _stop_processes(before: Mapping[int, float], grace_s: float = 5.0) -> int:
    """Terminate the descendants started since ``before`` (a :func:`_descendants` snapshot):
    the run's kernels and pool workers, not processes the caller had already started.
    SIGTERM first, SIGKILL after ``grace_s``. Returns how many processes were stopped."""
    import psutil

    mine = []
    for pid, created in _descendants().items():
        if before.get(pid) != created:
            with contextlib.suppress(psutil.Error):
                mine.append(psutil.Process(pid))
    for proc in mine:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(mine, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    return len(mine)


@dataclass
class NotebookResult:
    """What happened to one notebook in a run."""

    name: str
    status: str  # ok | failed | not_run
    title: str = ""
    started: str | None = None
    duration_s: float | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    ipynb: str | None = None
    headlines: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    parameter_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every parameter the notebook declares: its effective ``value``, its ``source`` ("run",
    "-p/-f" or "notebook default"), the pack's declared ``default`` and ``what_if`` (stated on the page)."""
    template_changes: list[str] = field(default_factory=list)
    """Where the notebook's parameter defaults differ from those ``pack.yaml`` declares."""
    files: list[str] = field(default_factory=list)
    """Files the notebook wrote into the report folder (relative paths), carried with its page."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """``stderr`` output of the executed notebook (kept in the .ipynb, never shown on the page)."""
    run_started: str | None = None
    """Start of the run that executed the notebook (this run, or an earlier one for a carried page)."""
    from_run: str | None = None
    """For a page carried over from the previous report of the month: the start of the run that
    executed it; None for a notebook this run executed."""


@dataclass
class RunResult:
    """The outcome of a run: month, where the report is and per-notebook results."""

    month: str
    report_dir: Path
    index: Path
    notebooks: list[NotebookResult]
    duration_s: float
    status: str = "ok"


# --------------------------------------------------------------------------- notebooks


PACK_FILE = "pack.yaml"
RUNNER_PARAMETERS = ("month", "data_dir", "config_path", "output_dir", "plan_version")
"""Parameters the run sets itself (``--month``, ``--data``, ``--config``, the run folder, ``--plan``)."""


@dataclass(frozen=True)
class PackEntry:
    """One notebook of the monthly pack: its file, what it reads and writes, and the parameter
    defaults the pack declares for it (None: the pack declares none, nothing is checked)."""

    path: Path
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    defaults: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.stem


def load_pack(notebooks_dir: str | os.PathLike[str] | None = None) -> list[PackEntry]:
    """The declared pack (``pack.yaml`` in ``notebooks_dir``), in its order; without a pack file
    every ``NN_*.ipynb`` in numbered order, declaring nothing (so all independent).

    Parameter defaults: the pack's top-level ``defaults`` (for every notebook that declares the
    parameter) updated by the entry's own ``defaults``; an entry gets None when the pack
    declares no defaults at all."""
    import yaml

    folder = Path(notebooks_dir) if notebooks_dir is not None else PROJECT_ROOT / "notebooks"
    if not folder.is_dir():
        raise RunInputError(f"notebooks folder {folder} does not exist")
    pack_file = folder / PACK_FILE
    if not pack_file.exists():
        return [PackEntry(p) for p in sorted(folder.glob(NOTEBOOK_GLOB), key=lambda p: p.name)]
    try:
        content = yaml.safe_load(pack_file.read_text(encoding="utf-8")) or {}
        entries = content["notebooks"]
        shared = content.get("defaults")
        if shared is not None and not isinstance(shared, dict):
            raise ValueError("defaults: expected a mapping of parameter names to values")
        pack = []
        for i, item in enumerate(entries):
            unknown = set(item) - {"name", "reads", "writes", "defaults"}
            if unknown:
                raise ValueError(f"entry {i}: unknown key(s) {', '.join(sorted(unknown))}")
            path = folder / f"{item['name']}.ipynb"
            if not path.exists():
                raise ValueError(f"entry {i}: {path.name} does not exist")
            own = item.get("defaults")
            if own is not None and not isinstance(own, dict):
                raise ValueError(f"entry {i}: defaults: expected a mapping of parameter names to values")
            defaults = None if shared is None and own is None else {**(shared or {}), **(own or {})}
            pack.append(PackEntry(path, tuple(item.get("reads") or ()), tuple(item.get("writes") or ()), defaults))
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise RunInputError(f"{pack_file}: not a valid pack declaration ({exc})") from None
    return pack


def discover_notebooks(notebooks_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The run's notebooks, in the pack's order."""
    return [entry.path for entry in load_pack(notebooks_dir)]


def dependencies(pack: Sequence[PackEntry]) -> dict[str, set[str]]:
    """For each notebook, the earlier notebooks of ``pack`` that write something it reads."""
    out: dict[str, set[str]] = {}
    for i, entry in enumerate(pack):
        out[entry.name] = {e.name for e in pack[:i] if set(e.writes) & set(entry.reads)}
    return out


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


class TemplateChangedError(RunInputError):
    """A ``--strict`` run found notebooks whose parameter defaults differ from the pack's."""


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


# --------------------------------------------------------------------------- kernel


def check_kernel(name: str = KERNEL_NAME) -> str:
    """The kernelspec folder of the project's kernel; :class:`RunInputError` when it is not
    registered or starts another environment's Python than this one (a user kernelspec left by
    another checkout would run its library, not this one)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise RunInputError(
            f"the notebooks' kernel {name!r} is not registered: run `make kernel` (or `salesplan lab --register-only`)"
        ) from None
    python = Path(spec.argv[0]) if spec.argv else None
    if python is not None and python.is_absolute() and python.parent.parent.resolve() != Path(sys.prefix).resolve():
        raise RunInputError(
            f"the kernel {name!r} ({spec.resource_dir}) starts {python}, not this environment's Python "
            f"({sys.executable}): run `make kernel` (or `salesplan lab --register-only`) to register it again"
        )
    return spec.resource_dir


def register_kernel(*, user: bool = True) -> list[Path]:
    """Register the project's kernel (:data:`KERNEL_NAME`) for this environment's Python: in the
    environment (found first by everything started from it: the run, ``make lab``, nbval) and,
    with ``user``, in the user's Jupyter folder, where VS Code and a system-wide Jupyter find it.
    Returns the kernelspec folders written."""
    from ipykernel.kernelspec import install

    places = [install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix)]
    if user:
        places.append(install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, user=True))
    return [Path(p) for p in places]


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


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of the notebook, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or fallback
    return fallback


def read_headlines(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Headline blocks published with ``salesplan.publish.headline`` in an executed notebook.

    Malformed payloads are skipped: the index page shows what it can read.
    """
    blocks = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") in {"display_data", "execute_result"} else {}
            payload = data.get(HEADLINE_MIME)
            if isinstance(payload, str):
                with contextlib.suppress(ValueError):
                    payload = json.loads(payload)
            if not isinstance(payload, Mapping):
                continue
            try:
                blocks.append(
                    headline_payload(payload.get("title"), payload.get("figures", []), primary=payload.get("primary"))
                )
            except (ValueError, TypeError):
                continue
    return blocks


_exporter = None


def _html_exporter():
    # Building the exporter loads templates; one instance serves every notebook of a run.
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        # Our page template drops everything the lab template loads from a CDN (require.js,
        # MathJax, mermaid, widgets): a page opens complete offline and leaks nothing to the web.
        exporter = HTMLExporter(
            template_file=str(PAGE_TEMPLATE),
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=set(HTML_REMOVE_TAGS)), enabled=True)
        # nbconvert warns once per notebook that chart images lack alt text; the titles say what they show.
        exporter.log.setLevel(logging.ERROR)
        _exporter = exporter
    return _exporter


def stderr_outputs(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Every ``stderr`` stream of an executed notebook (warnings, log lines): cell index and
    text. A page never shows them (:func:`export_html`); the run lists them so they get fixed."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append({"cell_index": index, "text": str(output.get("text", "")).strip()})
    return found


def export_html(nb: nbformat.NotebookNode, html_path: str | os.PathLike[str], title: str) -> None:
    """Write the notebook as HTML without code, prompts, parameter cells or ``stderr`` output
    (warnings are for the person running the pack, not the reader), charts inline, nothing
    loaded from the network."""
    page = copy.deepcopy(nb)
    for cell in page.cells:
        if "outputs" in cell:
            cell.outputs = [
                o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    body, _ = _html_exporter().from_notebook_node(page, resources={"metadata": {"name": title}})
    Path(html_path).write_text(body, encoding="utf-8")


_ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "applet", "base", "frame", "frameset"})


def active_content(page: str) -> list[str]:
    """What in an exported page could run or load something in the reader's browser: script-like
    elements, ``on*`` event attributes, ``javascript:`` links and remote sources (``src=https://…``;
    a link to a web page in prose is fine).

    The page template adds none of these, and every table, headline and index value is escaped,
    so anything found came from a notebook output that put raw text into HTML (a name from the
    data, say). The run refuses to publish such a page rather than mail it around.
    """
    from html.parser import HTMLParser

    found: list[str] = []

    class _Scan(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in _ACTIVE_TAGS:
                found.append(f"<{tag}> element")
            for name, value in attrs:
                text = (value or "").strip().lower()
                scripted = text.startswith(("javascript:", "vbscript:"))
                # A link to a web page in prose is fine; something the browser would fetch is not.
                remote = name != "href" and text.startswith(("http:", "https:", "//"))
                if name.lower().startswith("on"):
                    found.append(f"{name}= attribute on <{tag}>")
                elif name in ("src", "href", "action", "formaction", "data", "srcset") and (scripted or remote):
                    found.append(f"{name}={text[:60]!r} on <{tag}>")

        handle_startendtag = handle_starttag

    scan = _Scan(convert_charrefs=True)
    scan.feed(page)
    scan.close()
    return found


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _execute(
    src: str, dst: str, parameters: dict[str, str], cwd: str, timeout: float | None, kernel_address: str
) -> dict[str, Any]:
    """Run one notebook with papermill; return start, duration and error details (picklable).
    The kernel listens on Unix sockets ``<kernel_address>-<n>``, a path unique to this notebook
    in a folder the run removes when it ends."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    # debugpy inside ipykernel warns about frozen modules on every kernel start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # papermill's parameter-parsing warnings are redundant: the runner passes only the names
    # it found in the parameters cell (declared_parameters).
    logging.getLogger("papermill").setLevel(logging.ERROR)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            src,
            dst,
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=cwd,
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            # ipykernel logs a transport warning on every start and an interrupt notice at shutdown;
            # keep the run output to progress lines (errors in cells reach us through papermill).
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            # Unix sockets, not TCP ports: a TCP port is picked free, released, then bound by the
            # kernel, and a kernel started at the same moment by another worker can take it in
            # between ("Address already in use", kernel dead).
            config=Config({"KernelManager": {"transport": "ipc", "ip": kernel_address}}),
        )
    except PapermillExecutionError as exc:
        error = {
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "first_line": _first_line(exc.source),
            "ename": exc.ename,
            "evalue": exc.evalue,
        }
    except Exception as exc:  # dead kernel, cell timeout, unreadable notebook: all end this notebook
        # Where the kernel died or the time ran out: the cell papermill started last.
        cell_index, cell = running_cell(dst)
        error = {
            "cell_index": cell_index,
            "execution_count": cell.get("execution_count") if cell else None,
            "first_line": _first_line(cell.source) if cell else "",
            "ename": type(exc).__name__,
            "evalue": str(exc),
        }
    return {"started": started, "duration_s": round(time.perf_counter() - t0, 2), "error": error}


def running_cell(path: str | os.PathLike[str]) -> tuple[int | None, nbformat.NotebookNode | None]:
    """The cell that was executing when a notebook stopped: the last cell papermill started in
    the (possibly partially written) output notebook ``path``. Its index and the cell, or
    ``(None, None)`` when no cell had started or there is no readable notebook."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # missing or half-written file: nothing to point at
        return None, None
    # papermill saves the notebook at every cell start; its clean-up then marks even the cell
    # the kernel died in "completed", but cells after it never get a start time.
    started = [
        (index, cell)
        for index, cell in enumerate(nb.cells)
        if (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
    ]
    return started[-1] if started else (None, None)


def describe_error(name: str, error: Mapping[str, Any]) -> str:
    """One readable sentence: which notebook, which cell, which error ("died" when the kernel did)."""
    where = ""
    if error.get("cell_index") is not None:
        where = f" in cell {error['cell_index']}"
        if error.get("first_line"):
            where += f" ({error['first_line']!r})"
    evalue = str(error.get("evalue", "")).strip()
    verb = "died" if error.get("ename") == "DeadKernelError" else "failed"
    return f"notebook {name} {verb}{where}: {error.get('ename', 'Error')}: {evalue}"


# --------------------------------------------------------------------------- lock and folders


@contextlib.contextmanager
def run_lock(reports_dir: str | os.PathLike[str], month: str) -> Iterator[Path]:
    """Hold the exclusive lock ``reports_dir/.YYYY-MM.lock`` for one run of ``month``.

    Uses ``fcntl.flock``: the kernel drops the lock when its holder dies, so a lock file
    left by a killed run is stale by construction and simply taken over. Raises
    :class:`LockError` naming the holder's pid and start time when the month is busy.
    """
    folder = Path(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{month}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").split("\n")
            os.close(fd)
            pid = holder[0] if holder and holder[0] else "?"
            since = holder[1] if len(holder) > 1 and holder[1] else "?"
            raise LockError(
                f"another run of {month} is in progress (pid {pid}, started {since}); lock file {path}"
            ) from None
        # The previous holder unlinks the file on release; if that happened between our open
        # and flock we hold a lock on an orphaned file and must start over.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n{datetime.now(UTC).isoformat(timespec='seconds')}\n".encode())
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _recover(reports_dir: Path, month: str) -> list[str]:
    """Clean up after a run of ``month`` that was killed (caller holds the month's lock).

    A kill between the two renames of the swap leaves only the backup: put it back.
    Leftover build and backup folders are then removed. Returns one phrase per thing found
    (empty when there was nothing), for the run to say what it cleaned up.
    """
    found = []
    final = reports_dir / month
    backups = sorted(reports_dir.glob(f".old-{month}-*"), key=lambda p: p.stat().st_mtime)
    if not final.exists() and backups:
        restored = backups.pop()
        os.rename(restored, final)
        found.append(f"the published report {month} restored from {restored.name}")
    for leftover in [*backups, *sorted(reports_dir.glob(f".tmp-{month}-*"))]:
        shutil.rmtree(leftover, ignore_errors=True)
        kind = "half-built report" if leftover.name.startswith(".tmp-") else "old copy"
        found.append(f"{kind} {leftover.name} removed")
    return found


def _sweep_kernel_sockets() -> list[str]:
    """Remove the kernel socket folders of runs whose process is gone (killed with SIGKILL,
    which leaves no chance to clean up). Returns one phrase per folder removed."""
    import psutil

    found = []
    for folder in sorted(Path(tempfile.gettempdir()).glob(f"{SOCKETS_PREFIX}*")):
        match = re.fullmatch(re.escape(SOCKETS_PREFIX) + r"(\d+)-\w+", folder.name)
        if not match or not folder.is_dir():
            continue
        pid = int(match.group(1))
        try:
            # A live process with that pid may be a newer one that reused it.
            alive = psutil.Process(pid).create_time() <= folder.stat().st_mtime + 1
        except (psutil.Error, OSError):
            alive = False
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                found.append(f"kernel sockets {folder.name} removed")
    return found


def _swap_in(build: Path, final: Path) -> None:
    """Replace ``final`` by ``build``; at every instant one complete report is in place or
    recoverable (see :func:`_recover`)."""
    backup = None
    if final.exists():
        backup = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, backup)
    os.rename(build, final)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _keep_failed(build: Path, month: str) -> Path:
    failed = build.parent / f"{month}.failed"
    if failed.exists():
        shutil.rmtree(failed)
    os.rename(build, failed)
    return failed


def report_months(reports_dir: str | os.PathLike[str]) -> list[str]:
    """Months with a complete report (``YYYY-MM/index.html``) in ``reports_dir``, newest first."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    return sorted(
        (p.name for p in folder.iterdir() if p.is_dir() and MONTH_RE.match(p.name) and (p / "index.html").exists()),
        reverse=True,
    )


# --------------------------------------------------------------------------- published paths


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as published files record it: relative to the project root when inside it, else
    only its last part (a folder or file name). Published pages and run.json travel by e-mail
    and sit on shared drives; machine paths (home folders, user names, temp folders) stay home.
    A relative path is kept as given (relative paths are taken from the project root)."""
    raw = Path(path)
    if not raw.is_absolute():
        return raw.as_posix()
    for candidate in (raw, raw.resolve()):
        with contextlib.suppress(ValueError):
            return candidate.relative_to(PROJECT_ROOT.resolve()).as_posix() or "."
        with contextlib.suppress(ValueError):
            return candidate.relative_to(PROJECT_ROOT).as_posix() or "."
    return raw.name


class PathScrubber:
    """Replaces this machine's absolute paths in published text by their :func:`display_path`.

    ``known`` maps absolute paths (the build folder, the reports, data and notebooks folders)
    to what a published file shows instead; the project root and the home folder are always
    known. Longer paths are replaced first, so a build folder inside the project becomes the
    month folder, not "the project root + .tmp-...".
    """

    def __init__(self, known: Mapping[str | os.PathLike[str], str] = ()) -> None:
        pairs: dict[str, str] = {}
        for path, shown in dict(known).items():
            for form in {str(Path(path)), str(Path(path).resolve())}:
                pairs[form] = shown
        for root in {str(PROJECT_ROOT), str(PROJECT_ROOT.resolve())}:
            pairs.setdefault(root + os.sep, "")
            pairs.setdefault(root, ".")
        home = os.path.expanduser("~")
        if home not in ("", "/", "~"):
            pairs.setdefault(home, "~")
        self.pairs = sorted(((k, v) for k, v in pairs.items() if k not in ("", "/")), key=lambda kv: -len(kv[0]))

    def text(self, text: str) -> str:
        """``text`` with every known absolute path replaced."""
        for path, shown in self.pairs:
            if path in text:
                text = text.replace(path, shown)
        return text

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed; a string that is an absolute path of its
        own (``data_dir=/srv/exports``) becomes its :func:`display_path`."""
        if isinstance(value, str):
            scrubbed = self.text(value)
            if scrubbed.startswith("/") and "\n" not in scrubbed and len(scrubbed) < 4096:
                return display_path(scrubbed)
            return scrubbed
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def notebook(self, nb: nbformat.NotebookNode, *, input_path: str, output_path: str) -> None:
        """Scrub an executed notebook in place: papermill's metadata (``input_path``,
        ``output_path``, ``parameters``), the injected parameters cell and every text output
        (a path printed while the report was being built would point at a folder that no
        longer exists after the swap anyway)."""
        meta = nb.metadata.get("papermill")
        if meta is not None:
            meta["input_path"] = input_path
            meta["output_path"] = output_path
            for key in ("parameters", "default_parameters", "environment_variables"):
                if key in meta:
                    meta[key] = self.value(meta[key])
            if meta.get("exception") and isinstance(meta.get("exception"), str):
                meta["exception"] = self.text(meta["exception"])
        for cell in nb.cells:
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                cell.source = self.text(cell.source)
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = self.text(str(output["text"]))
                if output.get("output_type") == "error":
                    output["traceback"] = [self.text(line) for line in output.get("traceback", [])]
                for mime, data in (output.get("data") or {}).items():
                    if isinstance(data, str) and mime.startswith("text/"):
                        output["data"][mime] = self.text(data)


# --------------------------------------------------------------------------- carried pages


def _is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in Path(rel).parts)


def _snapshot(folder: Path, skip: set[str]) -> dict[str, tuple[int, int]]:
    """Files under ``folder`` (relative path -> mtime, size), without ``skip`` and hidden files
    (lock files of the library's caches are not part of a report)."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if rel in skip or _is_hidden(rel) or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            st = path.stat()
            found[rel] = (st.st_mtime_ns, st.st_size)
    return found


def read_run_info(report_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``run.json`` of a published report, or None when there is none or it is unreadable."""
    try:
        info = json.loads((Path(report_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def carry_over(
    previous_dir: Path,
    build: Path,
    ran: set[str],
    keep: Sequence[str] | None = None,
) -> list[NotebookResult]:
    """Copy the pages of the published report ``previous_dir`` that this run did not rebuild
    into ``build``, with the files each notebook wrote (recorded per notebook in run.json);
    return their results, marked with the run they came from.

    A run of some notebooks (``--only``) thus adds or replaces just those pages and never
    removes the others. ``ran``: the notebooks this run executed; ``keep``: the notebooks of
    the declared pack (None: every notebook of the previous report), so a notebook dropped
    from the pack is not carried forever. A file the run wrote itself is never overwritten.
    """
    info = read_run_info(previous_dir)
    if info is None:
        return []
    entries = [e for e in info.get("notebooks", []) if isinstance(e, Mapping) and e.get("status") == "ok"]
    carried = []
    fields = set(NotebookResult.__dataclass_fields__)
    for entry in entries:
        name = str(entry.get("name", ""))
        if not name or name in ran or (keep is not None and name not in keep):
            continue
        result = NotebookResult(**{k: v for k, v in entry.items() if k in fields})
        result.run_started = entry.get("run_started") or info.get("started")
        result.from_run = entry.get("from_run") or result.run_started
        files = [f for f in (result.html, result.ipynb, *result.files) if f]
        if "files" not in entry:
            # A report from before files were recorded per notebook: carry every file no
            # notebook page accounts for, so nothing a notebook wrote is lost.
            pages = {f for e in entries for f in (e.get("html"), e.get("ipynb")) if f}
            extra = _snapshot(previous_dir, {"run.json", "index.html", *pages})
            result.files = sorted(extra)
            files += result.files
        for rel in files:
            source, target = previous_dir / rel, build / rel
            if _is_hidden(rel) or not source.is_file() or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        carried.append(result)
    return carried


# --------------------------------------------------------------------------- run metadata


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


def _jinja_env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )


def plan_record(plan: PlanInForce, month: str) -> dict[str, Any]:
    """The plan in force as run.json records it and the index shows it, in the one provenance
    wording (:func:`salesplan.targets.views.plan_words`): the plan's provenance
    (:meth:`PlanInForce.provenance`) with ``words`` on each segment and on the report month,
    ``months`` (every month of the year: ``month`` "YYYY-MM", ``source``, ``version``, ``plan``)
    and ``text`` (the report month's plan and every segment of the year,
    :func:`salesplan.targets.views.plan_text`), the sentence on the index."""
    from salesplan.targets.views import plan_month_words, plan_text, plan_words

    number = int(str(month)[5:7])
    record = plan.provenance(number)
    record["segments"] = [{**seg, "words": plan_words(seg)} for seg in record["segments"]]
    record["month"] = {**record["month"], "words": plan_words(record["month"])}
    record["months"] = plan_month_words(plan).to_dict(orient="records")
    record["text"] = plan_text(plan, number)
    return record


def write_month_index(
    build: Path,
    run_info: Mapping[str, Any],
    results: Sequence[NotebookResult],
    other_months: Sequence[str],
    extra_files: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` of one month's report (primary headlines first, then notebooks)."""
    primary = [
        {**block, "notebook": r.name, "from_run": r.from_run}
        for r in results
        for block in r.headlines
        if block.get("primary")
    ]
    page = (
        _jinja_env()
        .get_template("month_index.html.j2")
        .render(
            month=run_info["month"],
            run=run_info,
            primary=primary,
            notebooks=results,
            other_months=other_months,
            extra_files=extra_files,
            status_style=status_style(),
        )
    )
    path = build / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_reports_index(reports_dir: str | os.PathLike[str]) -> Path:
    """Rewrite ``reports_dir/index.html`` listing every month's report, newest first."""
    folder = Path(reports_dir)
    months = []
    for month in report_months(folder):
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((folder / month / "run.json").read_text(encoding="utf-8"))
        months.append(
            {
                "month": month,
                "finished": info.get("finished", ""),
                "notebooks": len(info.get("notebooks", [])),
                "commit": (info.get("git") or {}).get("commit", "")[:10],
            }
        )
    page = _jinja_env().get_template("reports_index.html.j2").render(months=months)
    path = folder / "index.html"
    tmp = folder / f".index.html.{os.getpid()}"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)  # readers never see a half-written page
    return path


# --------------------------------------------------------------------------- the run


def check_month(month: str) -> str:
    """Return ``month`` if it is a ``YYYY-MM`` string, else raise :class:`RunInputError`."""
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise RunInputError(f"month must be YYYY-MM (e.g. 2026-10), got {month!r}")
    return month


def run_notebooks(
    month: str,
    notebooks: Sequence[Path | PackEntry],
    *,
    parameters: Mapping[str, Any],
    user_parameters: Mapping[str, Any] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    sources: list[dict[str, Any]] | None = None,
    plan: Mapping[str, Any] | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = print,
    cwd: Path = PROJECT_ROOT,
    pack: Sequence[Path | PackEntry] | None = None,
    strict: bool = False,
) -> RunResult:
    """Execute ``notebooks`` for ``month`` and publish ``reports_dir/YYYY-MM/``.

    ``parameters`` holds the run's values (``month``, ``data_dir``, ``config_path``,
    ``plan_version``); ``user_parameters`` those given with ``-p``/``-f`` (a name no notebook
    declares is refused). Each notebook receives the values its parameters cell declares
    (:func:`notebook_parameters`). A notebook that declares ``output_dir`` receives the report
    folder being built: files it writes there are published with the report, recorded per
    notebook in run.json and linked from the index. ``jobs > 1`` runs up to that many
    notebooks at once, each after the earlier notebooks that write something it reads
    (:func:`dependencies`). ``plan``: the plan in force
    (:meth:`salesplan.plans.PlanInForce.provenance`), recorded in run.json and on the index.

    The run adds or replaces the pages of the notebooks it ran: the other pages of the
    month's published report (of notebooks in ``pack``, the declared pack; None: all) are
    carried over with their files and marked with the run they come from (:func:`carry_over`).
    Published files hold no absolute machine path (:class:`PathScrubber`).

    Parameters are explicit: run.json records every parameter of every notebook with its
    effective value and source (:func:`parameter_values`), a page run with a what-if value states
    it under its title (:func:`what_if_note`), and notebooks whose saved defaults differ from the
    pack's (:func:`template_changes`) are named in the output and in run.json; with ``strict``
    the run refuses them (:class:`TemplateChangedError`, exit 2) before anything runs. The
    notebooks run on the project's kernel (:func:`check_kernel`).

    Raises :class:`LockError` when the month is busy, :class:`NotebookFailedError` (after
    keeping the build in ``YYYY-MM.failed/``) when a notebook fails and
    :class:`RunInterrupted` on SIGINT/SIGTERM (kernels stopped, the build removed); the
    previous report of the month is then untouched.
    """
    check_month(month)
    if jobs < 1:
        raise RunInputError(f"--jobs must be at least 1, got {jobs}")
    if not notebooks:
        raise RunInputError("no notebooks to run (expected files named NN_name.ipynb)")
    entries = [nb if isinstance(nb, PackEntry) else PackEntry(Path(nb)) for nb in notebooks]
    keep = None if pack is None else [e.stem if isinstance(e, Path) else e.name for e in pack]
    say = progress or (lambda _line: None)
    reports = Path(reports_dir) if reports_dir is not None else PROJECT_ROOT / "reports"
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")

    infos = {entry.name: notebook_parameters(entry.path) for entry in entries}
    declared = {name: list(info) for name, info in infos.items()}
    user = dict(user_parameters or {})
    check_user_parameters(user, declared)
    changes = {
        entry.name: [*template_changes(entry, infos[entry.name]), *edited_cells(entry.path)] for entry in entries
    }
    if strict:
        refuse_template_changes({name: found for name, found in changes.items() if found})
    check_kernel()
    plans: list[tuple[PackEntry, NotebookResult]] = []
    for entry in entries:
        try:
            nb = nbformat.read(entry.path, as_version=4)
        except Exception as exc:  # nbformat raises several types for damaged files
            raise RunInputError(f"{entry.path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
        names = declared[entry.name]
        passed = {k: v for k, v in {**parameters, **user}.items() if k in names and v is not None}
        result = NotebookResult(
            name=entry.name,
            status="not_run",
            title=notebook_title(nb, entry.name),
            parameters=passed,
            run_started=started,
        )
        plans.append((entry, result))
    waits_for = dependencies(entries)
    own_files = {f"{e.name}.{ext}" for e in entries for ext in ("ipynb", "html")} | {"run.json", "index.html"}

    with run_lock(reports, month):
        found = _recover(reports, month) + _sweep_kernel_sockets()
        if found:
            say(f"Found the remains of an interrupted run of {month} ({'; '.join(found)}); cleaned up.")
        final = reports / month
        build = reports / f".tmp-{month}-{os.getpid()}"
        build.mkdir(parents=True)
        # What published files show instead of this machine's paths: the build folder becomes
        # the month folder it is swapped into; other absolute parameter values their short form.
        known: dict[str, str] = {str(build): display_path(final), str(reports): display_path(reports)}
        for value in {**parameters, **user}.values():
            if isinstance(value, str | os.PathLike) and Path(value).is_absolute():
                known[str(value)] = display_path(value)
        for entry, _result in plans:
            known[str(entry.path.parent)] = display_path(entry.path.parent)
        scrub = PathScrubber(known)
        for entry, result in plans:
            if "output_dir" in declared[entry.name]:
                result.parameters["output_dir"] = str(build)
            result.parameter_values = parameter_values(entry, infos[entry.name], result.parameters, user)
            result.template_changes = changes[entry.name]
        for entry, result in plans:
            if result.template_changes:
                say(
                    f"      {entry.name}: differs from the pack's declared defaults "
                    f"({'; '.join(result.template_changes)}); `salesplan run --strict` refuses this"
                )
        say(f"Running {len(plans)} notebook(s) for {month} -> {final}")
        failures: list[NotebookResult] = []
        done: list[int] = []
        running: dict[str, dict[str, tuple[int, int]]] = {}  # notebook -> build snapshot at its start
        children_before = _descendants()

        def start(entry: PackEntry) -> None:
            running[entry.name] = _snapshot(build, own_files)

        def finish(entry: PackEntry, result: NotebookResult, outcome: Mapping[str, Any]) -> None:
            before = running.pop(entry.name, {})
            result.started = outcome["started"]
            result.duration_s = outcome["duration_s"]
            result.ipynb = f"{entry.name}.ipynb"
            # Files new or changed while the notebook ran. Side by side (--jobs) a file written
            # during overlapping runs is recorded for each of them: carrying one too many is
            # harmless, as a file the run wrote itself is never replaced by a carried copy.
            result.files = sorted(rel for rel, stamp in _snapshot(build, own_files).items() if before.get(rel) != stamp)
            if outcome["error"] is None:
                executed = nbformat.read(build / result.ipynb, as_version=4)
                scrub.notebook(
                    executed,
                    input_path=display_path(entry.path),
                    output_path=f"{display_path(final)}/{result.ipynb}",
                )
                add_what_if_note(executed, what_if_note(result.parameter_values))
                nbformat.write(executed, build / result.ipynb)
                result.html = f"{entry.name}.html"
                export_html(executed, build / result.html, result.title)
                result.headlines = read_headlines(executed)
                result.warnings = [{**w, "text": w["text"][:2000]} for w in stderr_outputs(executed)]
                result.status = "ok"
                unsafe = active_content((build / result.html).read_text(encoding="utf-8"))
                if unsafe:
                    result.status = "failed"
                    result.error = {
                        "cell_index": None,
                        "execution_count": None,
                        "first_line": "",
                        "ename": "UnsafePageError",
                        "evalue": f"{result.html} would contain active content ({'; '.join(sorted(set(unsafe))[:5])}): "
                        "a notebook output put raw text into HTML; show data through salesplan.tables.style_table "
                        "or escape it",
                    }
                    failures.append(result)
            else:
                result.status = "failed"
                result.error = dict(outcome["error"])
                failures.append(result)
            done.append(1)
            say(f"[{len(done)}/{len(plans)}] {result.name:<28} {result.status:<6} {result.duration_s:6.1f} s")
            if result.warnings:
                first = _first_line(result.warnings[0]["text"])
                say(
                    f"      {result.name}: {len(result.warnings)} stderr output(s), kept out of the page "
                    f"(see the .ipynb): {first[:160]}"
                )

        def execute(entry: PackEntry, result: NotebookResult) -> tuple:
            return (
                _execute,
                str(entry.path),
                str(build / f"{entry.name}.ipynb"),
                result.parameters,
                str(cwd),
                timeout,
                os.path.join(sockets_root, entry.name),
            )

        def interrupted(exc: KeyboardInterrupt, doing: str) -> RunInterrupted:
            """Clean up after SIGINT/SIGTERM and say what was stopped."""
            signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
            with _signals_held():  # a second Ctrl-C must not cut the clean-up short
                # papermill may already have shut its kernel down on the way out; whatever
                # is left of this run (kernels, pool workers) is stopped here.
                _stop_processes(children_before)
                shutil.rmtree(build, ignore_errors=True)
            published = (
                f"the published report {display_path(final)} is untouched"
                if (final / "index.html").exists()
                else f"no report of {month} was published before, and none is now"
            )
            return RunInterrupted(
                signum,
                f"stopped by {signal.Signals(signum).name} {doing}: its kernel(s) stopped, the half-built "
                f"report removed, the lock released; {published}.",
            )

        # One folder for the run's kernel sockets, removed however the run ends (a worker stopped
        # by a signal could not clean up after its kernel).
        sockets_root = tempfile.mkdtemp(prefix=f"{SOCKETS_PREFIX}{os.getpid()}-")
        try:
            if jobs == 1:
                for entry, result in plans:
                    fn, *args = execute(entry, result)
                    start(entry)
                    finish(entry, result, fn(*args))
                    if failures:
                        break  # later notebooks build on the same data; stop at the first failure
            else:
                # Separate processes: each papermill run owns its kernel and event loop. Forked
                # workers start with the runner's imports in place (spawn re-imports for seconds);
                # they only drive papermill, and kernels are fresh processes, so nothing touches
                # state inherited from the parent's thread pools (pyarrow reading the data).
                finished: set[str] = set()
                pending = list(plans)
                with ProcessPoolExecutor(
                    max_workers=jobs, mp_context=get_context("fork"), initializer=_ignore_interrupts_in_worker
                ) as pool:
                    try:
                        futures: dict[Any, tuple[PackEntry, NotebookResult]] = {}
                        while pending or futures:
                            if not failures:
                                for entry, result in list(pending):
                                    if len(futures) >= jobs:
                                        break
                                    if waits_for[entry.name] <= finished:
                                        fn, *args = execute(entry, result)
                                        start(entry)
                                        futures[pool.submit(fn, *args)] = (entry, result)
                                        pending.remove((entry, result))
                            elif not futures:
                                break  # a notebook failed: start nothing new, let the running ones end
                            if not futures:
                                break
                            future = next(as_completed(futures))
                            entry, result = futures.pop(future)
                            finish(entry, result, future.result())
                            finished.add(entry.name)
                    except BaseException:
                        # Stop the workers and their kernels now: leaving the pool's block would
                        # otherwise wait for every running notebook to end.
                        with _signals_held():
                            _stop_processes(children_before)
                        raise
        except KeyboardInterrupt as exc:
            raise interrupted(exc, "while running " + (", ".join(running) or "no notebook")) from None
        except BaseException:
            # Broken beyond one notebook (a bug, out of memory): stop the kernels, keep what was
            # built for a look, then stop.
            with _signals_held():
                _stop_processes(children_before)
                failed_dir = _keep_failed(build, month)
            say(f"Run stopped; partial results kept in {failed_dir}")
            raise
        finally:
            shutil.rmtree(sockets_root, ignore_errors=True)

        try:
            results = [r for _e, r in plans]
            failure = next((r for r in results if any(r is f for f in failures)), None)  # the first in numbered order
            carried: list[NotebookResult] = []
            if failure is None:
                carried = carry_over(final, build, {r.name for r in results}, keep)
                for result in carried:
                    say(f"      {result.name}: page kept from the run of {_when(result.from_run)}")
            order = {name: i for i, name in enumerate(keep or [])}
            published = sorted([*results, *carried], key=lambda r: (order.get(r.name, len(order)), r.name))
            run_info = {
                "month": month,
                "status": "failed" if failure else "ok",
                "started": started,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "duration_s": round(time.perf_counter() - t_start, 2),
                "parameters": {
                    **{k: (None if v is None else str(v)) for k, v in {**parameters, **user}.items()},
                    "jobs": jobs,
                },
                "plan": dict(plan or {}),
                "template_changes": {r.name: r.template_changes for r in results if r.template_changes},
                "inputs": sources or [],
                "versions": package_versions(),
                "git": git_state(cwd),
                "platform": {"system": platform.system(), "machine": platform.machine(), "cpus": os.cpu_count()},
                "notebooks": [asdict(r) for r in published],
            }
            run_info = scrub.value(run_info)
            (build / "run.json").write_text(
                json.dumps(run_info, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
            )

            if failure is not None:
                failed_dir = _keep_failed(build, month)
                message = describe_error(f"{failure.name}.ipynb", failure.error or {})
                message += f"\nThe executed notebook is kept in {failed_dir / (failure.name + '.ipynb')}"
                not_run = [r.name for r in results if r.status == "not_run"]
                if not_run:
                    message += f"\nNot run: {', '.join(not_run)}"
                message += f"\nThe previous report in {final} (if any) is unchanged."
                raise NotebookFailedError(message, notebook=failure.name, failed_dir=failed_dir)

            others = [m for m in report_months(reports) if m != month]
            mine = {"run.json", "index.html"} | {f for r in published for f in (r.html, r.ipynb) if f}
            extra_files = sorted(
                p.name for p in build.iterdir() if p.is_file() and p.name not in mine and not _is_hidden(p.name)
            )
            index = write_month_index(
                build, run_info, [NotebookResult(**n) for n in run_info["notebooks"]], others, extra_files
            )
        except KeyboardInterrupt as exc:
            raise interrupted(exc, "while finishing the report") from None
        # Publishing is two renames and must not be cut in half by a stop: signals wait.
        with _signals_held() as received:
            _swap_in(build, final)
            stale_failed = reports / f"{month}.failed"
            if stale_failed.exists():
                shutil.rmtree(stale_failed, ignore_errors=True)
            write_reports_index(reports)
        if received:
            raise RunInterrupted(
                received[0],
                f"stopped by {signal.Signals(received[0]).name} just after publishing: "
                f"the report {display_path(final)} is complete and in place.",
            )
    return RunResult(
        month=month,
        report_dir=final,
        index=final / index.name,
        notebooks=published,
        duration_s=run_info["duration_s"],
    )


def _when(stamp: str | None) -> str:
    """``2026-12-01T15:04:09+00:00`` as ``2026-12-01 15:04 UTC`` (as the index shows it)."""
    return f"{stamp[:16].replace('T', ' ')} UTC" if stamp else "an earlier run"


def run_month(
    month: str | None = None,
    *,
    data_dir: str | os.PathLike[str] = "data/raw",
    config_path: str | os.PathLike[str] = "config/salesplan.yaml",
    only: str | Sequence[str] | None = None,
    notebooks_dir: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    plan_version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = print,
    strict: bool = False,
) -> RunResult:
    """Validate the data, settle the month (default: the latest complete month in the orders)
    and the plan in force, then run the pack's notebooks and publish ``reports/YYYY-MM/``.

    ``plan_version``: an explicitly requested plan version (``--plan vN``), which must exist;
    ``parameters``: values for the notebooks that declare them (``-p``/``-f``); ``strict``:
    refuse notebooks whose saved parameter defaults differ from the pack's, before the data is
    even read (:func:`template_changes`). Relative paths
    are taken from the project root. Raises ``salesplan.schema.DataValidationError`` (nothing
    in ``reports_dir`` touched), ``salesplan.config.ConfigError``, :class:`RunInputError`,
    :class:`LockError` or :class:`NotebookFailedError`.
    """
    from salesplan import aggregates
    from salesplan.config import load_settings
    from salesplan.io import LINE_TABLES, load_data
    from salesplan.plans import resolve_plan
    from salesplan.targets import TargetVersionError
    from salesplan.targets.versions import PlanReference
    from salesplan.workbook import resolve_month

    if month is not None:
        check_month(month)
    full_pack = load_pack(resolve_path(notebooks_dir) if notebooks_dir else None)
    chosen = set(select_notebooks([e.path for e in full_pack], only))
    pack = [e for e in full_pack if e.path in chosen]
    if strict:
        refuse_template_changes(check_templates(pack))
    data_path = resolve_path(data_dir)
    if not data_path.is_dir():
        raise RunInputError(f"data folder {data_path} does not exist")
    settings = load_settings(config_path)
    # Validates the exports and builds their aggregates once, before any kernel starts: the
    # kernels then read the stored sums side by side instead of each loading the lines.
    agg = aggregates.load(data_path, settings.as_dict())
    data = load_data(data_path, settings.as_dict(), skip=LINE_TABLES)
    # The notebooks would reject a month outside the data one by one; refuse it once, up front.
    month = str(resolve_month(month, agg.date_span))
    try:
        plan = resolve_plan(
            int(month[:4]),
            data_path,
            requested=plan_version,
            supplied=data.targets,
            supplied_files=data.sources,
            revision_flag_share=settings.targets.revision_flag_share,
            reference=PlanReference.from_data(data),
        )
    except TargetVersionError as exc:
        raise RunInputError(f"--plan: {exc}" if plan_version else str(exc)) from None
    sources = json.loads(data.sources.to_json(orient="records", date_format="iso", default_handler=str))
    del data  # the notebooks load their own copy; keep the runner's memory small
    return run_notebooks(
        month,
        pack,
        parameters={
            "month": month,
            "data_dir": str(data_dir),
            "config_path": str(config_path),
            "plan_version": plan_version,
        },
        user_parameters=parameters,
        reports_dir=resolve_path(reports_dir) if reports_dir else None,
        sources=sources,
        plan=plan_record(plan, month),
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        pack=[entry.path for entry in full_pack],
        strict=strict,
    )
