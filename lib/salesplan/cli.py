"""The ``salesplan`` command line: sample, validate, run, forecast, targets, lab.

Exit codes: 0 success; 1 a notebook failed; 2 bad input (arguments, configuration or
data: the problem is printed, never a traceback); 3 another run of the same month holds
the lock. Relative paths are taken from the project root (``salesplan.config.PROJECT_ROOT``),
like everywhere else in salesplan, so the command behaves the same from any folder.
Each command imports its part of the library only when it runs, so one unfinished or
broken module cannot take the other commands down.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED = 0, 1, 2, 3
SHOWN_PROBLEMS = 50  # rows of the data-problem table printed; the rest go to a CSV


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a hint, and no usage dump after the error line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _say(line: str) -> None:
    print(line, flush=True)


# --------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from salesplan.config import load_settings, resolve_path
    from salesplan.io import load_data
    from salesplan.workbook import MonthContext, resolve_month

    data_dir = resolve_path(args.data)
    if not data_dir.is_dir():
        raise _InputError(f"data folder {data_dir} does not exist (run `salesplan sample` to create the sample data)")
    settings = load_settings(args.config)
    data = load_data(data_dir, settings)
    month = resolve_month(None, data.orders)
    # The workbook's summary is the one definition of "rows and date coverage per table".
    book = MonthContext(
        settings=settings,
        data=data,
        cube=pd.DataFrame(),
        month=month,
        data_dir=data_dir,
        as_of=pd.Timestamp(data.orders["order_date"].max()),
    )
    _say(f"Data in {data_dir}: valid.\n")
    summary = book.summary()
    for column in ("first_date", "last_date"):
        summary[column] = summary[column].dt.strftime("%Y-%m-%d").fillna("")
    _say(summary.to_string(index=False))
    warnings = getattr(data, "warnings", None)
    if isinstance(warnings, pd.DataFrame) and not warnings.empty:
        _say(f"\n{len(warnings)} warning(s) (data accepted):")
        _say(warnings.head(50).to_string(index=False))
        if len(warnings) > 50:
            _say(f"... and {len(warnings) - 50} more")
    _say(f"\nLatest complete month: {month}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    # jsonschema (under nbformat) builds a grammar for its "iri" format at import when the
    # optional rfc3987_syntax is installed: about 2 s of every run. No notebook schema field has
    # that format, so this process goes without it (the kernels and the library are untouched).
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from salesplan.run import run_month, stop_signals

    parameters = _run_parameters(args)
    # SIGINT (Ctrl-C) and SIGTERM (kill, a scheduler's timeout) stop the run cleanly: kernels
    # stopped, the half-built folder removed, the lock released (main prints what was stopped).
    with stop_signals():
        result = run_month(
            args.month,
            data_dir=args.data,
            config_path=args.config,
            only=args.only,
            notebooks_dir=args.notebooks,
            reports_dir=args.reports,
            plan_version=args.plan,
            parameters=parameters,
            jobs=args.jobs,
            timeout=args.timeout,
            progress=_say,
            strict=args.strict,
        )
    _say(f"Done in {result.duration_s:.1f} s. Report index:")
    _say(str(result.index.resolve()))
    return EXIT_OK


def _run_parameters(args: argparse.Namespace) -> dict[str, object]:
    """Notebook parameters from ``-f FILE`` (YAML mapping) then ``-p NAME VALUE`` (later wins)."""
    import yaml

    from salesplan.config import resolve_path
    from salesplan.run import parse_parameter

    values: dict[str, object] = {}
    for name in args.parameters_file or []:
        path = resolve_path(name)
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise _InputError(f"-f {name}: cannot read {path} ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise _InputError(f"-f {name}: not valid YAML ({exc})") from None
        if not isinstance(content, dict):
            raise _InputError(f"-f {name}: expected a mapping of parameter names to values")
        values.update({str(k): v for k, v in content.items()})
    for name, value in args.parameter or []:
        values[name] = parse_parameter(value)
    return values


LAB_HIDDEN = ("solutions",)
"""Folders left out of JupyterLab's file browser (by name): the workshop's facilitator copies."""


def lab_arguments(uid: int | None = None, folder: str | None = None) -> list[str]:
    """JupyterLab's options for the project: rooted at the project (notebooks, reports, data and
    config in reach), opening on ``notebooks/`` or on ``folder`` (a folder inside the project, e.g. a
    workshop team's ``trainees/team-a``; refused outside it), new notebooks on the project's kernel, the
    workshop solutions out of the file browser (still open by path) besides Jupyter's own hidden
    names, notebooks saved without live widget state (:func:`salesplan.lab.strip_live_state`),
    and ``--allow-root`` only when running as root (``uid`` 0; default: this process's)."""
    from jupyter_server.services.contents.manager import ContentsManager

    from salesplan.config import PROJECT_ROOT
    from salesplan.run import KERNEL_NAME

    opens = "notebooks"
    if folder is not None:
        from urllib.parse import quote

        from salesplan.workshop.kit import lab_folder

        opens = quote(lab_folder(folder))
    hidden = [*ContentsManager.class_traits()["hide_globs"].default(), *LAB_HIDDEN]
    args = [
        f"--ServerApp.root_dir={PROJECT_ROOT}",
        f"--LabApp.default_url=/lab/tree/{opens}",
        f"--MultiKernelManager.default_kernel_name={KERNEL_NAME}",
        *(f"--ContentsManager.hide_globs={glob}" for glob in hidden),
        # Saved without live widget state: autosave never dirties a tracked notebook with it.
        "--ContentsManager.pre_save_hook=salesplan.lab.strip_live_state",
    ]
    if (os.geteuid() if uid is None else uid) == 0:
        args.append("--allow-root")
    return args


def cmd_lab(args: argparse.Namespace) -> int:
    from salesplan.run import KERNEL_NAME, register_kernel

    if args.folder is not None:
        from salesplan.workshop.kit import lab_folder

        lab_folder(args.folder)  # a bad --folder is refused before anything is registered
    for place in register_kernel():
        _say(f"kernel {KERNEL_NAME} registered in {place}")
    if args.register_only:
        return EXIT_OK  # the kernel is all the monthly job needs: JupyterLab (the lab extra) is not
    try:
        options = lab_arguments(folder=args.folder)
    except ModuleNotFoundError as exc:
        _say(f"JupyterLab is not installed ({exc.name}): install it with pip install -e '.[lab]' (or make lab)")
        return EXIT_INPUT
    extra = [a for a in args.lab_args if a != "--"]
    command = [sys.executable, "-m", "jupyterlab", *options, *extra]
    sys.stdout.flush()
    os.execv(sys.executable, command)  # JupyterLab takes over the terminal (Ctrl-C stops it)
    return EXIT_OK  # not reached


def cmd_sample(args: argparse.Namespace) -> int:
    from salesplan.config import resolve_path
    from salesplan.sample import write_sample

    out = resolve_path(args.out)
    options = {"seed": args.seed, "scale": args.scale, "as_of": args.as_of, "fmt": args.format}
    written = write_sample(out, **{k: v for k, v in options.items() if v is not None})
    _say(f"Sample data written to {out}")
    if isinstance(written, dict):
        written = list(written.values())
    if isinstance(written, list | tuple):
        for path in written:
            _say(f"  {Path(str(path)).name}")
    return EXIT_OK


def cmd_forecast(args: argparse.Namespace) -> int:
    """Forecast a file of series. What the command line leaves out comes from the settings of
    ``--config``: the interval levels and season length (``forecast``), the engine and its
    address (``engine``; an ``--engine`` given on the command line brings its own ``--address``)."""
    from salesplan.config import load_settings, resolve_path
    from salesplan.forecast import forecast_file_on

    settings = load_settings(args.config)
    source = resolve_path(args.input)
    if not source.is_file():
        raise _InputError(f"--input: file {source} does not exist")
    levels = args.levels if args.levels is not None else list(settings.forecast.levels)
    engine = args.engine if args.engine is not None else settings.engine.forecast
    address = args.address if args.engine is not None or args.address else settings.engine.address
    if engine in ("spark", "ray") and not address:
        raise _InputError(f"--engine {engine} needs --address (the cluster to run on)")
    if address and engine == "local":
        raise _InputError("--address needs --engine dask, spark or ray")
    out = resolve_path(args.out)
    forecast_file_on(
        source,
        horizon=args.horizon,
        levels=levels,
        out_path=out,
        engine=engine,
        address=address,
        season_length=settings.forecast.season_length,
    )
    where = "" if engine == "local" else f" on {engine}" + (f" at {address}" if address else "")
    _say(f"Forecast ({args.horizon} periods, levels {', '.join(map(str, levels))}){where} written to {out}")
    return EXIT_OK


def _plan_inputs(data_dir: Path, config_path: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None, object]:
    """What plans are checked and resolved with, from the data folder loaded once: the targets
    table supplied with the data, its source files and the :class:`PlanReference` (regions,
    product lines, reps); all None when the folder does not exist."""
    from salesplan.config import load_settings
    from salesplan.io import LINE_TABLES, load_data
    from salesplan.targets.versions import PlanReference

    if not data_dir.is_dir():
        return None, None, None
    data = load_data(data_dir, load_settings(config_path), skip=LINE_TABLES)
    return data.targets, data.sources, PlanReference.from_data(data)


def cmd_targets(args: argparse.Namespace) -> int:
    from salesplan import plans, targets
    from salesplan.config import resolve_path

    data_dir = resolve_path(args.data)
    folder = plans.plan_folder(data_dir)
    if args.action == "approve":
        return _approve(args, data_dir, folder)
    versions = targets.list_versions(folder)
    supplied, sources, reference = _plan_inputs(data_dir, args.config)
    years = sorted(
        set(versions["year"].astype(int))
        | (set() if supplied is None else set(pd.to_numeric(supplied["year"]).astype(int)))
    )
    if args.year is not None:
        years = [int(args.year)]
        versions = versions[versions["year"] == int(args.year)]
    _say(f"Plans for the data in {data_dir} (saved in {folder})\n")
    _say("Saved versions:")
    _say(
        versions.drop(columns="sha256").to_string(index=False)
        if len(versions)
        else "  none (drafts are saved by notebooks/02_targets)"
    )
    log = pd.DataFrame([a.__dict__ for a in targets.read_approvals(folder)])
    if args.year is not None and len(log):
        log = log[log["year"] == int(args.year)]
    if len(log):
        restated = log["restated_months"].map(", ".join)
        log = log.drop(columns=["restate", "restated_months"]).assign(restates=restated.where(restated != "", "-"))
    _say("\nApprovals (oldest first):")
    _say(log.drop(columns="sha256").to_string(index=False) if len(log) else "  none")
    _say("\nIn force, by month:")
    # Year by year: a year whose plan cannot be settled is named with its problem, the others still listed.
    parts, failed = [], []
    for year in years:
        try:
            parts.append(
                plans.plans_overview(data_dir, [year], supplied=supplied, supplied_files=sources, reference=reference)
            )
        except Exception as exc:
            if not _is_input_error(exc):
                raise
            failed.append((year, exc))
    overview = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    _say(overview.drop(columns=["sha256"]).to_string(index=False) if len(overview) else "  no plan for any year")
    for year, exc in failed:
        _err(f"\nsalesplan targets: the plan in force for {year} cannot be settled:\n{_format_data_error(exc)}")
    return EXIT_INPUT if failed else EXIT_OK


def _approve(args: argparse.Namespace, data_dir: Path, folder: Path) -> int:
    """``targets approve``: check the data, the log and the plan, then record the approval (all or nothing)."""
    from salesplan import plans, targets
    from salesplan.config import load_settings, resolve_path
    from salesplan.retro.restatement import closed_months

    if args.year is None or args.version is None or not args.by:
        raise _InputError(
            "targets approve needs --year, --version and --by (who approves), e.g. "
            + plans.approve_command(2027, "v1", args.data)
        )
    if not data_dir.is_dir():
        raise _InputError(
            f"--data: data folder {data_dir} does not exist; a plan is checked against the data's regions, "
            "product lines and reps before it is approved. Nothing was written."
        )
    settings = load_settings(args.config)
    # Loaded before anything is written: a data problem stops the approval, not the report after it.
    supplied, sources, reference = _plan_inputs(data_dir, args.config)
    # Closed months: those whose retrospective is published in the reports folder; an approval
    # that would change them is refused (nothing written) unless it is a restatement.
    reports = resolve_path(args.reports)
    entry = targets.approve_version(
        args.year,
        args.version,
        folder,
        by=args.by,
        note=args.note or "",
        from_month=args.from_month,
        closed_months=closed_months(args.year, reports),
        restate=args.restate,
        closed_where=str(reports),
        reference=reference,
    )
    scope = "the whole year" if entry.from_month.endswith("-01") else f"{entry.from_month} onwards"
    _say(f"Approved {entry.version} of {entry.year} for {scope} by {entry.by} (sha256 {entry.sha256[:12]}).")
    if entry.restate:
        _say(
            f"Restates {', '.join(entry.restated_months)} (published): the next pack shows each rep's payout and "
            "attainment as published beside as restated, and the difference to settle."
        )
    elif args.restate:
        _say(f"Nothing to restate: no month of {entry.year} from {entry.from_month} on is closed in {reports}.")
    try:
        plan = plans.resolve_plan(
            entry.year,
            data_dir,
            supplied=supplied,
            supplied_files=sources,
            revision_flag_share=settings.targets.revision_flag_share,
            reference=reference,
        )
    except Exception as exc:
        if not _is_input_error(exc):
            raise
        # The approval is recorded: a failing exit code would invite approving it again.
        _err(
            f"salesplan targets: the approval is recorded (do not approve it again), but the plan in force "
            f"cannot be shown:\n{_format_data_error(exc)}"
        )
        return EXIT_OK
    _say(plan.describe())
    mine = plan.revisions[
        (plan.revisions["version"] == entry.version) & (plan.revisions["approved_at"] == entry.approved_at)
    ]
    for row in mine[mine["flagged"]].itertuples():
        _say(
            f"Flagged: {row.quarter} moves {row.change * 100:+.1f} % ({row.before:,.0f} -> {row.after:,.0f}), more "
            f"than the {settings.targets.revision_flag_share * 100:.0f} % a revision may move a quarter without "
            "an explicit exception."
        )
    return EXIT_OK


def cmd_workshop(args: argparse.Namespace) -> int:
    from salesplan.config import resolve_path

    if args.action == "copy":
        from salesplan.workshop.kit import copy_team

        written = copy_team(args.team, args.out, force=args.force, pack=args.pack)
        folder = written[0].parent
        _say(f"Team {args.team}: {len(written)} exercise notebook(s), outputs cleared, written to {folder}")
        if args.pack:
            _say("  with data/raw (the project's exports), config/ and reports/ of its own")
        return EXIT_OK
    if args.action == "score":
        from salesplan.workshop.kit import score_table, score_teams, write_scores

        _say(f"Running {len(args.folders)} team folder(s), one notebook at a time:")
        scores = score_teams(args.folders, timeout_s=args.timeout, progress=_say)
        _say("")
        _say(score_table(scores).to_string())
        _say("(passed/checks per exercise; ! a cell failed, T timed out: the checks before count)")
        path = write_scores(scores, args.csv)
        _say(f"Scores written to {path}")
        return EXIT_OK
    from salesplan.workshop.handouts import build_handouts

    out = resolve_path(args.out)
    written = build_handouts(out)
    _say(f"{len(written)} handout page(s) written to {out}:")
    for path in written:
        _say(f"  {path.name}")
    return EXIT_OK


class _InputError(ValueError):
    """A bad command-line value found after parsing (missing file, incomplete options)."""


# --------------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _month(text: str) -> str:
    from salesplan.month import Month, MonthError

    try:
        return str(Month.parse(text))
    except MonthError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _level(text: str) -> int:
    value = _positive_int(text)
    if value >= 100:
        raise argparse.ArgumentTypeError(f"interval level must be between 1 and 99 (percent), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``salesplan`` command (all sub-commands)."""
    parser = _Parser(
        prog="salesplan",
        description="Sales-planning workbook: sample data, data validation, the monthly notebook run, "
        "forecasts and target versions. Relative paths are taken from the project root.",
        epilog="Exit codes: 0 ok, 1 a notebook failed, 2 bad arguments/configuration/data, 3 month locked by another run.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data", default="data/raw", metavar="DIR", help="folder with the input exports (default: data/raw)"
        )
        p.add_argument(
            "--config",
            default="config/salesplan.yaml",
            metavar="FILE",
            help="YAML config: header mappings and overrides of the defaults (default: config/salesplan.yaml)",
        )

    p = sub.add_parser(
        "validate",
        help="load and validate the input data, print a summary",
        description="Load every table from the data folder, validate it against the data contract and print "
        "rows and date coverage per table, or the table of all problems found (exit 2).",
    )
    data_options(p)
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "run",
        help="run the monthly notebooks and publish reports/YYYY-MM/",
        description="Validate the data, then execute the numbered notebooks (notebooks/NN_*.ipynb) for one month "
        "and publish executed notebooks, HTML, index.html and run.json to reports/YYYY-MM/. The report is built "
        "aside and swapped in only if every notebook succeeds; a failed run is kept in reports/YYYY-MM.failed/.",
    )
    p.add_argument(
        "--month", type=_month, metavar="YYYY-MM", help="month to report (default: latest complete month in the data)"
    )
    data_options(p)
    p.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated notebook names or number prefixes to run, e.g. 00,04 or 00_data_check (default: all)",
    )
    p.add_argument("--reports", metavar="DIR", help="reports folder (default: reports)")
    p.add_argument("--notebooks", metavar="DIR", help="notebooks folder (default: notebooks)")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run up to N notebooks at once, each after the notebooks whose output it reads "
        "(notebooks/pack.yaml; default: 1, in the pack's order)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_int,
        metavar="SECONDS",
        help="time limit per notebook cell, whole seconds (default: none)",
    )
    p.add_argument(
        "--plan",
        metavar="VERSION",
        help="measure against this saved plan version (e.g. v2) instead of the plan in force",
    )
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a parameter for the notebooks that declare it (as papermill: True/False/None/numbers, else text)",
    )
    p.add_argument(
        "-f",
        "--parameters-file",
        dest="parameters_file",
        action="append",
        metavar="FILE",
        help="YAML file of notebook parameters (name: value); -p values win",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse (exit 2, before anything runs) notebooks whose saved parameter defaults differ from those "
        "notebooks/pack.yaml declares, e.g. a what-if scenario saved in 02_targets (for scheduled runs)",
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "lab",
        help="register the project's kernel and open JupyterLab on the project",
        description="Register the project's Jupyter kernel (salesplan, 'Python (salesplan)') in this environment "
        "and the user's Jupyter folder (where VS Code and a system Jupyter find it), then start JupyterLab rooted at "
        "the project (notebooks/, reports/, data/, config/ in reach) opening on notebooks/. The workshop's "
        "solutions/ folders are left out of the file browser; open notebooks/workshop/solutions/ by its path.",
    )
    p.add_argument("--register-only", action="store_true", help="register the kernel and exit")
    p.add_argument(
        "--folder",
        metavar="DIR",
        help="open on this folder inside the project instead of notebooks/, e.g. a workshop team's trainees/team-a",
    )
    p.add_argument("lab_args", nargs=argparse.REMAINDER, help="further JupyterLab options (after --)")
    p.set_defaults(handler=cmd_lab)

    p = sub.add_parser(
        "sample",
        help="write the deterministic sample company's exports",
        description="Write the sample company's exports (orders, products, customers, reps, pipeline, targets).",
    )
    p.add_argument("--seed", type=int, help="random seed (default: 7)")
    p.add_argument("--scale", type=_positive_float, help="size factor, 1.0 = default size (default: 1.0)")
    p.add_argument("--out", default="data/raw", metavar="DIR", help="output folder (default: data/raw)")
    p.add_argument("--as-of", dest="as_of", metavar="DATE", help="last day of data, YYYY-MM-DD (default: 2026-11-15)")
    p.add_argument("--format", choices=["csv", "parquet"], help="file format (default: csv)")
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser(
        "forecast",
        help="forecast the series in a file",
        description="Forecast long-format series (unique_id, ds, y) from a CSV or Parquet file and write point "
        "forecasts with prediction intervals.",
    )
    p.add_argument("--input", required=True, metavar="FILE", help="series in long format: unique_id, ds, y")
    p.add_argument("--horizon", required=True, type=_positive_int, metavar="H", help="periods to forecast")
    p.add_argument(
        "--levels",
        nargs="+",
        type=_level,
        metavar="L",
        help="interval levels in percent (default: forecast.levels of the settings)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="output file (.csv or .parquet)")
    p.add_argument(
        "--engine",
        choices=["local", "dask", "spark", "ray"],
        help="where the series are fitted: this machine (local) or a cluster through Fugue; same results "
        "(default: engine.forecast of the settings)",
    )
    p.add_argument(
        "--address",
        metavar="URL",
        help="the cluster: tcp://scheduler:8786 (dask; omitted = a local cluster), spark://master:7077 or "
        "local[N] (spark), ray://head:10001 (ray); default: engine.address of the settings",
    )
    p.add_argument(
        "--config",
        default="config/salesplan.yaml",
        metavar="FILE",
        help="YAML config: overrides of the defaults (default: config/salesplan.yaml)",
    )
    p.set_defaults(handler=cmd_forecast)

    p = sub.add_parser(
        "targets",
        help="list plans and what is in force, or approve a saved version",
        description="List the saved target versions (drafts), the approvals and which plan is in force for each "
        "month, or approve a saved version: for the whole year, or with --from-month as a revision that applies "
        "from that month forward only. Plans live in the 'targets' folder beside the data folder. A month whose "
        "retrospective is published in the reports folder is closed: an approval that would change it is refused "
        "(exit 2) unless --restate is given.",
    )
    p.add_argument("action", choices=["list", "approve"], help="list, or approve --year Y --version V --by NAME")
    p.add_argument("--year", type=int, help="plan year")
    p.add_argument("--version", help="version to approve, e.g. v2")
    p.add_argument(
        "--from-month",
        dest="from_month",
        type=_month,
        metavar="YYYY-MM",
        help="approve as a revision from this month on",
    )
    p.add_argument("--by", help="who approves (recorded in the audit log)")
    p.add_argument("--note", help="what was agreed (recorded in the audit log)")
    p.add_argument(
        "--reports",
        default="reports",
        metavar="DIR",
        help="reports folder: months with a published retrospective there are closed (default: reports)",
    )
    p.add_argument(
        "--restate",
        action="store_true",
        help="allow the approval to change closed months: recorded as a restatement, which the next pack shows "
        "(payouts as published beside as restated)",
    )
    data_options(p)
    p.set_defaults(handler=cmd_targets)

    p = sub.add_parser(
        "workshop",
        help="workshop material: handouts, team copies, scores",
        description="The goal-decomposition workshop's facilitator's kit; see notebooks/workshop/README.md.",
    )
    p.set_defaults(handler=cmd_workshop)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    w = actions.add_parser(
        "handouts",
        help="write the printable pages",
        description="Write the printable handouts: one self-contained A4 HTML page per exercise and a "
        "Chinese-English glossary.",
    )
    w.add_argument("--out", default="reports/workshop", metavar="DIR", help="output folder (default: reports/workshop)")
    w = actions.add_parser(
        "copy",
        help="write a team's folder of fresh exercises",
        description="Write a team's folder with the five exercise notebooks, every output cleared, never the "
        "solutions. An existing team folder is left untouched unless --force (which replaces it: the reset).",
    )
    w.add_argument("--team", required=True, metavar="NAME", help="team name (letters, digits, - and _)")
    w.add_argument("--out", default="trainees", metavar="DIR", help="folder of the team folders (default: trainees/)")
    w.add_argument("--force", action="store_true", help="replace an existing team folder with fresh exercises")
    w.add_argument(
        "--pack",
        action="store_true",
        help="also give the team its own data/raw, config/ and reports/ for running the monthly notebooks there",
    )
    w = actions.add_parser(
        "score",
        help="run every team's notebooks and count the checks passed",
        description="Run each team folder's exercise notebooks (papermill, kernel salesplan, the team folder as "
        "working directory, teams one after another), print team x exercise x checks passed and write it as CSV.",
    )
    w.add_argument("folders", nargs="+", metavar="DIR", help="team folders, e.g. trainees/*/")
    w.add_argument(
        "--csv",
        default="reports/workshop/scores.csv",
        metavar="FILE",
        help="where to write the scores (default: reports/workshop/scores.csv)",
    )
    w.add_argument("--timeout", type=int, default=300, metavar="SECONDS", help="time limit per notebook (default: 300)")
    return parser


# --------------------------------------------------------------------------- entry point


def _is_input_error(exc: BaseException) -> bool:
    """True for errors that mean "bad input" (exit 2): the exceptions the library defines
    and raises on purpose with a message for the user (ConfigError, SampleError,
    TargetVersionError, ...), and missing files named on the command line. Built-in
    exceptions from inside the library are bugs and keep their traceback."""
    if isinstance(exc, _InputError | FileNotFoundError):
        return True
    return type(exc).__module__.startswith("salesplan.")


def _format_data_error(exc: BaseException) -> str:
    """The problem table; when it is longer than the screen shows, the full list is also
    written to ``data/interim/validation_report.csv`` (never into ``reports/``)."""
    rows = getattr(exc, "report", None)
    if rows is None or not hasattr(exc, "format_report"):
        return str(exc)
    if len(rows) <= SHOWN_PROBLEMS:
        return exc.format_report(max_rows=SHOWN_PROBLEMS)
    from salesplan.config import PROJECT_ROOT

    path = exc.write_csv(PROJECT_ROOT / "data" / "interim" / "validation_report.csv")
    return exc.format_report(max_rows=SHOWN_PROBLEMS, csv_path=path)


def _without_plan_option(message: str, args: argparse.Namespace) -> str:
    """A message names ``--plan`` only when ``--plan`` was given: a problem with the plan in
    force (the approvals log, an approved version) is not about an option nobody typed."""
    prefix = "--plan: "
    if message.startswith(prefix) and getattr(args, "plan", None) is None:
        return message[len(prefix) :]
    return message


def _data_error_class() -> type[BaseException] | None:
    try:
        from salesplan.schema import DataValidationError
    except ImportError:
        return None
    return DataValidationError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``salesplan`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt as exc:
        # salesplan.run.RunInterrupted (a KeyboardInterrupt) says what the run stopped and
        # carries 130 (SIGINT) or 143 (SIGTERM); a bare Ctrl-C elsewhere is 130.
        _err(f"salesplan {args.command}: {str(exc) or 'interrupted'}")
        return int(getattr(exc, "exit_code", 130))
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("salesplan"):
            raise
        _err(f"salesplan {args.command}: this command needs {exc.name}, which is not available in this installation")
        return EXIT_FAILED
    except Exception as exc:
        from salesplan.run import RunError

        data_error = _data_error_class()
        if data_error is not None and isinstance(exc, data_error):
            report = _format_data_error(exc)
            headline = getattr(exc, "headline", None) or "the input data failed validation; nothing was run"
            _err(f"salesplan {args.command}: {headline}.\n{report}")
            return EXIT_INPUT
        if isinstance(exc, RunError):
            _err(f"salesplan {args.command}: {_without_plan_option(str(exc), args)}")
            return exc.exit_code
        if _is_input_error(exc):
            _err(f"salesplan {args.command}: error: {exc}")
            return EXIT_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
