"""The ``salesplan`` command line: sample, validate, run, forecast, targets.

Exit codes: 0 success; 1 a notebook failed; 2 bad input (arguments, configuration or
data: the problem is printed, never a traceback); 3 another run of the same month holds
the lock. Relative paths are taken from the project root (``salesplan.config.PROJECT_ROOT``),
like everywhere else in salesplan, so the command behaves the same from any folder.
Each command imports its part of the library only when it runs, so one unfinished or
broken module cannot take the other commands down.
"""

from __future__ import annotations

import argparse
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
    from salesplan.config import load_config, resolve_path
    from salesplan.io import load_data
    from salesplan.workbook import Workbook, resolve_month

    data_dir = resolve_path(args.data)
    if not data_dir.is_dir():
        raise _InputError(f"data folder {data_dir} does not exist (run `salesplan sample` to create the sample data)")
    config = load_config(args.config)
    data = load_data(data_dir, config)
    month = resolve_month(None, data.orders)
    # The workbook's summary is the one definition of "rows and date coverage per table".
    book = Workbook(
        config=config,
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
    from salesplan.runner import run_month

    result = run_month(
        args.month,
        data_dir=args.data,
        config_path=args.config,
        only=args.only,
        notebooks_dir=args.notebooks,
        reports_dir=args.reports,
        jobs=args.jobs,
        timeout=args.timeout,
        progress=_say,
    )
    _say(f"Done in {result.duration_s:.1f} s. Report index:")
    _say(str(result.index.resolve()))
    return EXIT_OK


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
    from salesplan.config import resolve_path
    from salesplan.forecast import forecast_file

    source = resolve_path(args.input)
    if not source.is_file():
        raise _InputError(f"--input: file {source} does not exist")
    out = resolve_path(args.out)
    forecast_file(source, horizon=args.horizon, levels=args.levels, out_path=out)
    _say(f"Forecast ({args.horizon} periods, levels {', '.join(map(str, args.levels))}) written to {out}")
    return EXIT_OK


def cmd_targets(args: argparse.Namespace) -> int:
    from salesplan import targets

    kwargs = {"targets_dir": args.targets_dir} if args.targets_dir else {}
    if args.action == "list":
        versions = targets.list_versions(**kwargs)
        _say(versions.to_string(index=False) if len(versions) else "No saved target versions.")
    else:
        if args.year is None or args.version is None:
            raise _InputError("targets approve needs --year and --version")
        result = targets.approve_version(args.year, args.version, **kwargs)
        _say(f"Approved target version {args.version!r} for {args.year}" + (f": {result}" if result else ""))
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
    from salesplan.runner import MONTH_RE

    if not MONTH_RE.match(text):
        raise argparse.ArgumentTypeError(f"expected YYYY-MM (e.g. 2026-10), got {text!r}")
    return text


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
        help="run up to N notebooks at once (they must be independent; default: 1, in numbered order)",
    )
    p.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="time limit per notebook cell (default: none)"
    )
    p.set_defaults(handler=cmd_run)

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
        default=[80, 95],
        metavar="L",
        help="interval levels in percent (default: 80 95)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="output file (.csv or .parquet)")
    p.set_defaults(handler=cmd_forecast)

    p = sub.add_parser(
        "targets",
        help="list or approve saved target versions",
        description="List the saved target versions, or approve one (the approved version is the plan the "
        "retrospective compares against).",
    )
    p.add_argument("action", choices=["list", "approve"], help="list versions, or approve --year Y --version V")
    p.add_argument("--year", type=int, help="plan year (approve)")
    p.add_argument("--version", help="version name (approve)")
    p.add_argument(
        "--targets-dir", dest="targets_dir", metavar="DIR", help="folder of saved versions (default: data/targets)"
    )
    p.set_defaults(handler=cmd_targets)
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
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("salesplan"):
            raise
        _err(f"salesplan {args.command}: this command needs {exc.name}, which is not available in this installation")
        return EXIT_FAILED
    except Exception as exc:
        from salesplan.runner import RunError

        data_error = _data_error_class()
        if data_error is not None and isinstance(exc, data_error):
            report = _format_data_error(exc)
            _err(f"salesplan {args.command}: the input data failed validation; nothing was run.\n{report}")
            return EXIT_INPUT
        if isinstance(exc, RunError):
            _err(f"salesplan {args.command}: {exc}")
            return exc.exit_code
        if _is_input_error(exc):
            _err(f"salesplan {args.command}: error: {exc}")
            return EXIT_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
