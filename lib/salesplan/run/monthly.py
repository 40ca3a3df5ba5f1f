"""The monthly run as a page of named steps.

:func:`run_month`: load the pack, open the month (month and plan in force settled once, by
:func:`salesplan.workbook.open_workbook`), then :func:`run_notebooks`: check the run, and
under the month's lock build the report aside, execute the notebooks into it, record the run
(``run.json``) and publish it (index pages, swap into ``reports/YYYY-MM/``).

Safety: the report is built in ``reports/.tmp-YYYY-MM-<pid>`` and swapped in only when every
notebook succeeded, so a failed or killed run never damages the previous report of that
month; a failed run is kept in ``reports/YYYY-MM.failed/``. One run per month at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from salesplan.config import PROJECT_ROOT, resolve_path
from salesplan.month import Month, MonthError
from salesplan.run import ahead
from salesplan.run.carry import _is_hidden, _snapshot, carry_over
from salesplan.run.errors import NotebookFailedError, RunInputError, RunInterrupted
from salesplan.run.execute import (
    SOCKETS_PREFIX,
    Job,
    _descendants,
    _first_line,
    _signals_held,
    _stop_processes,
    _sweep_kernel_sockets,
    check_kernel,
    describe_error,
    execute_jobs,
)
from salesplan.run.folders import _keep_failed, _recover, _swap_in, report_months, run_lock
from salesplan.run.pack import (
    PackEntry,
    check_user_parameters,
    dependencies,
    load_pack,
    notebook_parameters,
    select_notebooks,
)
from salesplan.run.pages import (
    PathScrubber,
    active_content,
    display_path,
    export_html,
    notebook_title,
    read_headlines,
    stderr_outputs,
    write_month_index,
    write_reports_index,
)
from salesplan.run.provenance import (
    add_what_if_note,
    check_templates,
    edited_cells,
    parameter_values,
    plan_record,
    refuse_template_changes,
    run_record,
    template_changes,
    what_if_note,
)
from salesplan.run.results import NotebookResult, RunResult

if TYPE_CHECKING:
    from salesplan.workbook import MonthContext


def check_month(month: str) -> str:
    """Return ``month`` if it is a ``YYYY-MM`` month (:meth:`Month.parse`), else raise :class:`RunInputError`."""
    try:
        return str(Month.parse(month))
    except MonthError as exc:
        raise RunInputError(str(exc)) from None


# --------------------------------------------------------------------------- the run's state


@dataclass
class MonthRun:
    """One run in progress: what it runs, with which values, and where it builds the report."""

    month: str
    notebooks: list[tuple[PackEntry, NotebookResult]]
    declared: dict[str, dict[str, dict[str, Any]]]
    """Notebook -> the parameters its parameters cell declares (:func:`notebook_parameters`)."""
    parameters: dict[str, Any]
    user: dict[str, Any]
    changes: dict[str, list[str]]
    reports: Path
    keep: list[str] | None
    say: Callable[[str], None]
    started: str
    clock: float
    build: Path = Path()
    scrub: PathScrubber = field(default_factory=PathScrubber)
    failures: list[NotebookResult] = field(default_factory=list)
    running: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Notebook -> the build folder's files at its start (to tell which files it wrote)."""
    children: dict[int, float] = field(default_factory=dict)
    """This process's children before the notebooks started: what a stop leaves alone."""

    @property
    def final(self) -> Path:
        return self.reports / self.month

    @property
    def results(self) -> list[NotebookResult]:
        return [result for _entry, result in self.notebooks]

    @property
    def own_files(self) -> set[str]:
        """The files the run writes itself (pages, run.json, index), not counted as a notebook's."""
        pages = {f"{entry.name}.{ext}" for entry, _result in self.notebooks for ext in ("ipynb", "html")}
        return pages | {"run.json", "index.html"}


# --------------------------------------------------------------------------- the entry points


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
    """Load the pack, open the month (data validated, month and plan in force settled once),
    then run the pack's notebooks and publish ``reports/YYYY-MM/`` (:func:`run_notebooks`).

    ``month``: "YYYY-MM" (default: the latest complete month in the orders); ``only``: the
    notebooks to run (:func:`select_notebooks`), the other pages carried over; ``plan_version``:
    an explicitly requested plan version (``--plan vN``), which must exist; ``parameters``:
    values for the notebooks that declare them (``-p``/``-f``); ``strict``: refuse notebooks
    whose saved parameter defaults or code differ from the pack's, before the data is even read.
    Relative paths are taken from the project root. Raises ``DataValidationError`` (nothing in
    ``reports_dir`` touched), ``ConfigError``, ``WorkbookError`` (a month outside the data),
    :class:`RunInputError`, :class:`LockError` or :class:`NotebookFailedError`.
    """
    if month is not None:
        check_month(month)
    full_pack, pack = load_chosen_pack(notebooks_dir, only, strict=strict)
    settled = open_month(month, data_dir, config_path, plan_version)
    return run_notebooks(
        settled.month,
        pack,
        parameters={
            "month": settled.month,
            "data_dir": str(data_dir),
            "config_path": str(config_path),
            "plan_version": plan_version,
        },
        user_parameters=parameters,
        reports_dir=resolve_path(reports_dir) if reports_dir else None,
        sources=settled.inputs,
        plan=settled.plan,
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        pack=[entry.path for entry in full_pack],
        strict=strict,
    )


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

    ``parameters``: the run's values (``month``, ``data_dir``, ``config_path``,
    ``plan_version``); ``user_parameters``: those given with ``-p``/``-f`` (a name no notebook
    declares is refused). Each notebook receives the values its parameters cell declares; one
    that declares ``output_dir`` receives the report folder being built, and the files it writes
    there are published with the report, recorded per notebook in run.json and linked from the
    index. ``jobs > 1`` runs up to that many notebooks at once, each after the earlier notebooks
    that write something it reads (:func:`dependencies`). ``plan``: the plan in force
    (:func:`plan_record`), recorded in run.json and on the index.

    The run adds or replaces the pages of the notebooks it ran; the other pages of the month's
    published report (of notebooks in ``pack``, the declared pack; None: all) are carried over
    (:func:`carry_over`). Published files hold no absolute machine path (:class:`PathScrubber`).
    run.json records every parameter's effective value and source (:func:`parameter_values`),
    a page run with a what-if value states it (:func:`what_if_note`), and notebooks whose saved
    defaults or code differ from the pack's are named; with ``strict`` the run refuses them
    (exit 2) before anything runs. The notebooks run on the project's kernel (:func:`check_kernel`).

    Raises :class:`LockError` when the month is busy, :class:`NotebookFailedError` (after
    keeping the build in ``YYYY-MM.failed/``) when a notebook fails and :class:`RunInterrupted`
    on SIGINT/SIGTERM (kernels stopped, the build removed); the previous report of the month is
    then untouched.
    """
    run = prepare_run(month, notebooks, parameters, user_parameters, reports_dir, pack, progress, jobs, strict)
    with run_lock(run.reports, run.month):
        open_build(run)
        execute_notebooks(run, jobs=jobs, timeout=timeout, cwd=cwd)
        try:
            published = collect_pages(run)
            record = record_run(run, published, sources=sources, plan=plan, jobs=jobs, cwd=cwd)
            refuse_failed_run(run)
            index = write_indexes(run, record)
        except KeyboardInterrupt as exc:
            raise interrupted(run, exc, "while finishing the report") from None
        publish(run)
    return RunResult(
        month=run.month,
        report_dir=run.final,
        index=run.final / index.name,
        notebooks=published,
        duration_s=record["duration_s"],
    )


# --------------------------------------------------------------------------- the steps


def load_chosen_pack(
    notebooks_dir: str | os.PathLike[str] | None, only: str | Sequence[str] | None, *, strict: bool
) -> tuple[list[PackEntry], list[PackEntry]]:
    """The declared pack and the part of it this run executes (``only``); with ``strict``,
    refuse notebooks that differ from the pack's defaults or their committed code."""
    full_pack = load_pack(resolve_path(notebooks_dir) if notebooks_dir else None)
    chosen = set(select_notebooks([e.path for e in full_pack], only))
    pack = [e for e in full_pack if e.path in chosen]
    if strict:
        refuse_template_changes(check_templates(pack))
    return full_pack, pack


@dataclass(frozen=True)
class SettledMonth:
    """What the run takes from the month context: the report month ("YYYY-MM"), the input files
    (:func:`input_files`) and the plan in force as run.json records it (:func:`plan_record`)."""

    month: str
    inputs: list[dict[str, Any]]
    plan: dict[str, Any]


def open_month(
    month: str | None,
    data_dir: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    plan_version: str | None,
) -> SettledMonth:
    """Open the month context the pages open (:func:`salesplan.workbook.open_workbook`): the
    data validated and aggregated once before any kernel starts (the kernels then read the
    stored sums side by side), the report month settled (a month outside the data is refused
    once, up front) and the plan in force resolved (a requested version that does not exist is
    a :class:`RunInputError` naming ``--plan``). Only what the run records is kept: the
    notebooks open their own context, and the run's memory stays small."""
    from salesplan.targets import TargetVersionError
    from salesplan.workbook import open_workbook

    data_path = resolve_path(data_dir)
    if not data_path.is_dir():
        raise RunInputError(f"data folder {data_path} does not exist")
    try:
        context = open_workbook(month, data_path, config_path, plan_version)
        plan = context.plan
    except TargetVersionError as exc:
        raise RunInputError(f"--plan: {exc}" if plan_version else str(exc)) from None
    settled = str(context.month)
    return SettledMonth(settled, input_files(context), plan_record(plan, settled))


def input_files(context: MonthContext) -> list[dict[str, Any]]:
    """The input files of the month's data (name, table, size, SHA-256, ...) as run.json records them."""
    sources = context.export.sources if context.export is not None else context.data.sources
    return json.loads(sources.to_json(orient="records", date_format="iso", default_handler=str))


def prepare_run(
    month: str,
    notebooks: Sequence[Path | PackEntry],
    parameters: Mapping[str, Any],
    user_parameters: Mapping[str, Any] | None,
    reports_dir: str | os.PathLike[str] | None,
    pack: Sequence[Path | PackEntry] | None,
    progress: Callable[[str], None] | None,
    jobs: int,
    strict: bool,
) -> MonthRun:
    """Check everything that can be checked before the lock: the month, ``jobs``, the
    notebooks and the parameters they declare, the user's parameters (:func:`check_user_parameters`),
    the template changes (refused with ``strict``) and the kernel. Nothing is written."""
    month = check_month(month)
    if jobs < 1:
        raise RunInputError(f"--jobs must be at least 1, got {jobs}")
    if not notebooks:
        raise RunInputError("no notebooks to run (expected files named NN_name.ipynb)")
    entries = [nb if isinstance(nb, PackEntry) else PackEntry(Path(nb)) for nb in notebooks]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    declared = {entry.name: notebook_parameters(entry.path) for entry in entries}
    user = dict(user_parameters or {})
    check_user_parameters(user, {name: list(info) for name, info in declared.items()})
    changes = {
        entry.name: [*template_changes(entry, declared[entry.name]), *edited_cells(entry.path)] for entry in entries
    }
    if strict:
        refuse_template_changes({name: found for name, found in changes.items() if found})
    check_kernel()
    chosen = []
    for entry in entries:
        try:
            nb = nbformat.read(entry.path, as_version=4)
        except Exception as exc:  # nbformat raises several types for damaged files
            raise RunInputError(f"{entry.path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
        passed = {k: v for k, v in {**parameters, **user}.items() if k in declared[entry.name] and v is not None}
        chosen.append(
            (
                entry,
                NotebookResult(
                    name=entry.name,
                    status="not_run",
                    title=notebook_title(nb, entry.name),
                    parameters=passed,
                    run_started=started,
                ),
            )
        )
    return MonthRun(
        month=month,
        notebooks=chosen,
        declared=declared,
        parameters=dict(parameters),
        user=user,
        changes=changes,
        reports=Path(reports_dir) if reports_dir is not None else PROJECT_ROOT / "reports",
        keep=None if pack is None else [e.stem if isinstance(e, Path) else e.name for e in pack],
        say=progress or (lambda _line: None),
        started=started,
        clock=clock,
    )


def open_build(run: MonthRun) -> None:
    """Under the lock: clean up after a killed run, make the build folder, settle what published
    files show instead of this machine's paths, and each notebook's parameter values."""
    found = _recover(run.reports, run.month) + _sweep_kernel_sockets()
    if found:
        run.say(f"Found the remains of an interrupted run of {run.month} ({'; '.join(found)}); cleaned up.")
    run.build = run.reports / f".tmp-{run.month}-{os.getpid()}"
    run.build.mkdir(parents=True)
    # The build folder becomes the month folder it is swapped into; other absolute parameter
    # values their short form.
    known: dict[str, str] = {str(run.build): display_path(run.final), str(run.reports): display_path(run.reports)}
    for value in {**run.parameters, **run.user}.values():
        if isinstance(value, str | os.PathLike) and Path(value).is_absolute():
            known[str(value)] = display_path(value)
    for entry, _result in run.notebooks:
        known[str(entry.path.parent)] = display_path(entry.path.parent)
    run.scrub = PathScrubber(known)
    for entry, result in run.notebooks:
        if "output_dir" in run.declared[entry.name]:
            result.parameters["output_dir"] = str(run.build)
        result.parameter_values = parameter_values(entry, run.declared[entry.name], result.parameters, run.user)
        result.template_changes = run.changes[entry.name]
        if result.template_changes:
            run.say(
                f"      {entry.name}: differs from the pack's declared defaults "
                f"({'; '.join(result.template_changes)}); `salesplan run --strict` refuses this"
            )


def execute_notebooks(run: MonthRun, *, jobs: int, timeout: float | None, cwd: Path) -> None:
    """Execute the notebooks into the build folder (:func:`execute_jobs`), turning each into its
    page as it ends (:func:`finish_page`). A stop signal removes the build and raises
    :class:`RunInterrupted`; anything else unexpected keeps the build in ``YYYY-MM.failed/``."""
    run.say(f"Running {len(run.notebooks)} notebook(s) for {run.month} -> {run.final}")
    entries = {entry.name: (entry, result) for entry, result in run.notebooks}
    run.children = _descendants()
    # One folder for the run's kernel sockets, removed however the run ends (a worker stopped
    # by a signal could not clean up after its kernel).
    sockets = tempfile.mkdtemp(prefix=f"{SOCKETS_PREFIX}{os.getpid()}-")
    work = [
        Job(
            entry.name,
            str(entry.path),
            str(run.build / f"{entry.name}.ipynb"),
            result.parameters,
            str(cwd),
            timeout,
            os.path.join(sockets, entry.name),
            entry.preload,
        )
        for entry, result in run.notebooks
    ]

    def started(name: str) -> None:
        run.running[name] = _snapshot(run.build, run.own_files)

    # Each page is built (scrubbed, exported, scanned) on one thread while the next notebook
    # runs: the kernel works on another core, and the run's own process mostly waits for it.
    builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page")
    pages: list[Future[None]] = []

    def finished(name: str, outcome: dict[str, Any]) -> bool:
        entry, result = entries[name]
        record_outcome(run, entry, result, outcome)
        if result.status == "failed":
            say_outcome(run, result)
        else:
            pages.append(builder.submit(finish_page, run, entry, result))
        return not run.failures

    # The forecast's series fitted on the core one notebook at a time leaves idle
    # (salesplan.run.ahead); side by side, the pages use the cores themselves.
    forecast_page = next((result for entry, result in run.notebooks if "forecast" in entry.writes), None)
    fitting = None if forecast_page is None or jobs > 1 else ahead.start(forecast_page.parameters, cwd)
    try:
        execute_jobs(
            work,
            dependencies([entry for entry, _result in run.notebooks]),
            workers=jobs,
            on_start=started,
            on_finish=finished,
        )
        for page in pages:
            page.result()  # a page that could not be built stops the run as before
    except KeyboardInterrupt as exc:
        raise interrupted(run, exc, "while running " + (", ".join(run.running) or "no notebook")) from None
    except BaseException:
        # Broken beyond one notebook (a bug, out of memory): stop the kernels, keep what was
        # built for a look, then stop.
        with _signals_held():
            _stop_processes(run.children)
            failed_dir = _keep_failed(run.build, run.month)
        run.say(f"Run stopped; partial results kept in {failed_dir}")
        raise
    finally:
        with _signals_held():
            builder.shutdown(wait=True, cancel_futures=True)
        ahead.stop(fitting)
        shutil.rmtree(sockets, ignore_errors=True)


def record_outcome(run: MonthRun, entry: PackEntry, result: NotebookResult, outcome: Mapping[str, Any]) -> None:
    """Record one executed notebook as it ends: start, duration, the files it wrote, and
    ``ok`` or ``failed`` (its page is built next, :func:`finish_page`)."""
    before = run.running.pop(entry.name, {})
    result.started = outcome["started"]
    result.duration_s = outcome["duration_s"]
    result.ipynb = f"{entry.name}.ipynb"
    # Files new or changed while the notebook ran. Side by side (--jobs) a file written during
    # overlapping runs is recorded for each of them: carrying one too many is harmless, as a
    # file the run wrote itself is never replaced by a carried copy.
    now = _snapshot(run.build, run.own_files)
    result.files = sorted(rel for rel, stamp in now.items() if before.get(rel) != stamp)
    if outcome["error"] is None:
        result.status = "ok"
    else:
        result.status = "failed"
        result.error = dict(outcome["error"])
        run.failures.append(result)


def finish_page(run: MonthRun, entry: PackEntry, result: NotebookResult) -> None:
    """The page of a notebook that ran to its end (paths scrubbed, what-if note, HTML,
    headlines, stderr kept out of the page). A page with active content
    (:func:`active_content`) fails the notebook rather than being published."""
    if result.status == "ok":
        executed = nbformat.read(run.build / result.ipynb, as_version=4)
        run.scrub.notebook(
            executed, input_path=display_path(entry.path), output_path=f"{display_path(run.final)}/{result.ipynb}"
        )
        add_what_if_note(executed, what_if_note(result.parameter_values))
        nbformat.write(executed, run.build / result.ipynb)
        result.html = f"{entry.name}.html"
        export_html(executed, run.build / result.html, result.title)
        result.headlines = read_headlines(executed)
        result.warnings = [{**w, "text": w["text"][:2000]} for w in stderr_outputs(executed)]
        unsafe = active_content((run.build / result.html).read_text(encoding="utf-8"))
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
            run.failures.append(result)
    say_outcome(run, result)


def say_outcome(run: MonthRun, result: NotebookResult) -> None:
    """The progress line of a finished notebook, and its stderr outputs' first line."""
    done = sum(r.status != "not_run" for r in run.results)
    run.say(f"[{done}/{len(run.notebooks)}] {result.name:<28} {result.status:<6} {result.duration_s:6.1f} s")
    if result.warnings:
        first = _first_line(result.warnings[0]["text"])
        run.say(
            f"      {result.name}: {len(result.warnings)} stderr output(s), kept out of the page "
            f"(see the .ipynb): {first[:160]}"
        )


def collect_pages(run: MonthRun) -> list[NotebookResult]:
    """The pages the report publishes, in the pack's order: this run's, and when every notebook
    succeeded the other pages of the published report carried over (:func:`carry_over`)."""
    carried: list[NotebookResult] = []
    if not run.failures:
        carried = carry_over(run.final, run.build, {r.name for r in run.results}, run.keep)
        for result in carried:
            run.say(f"      {result.name}: page kept from the run of {_when(result.from_run)}")
    order = {name: i for i, name in enumerate(run.keep or [])}
    return sorted([*run.results, *carried], key=lambda r: (order.get(r.name, len(order)), r.name))


def record_run(
    run: MonthRun,
    published: Sequence[NotebookResult],
    *,
    sources: list[dict[str, Any]] | None,
    plan: Mapping[str, Any] | None,
    jobs: int,
    cwd: Path,
) -> dict[str, Any]:
    """Write ``run.json`` into the build folder (:func:`run_record`, machine paths scrubbed) and return it."""
    record = run_record(
        month=run.month,
        status="failed" if run.failures else "ok",
        started=run.started,
        duration_s=round(time.perf_counter() - run.clock, 2),
        parameters={**run.parameters, **run.user},
        jobs=jobs,
        plan=plan,
        template_changes={r.name: r.template_changes for r in run.results if r.template_changes},
        sources=sources,
        notebooks=[asdict(r) for r in published],
        cwd=cwd,
    )
    record = run.scrub.value(record)
    (run.build / "run.json").write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return record


def refuse_failed_run(run: MonthRun) -> None:
    """When a notebook failed: keep the build in ``YYYY-MM.failed/`` and raise
    :class:`NotebookFailedError` naming the first failed notebook (in pack order), its cell and
    error, and the notebooks not run."""
    failure = next((r for r in run.results if any(r is f for f in run.failures)), None)
    if failure is None:
        return
    failed_dir = _keep_failed(run.build, run.month)
    message = describe_error(f"{failure.name}.ipynb", failure.error or {})
    message += f"\nThe executed notebook is kept in {failed_dir / (failure.name + '.ipynb')}"
    not_run = [r.name for r in run.results if r.status == "not_run"]
    if not_run:
        message += f"\nNot run: {', '.join(not_run)}"
    message += f"\nThe previous report in {run.final} (if any) is unchanged."
    raise NotebookFailedError(message, notebook=failure.name, failed_dir=failed_dir)


def write_indexes(run: MonthRun, record: Mapping[str, Any]) -> Path:
    """Write the month's ``index.html`` into the build folder: headlines, pages, the files the
    notebooks wrote and links to the other months' reports."""
    others = [m for m in report_months(run.reports) if m != run.month]
    pages = {f for n in record["notebooks"] for f in (n.get("html"), n.get("ipynb")) if f}
    mine = {"run.json", "index.html"} | pages
    extra_files = sorted(
        p.name for p in run.build.iterdir() if p.is_file() and p.name not in mine and not _is_hidden(p.name)
    )
    notebooks = [NotebookResult(**n) for n in record["notebooks"]]
    return write_month_index(run.build, record, notebooks, others, extra_files)


def publish(run: MonthRun) -> None:
    """Swap the build in as ``reports/YYYY-MM/`` and rewrite the reports index. Two renames
    that a stop must not cut in half: signals wait, and one received meanwhile is raised after."""
    with _signals_held() as received:
        _swap_in(run.build, run.final)
        stale_failed = run.reports / f"{run.month}.failed"
        if stale_failed.exists():
            shutil.rmtree(stale_failed, ignore_errors=True)
        write_reports_index(run.reports)
    if received:
        raise RunInterrupted(
            received[0],
            f"stopped by {signal.Signals(received[0]).name} just after publishing: "
            f"the report {display_path(run.final)} is complete and in place.",
        )


def interrupted(run: MonthRun, exc: KeyboardInterrupt, doing: str) -> RunInterrupted:
    """Clean up after SIGINT/SIGTERM (the run's kernels and workers stopped, the build removed)
    and say what was stopped."""
    signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
    with _signals_held():  # a second Ctrl-C must not cut the clean-up short
        # papermill may already have shut its kernel down on the way out; whatever is left of
        # this run (kernels, pool workers) is stopped here.
        _stop_processes(run.children)
        shutil.rmtree(run.build, ignore_errors=True)
    published = (
        f"the published report {display_path(run.final)} is untouched"
        if (run.final / "index.html").exists()
        else f"no report of {run.month} was published before, and none is now"
    )
    return RunInterrupted(
        signum,
        f"stopped by {signal.Signals(signum).name} {doing}: its kernel(s) stopped, the half-built "
        f"report removed, the lock released; {published}.",
    )


def _when(stamp: str | None) -> str:
    """``2026-12-01T15:04:09+00:00`` as ``2026-12-01 15:04 UTC`` (as the index shows it)."""
    return f"{stamp[:16].replace('T', ' ')} UTC" if stamp else "an earlier run"
