"""Saved target versions: content-addressed, write-once files with a separate approval registry.

A version is a pair of files in the targets folder (default ``data/targets/``)::

    targets_<year>_v<N>.csv                 the plan (data-contract columns)
    targets_<year>_v<N>.assumptions.yaml    the assumptions used, the content hash, the creation time

The content hash is ``sha256(canonical plan CSV + canonical assumptions JSON)``. Saving a plan whose
hash equals an existing version of that year writes nothing. Version files are created with
exclusive-create semantics and are never modified afterwards. A saved version is a *draft*:
it is in force only once approved.

Approvals are an append-only audit log, ``approvals.jsonl``: one JSON line per approval with
the year, version, the first month it applies to (a mid-year revision applies from that
month forward only), who approved it, a note, when, and the SHA-256 of the plan file it
approved. Which plan is in force for a month is decided by :mod:`salesplan.plans`.

Closed months stay closed: a month whose retrospective has been published has been paid on
(:func:`salesplan.retro.restatement.closed_months`). :func:`approve_version`, given the year's
closed months, refuses an approval whose first month is on or before one of them unless it is
an explicit restatement (``restate=True``); a restating approval is logged with ``"restate":
true`` and the closed months it restates (``restated_months``), and the next pack shows them,
published beside restated (:mod:`salesplan.retro.restatement`). Lines written before these
fields existed read as ordinary, non-restating approvals.

One contract for plans. A saved version, whether drafted by ``02_targets`` or made or edited by
hand, is read by the targets table's rules (:func:`salesplan.schema.validate_table`: numbers as
:func:`salesplan.schema.read_numbers` documents them, so ``"1,000"`` is 1000) plus the plan's own
rules (:func:`check_plan`): the plan's year only, targets whole and not negative, one row per
cell, every month of the year present and, given the data (:class:`PlanReference`), known
regions, product lines and reps, and no target for a rep after the leave date or before the hire
month. A plan that breaks them raises :class:`PlanContractError` (its problem table names file,
row, column, value and rule) and is neither approved nor used. An approved version is
immutable: approving a version whose file no longer has the SHA-256 it was approved with is
refused (save the edited plan as a new version instead).

The approvals log is written all or nothing: under its lock, the whole log is read and checked
(a damaged line raises :class:`ApprovalLogError` naming the line and how to repair it), the new
line is checked by the same reader, then the log is replaced atomically by its old bytes plus
the new line. On any failure the log is left byte-identical.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from salesplan.config import resolve_path
from salesplan.dates import as_dates
from salesplan.files import replace_atomically
from salesplan.month import Month, MonthError
from salesplan.schema import (
    MAX_ABS_AMOUNT,
    REPORT_COLUMNS,
    DataValidationError,
    failure,
    failures,
    normalise_report,
    read_numbers,
    to_object_str,
    validate_table,
)
from salesplan.targets.allocation import UNASSIGNED
from salesplan.targets.rounding import TargetInputError

PLAN_COLUMNS = ["year", "month", "region", "product_line", "rep_id", "target_amount", "quota_amount"]
"""Columns of a saved plan: the data contract's targets columns plus ``quota_amount`` (target incl. buffer)."""

CONTRACT_COLUMNS = ["year", "month", "region", "product_line", "rep_id", "target_amount", "version"]
"""Columns :func:`load_plan` returns (the data contract's targets table)."""

APPROVALS_LOG = "approvals.jsonl"
LEGACY_APPROVALS_FILE = "approved.yaml"  # year -> version, written by earlier releases; still read
_VERSION_RE = re.compile(r"^targets_(\d{4})_v(\d+)\.(csv|assumptions\.yaml)$")


class TargetVersionError(LookupError):
    """A requested target version does not exist or a saved version file is damaged."""


class ApprovalLogError(TargetVersionError):
    """The approvals log has a damaged line (named, with how to repair it)."""


class PlanContractError(DataValidationError):
    """A plan file breaks the plan contract. ``report`` holds every problem (``file, row, column,
    value, rule``); ``headline`` says what was not done because of it."""

    def __init__(self, report: pd.DataFrame, headline: str = "the plan breaks the plan contract") -> None:
        super().__init__(report)
        self.headline = headline


class ClosedMonthError(TargetVersionError):
    """An approval would change the plan of months whose retrospective is already published."""

    def __init__(self, message: str, closed: list[str]) -> None:
        super().__init__(message)
        self.closed = closed


@dataclass(frozen=True)
class SaveResult:
    """Outcome of :func:`save_plan`: the version the plan is stored as and whether this call created it."""

    version: str
    path: Path
    created: bool
    message: str


def targets_dir_path(targets_dir: str | os.PathLike[str] | None = None) -> Path:
    """The targets folder (default ``data/targets`` under the project root)."""
    return resolve_path(targets_dir if targets_dir is not None else "data/targets")


def targets_dir_for(data_dir: str | os.PathLike[str]) -> Path:
    """The targets folder that belongs to a data folder: ``targets`` beside it (``data/raw`` -> ``data/targets``).

    Plans computed from different data (a sample, a test copy, another company) are kept apart, so a run on
    other data never becomes the "latest" plan of the real one.
    """
    return resolve_path(data_dir).parent / "targets"


def canonical_plan(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan in saved form: :data:`PLAN_COLUMNS`, whole-number amounts, rows sorted by month, region,
    product line and rep. ``month`` may be 1-12 or a first-of-month date; ``quota_amount`` defaults to the target.
    """
    missing = sorted({"year", "month", "region", "product_line", "rep_id", "target_amount"} - set(plan.columns))
    if missing:
        raise TargetInputError(f"plan: missing column(s) {', '.join(missing)}; need {', '.join(PLAN_COLUMNS[:6])}")
    out = plan.copy()
    if "quota_amount" not in out.columns:
        out["quota_amount"] = out["target_amount"]
    if pd.api.types.is_datetime64_any_dtype(out["month"]):
        out["month"] = out["month"].dt.month
    for col in ("target_amount", "quota_amount"):
        values = pd.to_numeric(out[col], errors="raise").to_numpy(dtype="float64")
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise TargetInputError(f"plan: column {col} must hold whole currency units (found fractions or blanks)")
        out[col] = values.astype("int64")
    out = out.astype({"year": "int64", "month": "int64", "region": str, "product_line": str, "rep_id": str})
    return out[PLAN_COLUMNS].sort_values(PLAN_COLUMNS[:5], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- the plan contract

# Reading a plan needs no setting: the targets table has no dates and no lists of allowed values.
_PLAN_READING = {"validation": {}, "io": {"date_format": {}, "csv_excel_serial_dates": False}}
PLAN_KEY = ["year", "month", "region", "product_line", "rep_id"]
"""One plan row per cell: a repeated cell would count its target twice."""

RULE_NEGATIVE = "negative amount: a target is 0 or more"
RULE_FRACTION = "not a whole amount: targets are whole currency units"


@dataclass(frozen=True)
class PlanReference:
    """What a plan is checked against, from the data the plan is for.

    ``regions``: the regions of the reps and customers; ``product_lines``: those of the products;
    ``reps``: ``rep_id, hire_date, leave_date`` (a rep is active from the hire month through the
    month of the leave date).
    """

    regions: frozenset[str]
    product_lines: frozenset[str]
    reps: pd.DataFrame

    @classmethod
    def from_data(cls, data: Any) -> PlanReference:
        """The reference of a loaded :class:`salesplan.io.Dataset` (reps, products, customers)."""
        reps = data.reps
        customers = getattr(data, "customers", None)
        regions = set(reps["region"].dropna().astype(str))
        if customers is not None and "region" in customers.columns:
            regions |= set(customers["region"].dropna().astype(str))
        columns = {"hire_date": pd.NaT, "leave_date": pd.NaT}
        rep_dates = reps.assign(**{c: reps[c] if c in reps.columns else v for c, v in columns.items()})
        return cls(
            regions=frozenset(regions),
            product_lines=frozenset(data.products["product_line"].dropna().astype(str)),
            reps=rep_dates[["rep_id", "hire_date", "leave_date"]].drop_duplicates("rep_id").astype({"rep_id": str}),
        )


def check_plan(
    plan: pd.DataFrame,
    year: int,
    *,
    file: str,
    reference: PlanReference | None = None,
    whole_year: bool = True,
) -> pd.DataFrame:
    """The problems of a plan already read by the targets table's rules (index = the file's line
    numbers; ``month`` 1-12), as a report (``file, row, column, value, rule``). Rules:

    - every row is of ``year``;
    - ``target_amount`` (and ``quota_amount`` where present) is whole and not negative;
    - one row per cell (:data:`PLAN_KEY`), the repeat names the first row;
    - ``whole_year``: every month 1-12 has rows (a month without target is a row of 0);
    - with ``reference``: regions, product lines and reps are known, and no rep has a non-zero
      target in a month after the month of the leave date or before the month of the hire date.
    """
    year = int(year)
    found: list[pd.DataFrame] = []
    rows = plan.index
    years = pd.to_numeric(plan["year"], errors="coerce")
    other = (years.notna() & (years != year)).to_numpy()
    found.append(failures(file, rows[other], "year", years[other], f"not the plan's year {year}"))
    for column in ("target_amount", "quota_amount"):
        if column not in plan.columns:
            continue
        amount = pd.to_numeric(plan[column], errors="coerce")
        negative = (amount < 0).fillna(False).to_numpy(dtype=bool)
        fraction = (amount.notna() & (amount % 1 != 0)).to_numpy(dtype=bool)
        found.append(failures(file, rows[negative], column, plan[column][negative], RULE_NEGATIVE))
        found.append(failures(file, rows[fraction], column, plan[column][fraction], RULE_FRACTION))
    keys = plan[PLAN_KEY].astype(str)
    repeated = keys.duplicated(keep="first").to_numpy()
    if repeated.any():
        first_row = pd.Series(rows, index=keys.index).groupby([keys[c] for c in PLAN_KEY], sort=False).transform("min")
        found.append(
            pd.DataFrame(
                {
                    "file": file,
                    "row": rows[repeated],
                    "column": " + ".join(PLAN_KEY),
                    "value": keys[repeated].agg(" + ".join, axis=1).to_numpy(),
                    "rule": [f"repeated plan cell, first at row {r}" for r in first_row[repeated]],
                }
            )
        )
    months = pd.to_numeric(plan["month"], errors="coerce")
    if whole_year:
        present = set(months.dropna().astype(int))
        for m in (m for m in range(1, 13) if m not in present):
            rule = "month missing: a plan has rows for every month (0 where there is no target)"
            found.append(failure(file, "month", rule, value=f"{year}-{m:02d}"))
    if reference is not None:
        found += _reference_problems(plan, months, reference, file)
    report = pd.concat([f for f in found if not f.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)])
    return report.reset_index(drop=True)


def _reference_problems(
    plan: pd.DataFrame, months: pd.Series, reference: PlanReference, file: str
) -> list[pd.DataFrame]:
    rows = plan.index
    found = []
    for column, known, where in (
        ("region", reference.regions, "no rep or customer in it"),
        ("product_line", reference.product_lines, "not in products"),
        # "(unassigned)" holds a region's target for months with no rep on board (the allocation's rows).
        ("rep_id", frozenset(reference.reps["rep_id"]) | {UNASSIGNED}, "not in reps"),
    ):
        values = plan[column]
        unknown = (values.notna() & ~values.astype(str).isin(known)).to_numpy()
        found.append(failures(file, rows[unknown], column, values[unknown], f"unknown {column} ({where})"))
    dates = plan[["rep_id"]].astype(object).merge(reference.reps, on="rep_id", how="left").set_index(rows)
    start = pd.to_datetime(
        pd.DataFrame({"year": pd.to_numeric(plan["year"], errors="coerce"), "month": months, "day": 1}),
        errors="coerce",
    )
    amount = pd.to_numeric(plan["target_amount"], errors="coerce").fillna(0)
    leave = as_dates(dates["leave_date"]).dt.to_period("M").dt.to_timestamp()
    hire = as_dates(dates["hire_date"]).dt.to_period("M").dt.to_timestamp()
    for mask, when, rule in (
        (start > leave, leave, "left in {}: no target after the month of the leave date"),
        (start < hire, hire, "hired in {}: no target before the month of the hire date"),
    ):
        bad = (mask & (amount != 0)).fillna(False).to_numpy(dtype=bool)
        found += [
            failure(file, "rep_id", rule.format(f"{w:%Y-%m}"), row=r, value=v)
            for r, v, w in zip(rows[bad], plan["rep_id"][bad], when[bad], strict=True)
        ]
    return found


def read_plan_file(
    path: str | os.PathLike[str],
    year: int,
    *,
    data: bytes | None = None,
    reference: PlanReference | None = None,
    whole_year: bool = True,
    headline: str = "the plan breaks the plan contract",
) -> pd.DataFrame:
    """A plan CSV read and checked by the one plan contract: the targets table's reading and
    rules (:func:`salesplan.schema.validate_table`, numbers by
    :func:`salesplan.schema.read_numbers`), then :func:`check_plan`. ``data``: the file's bytes
    when already read (so what is checked is what was hashed).

    Returns the plan with ``year``, ``month`` (1-12) and ``target_amount`` as whole numbers and
    the labels as text; raises :class:`PlanContractError` (with ``headline``) listing every problem.
    """
    from salesplan.io import read_csv  # the one CSV reader: encodings, separators, line numbers

    path = Path(path)
    name = path.name
    try:
        frame, report = read_csv(path, data)
    except OSError as exc:
        raise TargetVersionError(f"{path}: cannot read the plan file ({exc.strerror or exc})") from None
    problems = [report]
    if not frame.columns.empty:
        frame, parsed_report = validate_table(frame, "targets", _PLAN_READING, name)
        problems.append(parsed_report)
        if "quota_amount" in frame.columns:
            reading = read_numbers(frame["quota_amount"], money=True, limit=MAX_ABS_AMOUNT)
            problems += [
                failures(name, frame.index[mask], "quota_amount", frame["quota_amount"][mask], rule)
                for mask, rule in reading.problems
            ]
            frame["quota_amount"] = reading.values
        if set(PLAN_KEY + ["target_amount"]) <= set(frame.columns):
            problems.append(check_plan(frame, year, file=name, reference=reference, whole_year=whole_year))
    found = normalise_report(pd.concat([p for p in problems if not p.empty] or [pd.DataFrame(columns=REPORT_COLUMNS)]))
    if len(found):
        raise PlanContractError(found, headline)
    out = frame.reset_index(drop=True)
    for column in ("region", "product_line", "rep_id", "version"):
        if column in out.columns:
            out[column] = to_object_str(out[column].astype("string[pyarrow]"))
    for column in ("year", "month", "target_amount", "quota_amount"):
        if column in out.columns:
            out[column] = out[column].astype("float64").astype("int64")
    return out


def _plan_csv(plan: pd.DataFrame) -> bytes:
    return plan.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """Assumptions as plain YAML/JSON types (numpy scalars, tuples and dates converted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | pd.Timestamp | pd.Period):
        return str(value)
    return value


def plan_hash(plan: pd.DataFrame, assumptions: dict[str, Any]) -> str:
    """``sha256(canonical plan CSV + "\\n" + canonical assumptions JSON)``: equal hashes mean an unchanged plan."""
    digest = hashlib.sha256()
    digest.update(_plan_csv(canonical_plan(plan)))
    digest.update(b"\n")
    digest.update(_canonical_json(assumptions).encode("utf-8"))
    return digest.hexdigest()


def _version_files(folder: Path) -> dict[tuple[int, int], dict[str, Path]]:
    found: dict[tuple[int, int], dict[str, Path]] = {}
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        m = _VERSION_RE.match(path.name)
        if m:
            found.setdefault((int(m.group(1)), int(m.group(2))), {})[m.group(3)] = path
    return found


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TargetVersionError(f"{path}: cannot read the assumptions file ({exc})") from None
    if not isinstance(meta, dict):
        raise TargetVersionError(f"{path}: the assumptions file must be a mapping")
    return meta


def _temp_file(path: Path) -> Path:
    # Created with "x" (not mkstemp) so the file gets the user's usual permissions (umask), not 0600.
    return path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"


def _write_synced(tmp: Path, data: bytes) -> None:
    """Create ``tmp`` (exclusively) holding ``data``, flushed to disk before it is published."""
    with open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` atomically; fail with FileExistsError if it exists (never overwrite)."""
    tmp = _temp_file(path)
    try:
        _write_synced(tmp, data)
        try:
            # A hard link publishes the complete file under its name and refuses an existing name.
            os.link(tmp, path)
        except OSError as exc:
            if isinstance(exc, FileExistsError):
                raise
            with open(path, "xb") as fh:  # filesystems without hard links: exclusive create
                fh.write(data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_replace(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, flushed to disk first, in one move (:func:`salesplan.files.replace_atomically`)."""
    with replace_atomically(path) as staged:
        _write_synced(staged, data)


def save_plan(
    plan_df: pd.DataFrame,
    assumptions: dict[str, Any],
    year: int,
    targets_dir: str | os.PathLike[str] | None = None,
    note: str = "",
    scenario: str = "base",
) -> SaveResult:
    """Save ``plan_df`` for ``year`` as a new version unless an identical one exists.

    Identical means the same :func:`plan_hash` (plan rows and assumptions); ``note`` is stored with a new
    version but is not part of the hash, so a re-run with another note does not add a version.
    New versions are numbered ``v1, v2, ...`` per year; existing version files are never touched.
    """
    year = int(year)
    plan = canonical_plan(plan_df)
    years = sorted(set(plan["year"]))
    if years != [year]:
        raise TargetInputError(f"save_plan: the plan's year column holds {years}, expected only {year}")
    folder = targets_dir_path(targets_dir)
    folder.mkdir(parents=True, exist_ok=True)
    digest = plan_hash(plan, assumptions)
    while True:
        files = _version_files(folder)
        for (y, n), paths in sorted(files.items()):
            complete = y == year and "csv" in paths and "assumptions.yaml" in paths
            if complete and _read_meta(paths["assumptions.yaml"]).get("sha256") == digest:
                return SaveResult(
                    f"v{n}", paths["csv"], False, f"plan unchanged: identical to saved version v{n} of {year}"
                )
        version = f"v{max((n for (y, n) in files if y == year), default=0) + 1}"
        csv_path = folder / f"targets_{year}_{version}.csv"
        meta_path = folder / f"targets_{year}_{version}.assumptions.yaml"
        meta = {
            "year": year,
            "version": version,
            "sha256": digest,
            "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": note,
            "scenario": scenario,
            "total": int(plan["target_amount"].sum()),
            "assumptions": _plain(assumptions),
        }
        # The assumptions file goes first: a version exists once its plan CSV exists.
        try:
            _write_new(meta_path, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).encode("utf-8"))
        except FileExistsError:
            continue  # another run took this number meanwhile: look again (it may have saved this very plan)
        try:
            _write_new(csv_path, _plan_csv(plan.assign(version=version)))
        except FileExistsError:
            meta_path.unlink()  # ours, just written: never pair it with someone else's plan file
            continue
        return SaveResult(
            version, csv_path, True, f"saved draft {version} of {year} ({csv_path.name}); not in force until approved"
        )


@dataclass(frozen=True)
class Approval:
    """One line of the approvals log: ``version`` of ``year`` is the plan from ``from_month`` on."""

    year: int
    version: str
    from_month: str  # "YYYY-MM"
    by: str
    note: str
    approved_at: str | None  # UTC, ISO 8601; None for approvals recorded by earlier releases
    sha256: str | None  # of the plan file when it was approved
    restate: bool = False  # True: an explicit restatement of published (closed) months
    restated_months: tuple[str, ...] = ()  # the closed months ("YYYY-MM") it restates


def plan_file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (the checksum pages print for the plan they used)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_approvals(targets_dir: str | os.PathLike[str] | None = None) -> list[Approval]:
    """Every approval recorded in the folder, oldest first (legacy ``approved.yaml`` entries first).
    A damaged log raises :class:`ApprovalLogError` naming its first bad line."""
    folder = targets_dir_path(targets_dir)
    log = folder / APPROVALS_LOG
    return _legacy_approvals(folder) + (_parse_log(log, log.read_bytes()) if log.exists() else [])


def _legacy_approvals(folder: Path) -> list[Approval]:
    legacy = folder / LEGACY_APPROVALS_FILE
    if not legacy.exists():
        return []
    try:
        content = yaml.safe_load(legacy.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TargetVersionError(f"{legacy}: cannot read the approval registry ({exc})") from None
    if not isinstance(content, dict):
        raise TargetVersionError(f"{legacy}: the approval registry must map year -> version")
    try:
        return [Approval(int(y), _normalise_version(v), f"{int(y)}-01", "", "", None, None) for y, v in content.items()]
    except (ValueError, TypeError) as exc:
        raise TargetVersionError(f"{legacy}: the approval registry must map year -> version ({exc})") from None


def _month_of(text: object, year: int) -> str | None:
    """``text`` as a ``YYYY-MM`` month of ``year`` (:meth:`salesplan.month.Month.parse`), else None."""
    try:
        month = Month.parse(str(text))
    except MonthError:
        return None
    return str(month) if month.year == year else None


def _approval_from_line(line: str) -> Approval:
    """One log line as an :class:`Approval`; ValueError saying what is wrong with it."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos + 1})") from None
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in ("year", "version", "from_month", "by") if k not in entry]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    try:
        year = int(entry["year"])
        version = _normalise_version(entry["version"])
    except (TypeError, ValueError, TargetVersionError) as exc:
        raise ValueError(str(exc)) from None
    start = str(entry["from_month"])
    if _month_of(start, year) is None:
        raise ValueError(f"from_month {start!r} is not a month of {year} (YYYY-MM)")
    sha = entry.get("sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        raise ValueError(f"sha256 {sha!r} is not a SHA-256 checksum")
    restated = entry.get("restated_months") or ()
    if not isinstance(restated, list | tuple) or not all(Month.is_month(str(m)) for m in restated):
        raise ValueError(f"restated_months {restated!r} is not a list of YYYY-MM months")
    return Approval(
        year=year,
        version=version,
        from_month=start,
        by=str(entry["by"]),
        note=str(entry.get("note") or ""),
        approved_at=entry.get("approved_at"),
        sha256=sha,
        # Absent in lines written before restatements existed: an ordinary approval.
        restate=bool(entry.get("restate", False)),
        restated_months=tuple(str(m) for m in restated),
    )


def _parse_log(log: Path, data: bytes) -> list[Approval]:
    """The approvals of the log's bytes, checked line by line (blank lines are skipped)."""
    out: list[Approval] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
            if line.strip():
                out.append(_approval_from_line(line))
        except (UnicodeDecodeError, ValueError) as exc:
            shown = raw.decode("utf-8", errors="replace").strip()
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ApprovalLogError(
                f"{log}, line {number}: not a valid approval record ({exc}): {shown!r}. The log is the audit "
                f"trail of approvals: repair that line (from a backup, or by retyping the approval it records as "
                f"one JSON object per line, like the other lines), or, if it records no approval, delete it; "
                f"no approval can be added or read until then."
            ) from None
    return out


def approval_per_month(approvals: Sequence[Approval], year: int) -> dict[int, Approval]:
    """For each month (1-12) of ``year``, the approval in force: among ``approvals`` (oldest first)
    those of ``year`` whose first month is on or before it, the latest first month; ties to the later one."""
    chosen: dict[int, Approval] = {}
    for m in range(1, 13):
        best: tuple[int, int] | None = None
        for order, a in enumerate(approvals):
            if a.year != int(year):
                continue
            start = int(a.from_month[5:7])
            if start <= m and (best is None or (start, order) >= best):
                best, chosen[m] = (start, order), a
    return chosen


def approve_version(
    year: int,
    version: str,
    targets_dir: str | os.PathLike[str] | None = None,
    *,
    by: str,
    note: str = "",
    from_month: str | None = None,
    closed_months: Sequence[str] | None = None,
    restate: bool = False,
    closed_where: str = "the reports folder",
    reference: PlanReference | None = None,
) -> Approval:
    """Approve saved ``version`` (``"v3"`` or ``3``) of ``year`` as the plan, for the whole year or,
    with ``from_month`` ("YYYY-MM" within the year), from that month forward only (a revision:
    earlier months keep the plan they were measured against).

    Adds one line to ``approvals.jsonl``; earlier lines and the version files stay untouched.
    ``by`` (who approves) is required.

    All or nothing, under the log's lock: the whole log is read and checked first
    (:class:`ApprovalLogError` names a damaged line); the plan file is read once, checked by the
    plan contract (:func:`read_plan_file`; ``reference``: the data's regions, product lines and
    reps, see :class:`PlanReference`) and hashed from the same bytes (a breach raises
    :class:`PlanContractError`); a version approved before whose file has changed since is
    refused (an approved version is immutable: save the edit as a new version); every other
    version that stays in force for a month of the year must still be as it was approved. Only
    then is the log replaced atomically by its old bytes plus the new line. Any refusal leaves
    the log byte-identical.

    ``closed_months``: the months ("YYYY-MM") whose retrospective is published
    (:func:`salesplan.retro.restatement.closed_months`; ``closed_where`` names where, for the
    message). The approval restates the closed months of ``year`` on or after its first month
    (first month = ``from_month``, else January). When there are any, it is refused with
    :class:`ClosedMonthError` and nothing is written, unless ``restate`` is True: then it is
    logged with ``restate`` and ``restated_months``. ``restate`` with nothing to restate is
    logged as an ordinary approval. ``closed_months=None`` checks nothing (callers that know
    no reports folder).
    """
    from filelock import FileLock

    folder = targets_dir_path(targets_dir)
    year = int(year)
    version = _normalise_version(version)
    if not str(by or "").strip():
        raise TargetVersionError("an approval needs the name of who approves it (--by NAME)")
    start = f"{year}-01" if from_month is None else str(from_month).strip()
    if _month_of(start, year) is None:
        raise TargetVersionError(f"--from-month {from_month!r}: expected a month of {year} as YYYY-MM, e.g. {year}-07")
    files = _version_files(folder)
    paths = files.get((year, int(version[1:])), {})
    if "csv" not in paths:
        known = ", ".join(f"v{n}" for (y, n) in sorted(files) if y == year) or "none"
        raise TargetVersionError(
            f"cannot approve {version} of {year}: no such saved version in {folder} (saved: {known})"
        )
    restated = restated_by(start, closed_months or ())
    if restated and not restate:
        raise ClosedMonthError(
            f"cannot approve {version} of {year} from {start}: {_month_list(restated)} "
            f"{'is' if len(restated) == 1 else 'are'} closed (the retrospective is published in {closed_where}; "
            "attainment and commissions have been paid on). Nothing was written. To restate "
            f"{'it' if len(restated) == 1 else 'them'}, approve again with --restate: the next pack shows the "
            f"payouts as published beside as restated. Or approve from {_next_month(restated[-1])}, the first "
            "month after the closed ones.",
            restated,
        )
    log = folder / APPROVALS_LOG
    with FileLock(str(folder / f".{APPROVALS_LOG}.lock")):
        old = log.read_bytes() if log.exists() else b""
        approvals = _legacy_approvals(folder) + _parse_log(log, old)
        plan_bytes = paths["csv"].read_bytes()
        digest = hashlib.sha256(plan_bytes).hexdigest()
        _refuse_changed_approved(year, version, digest, paths["csv"], approvals)
        read_plan_file(
            paths["csv"],
            year,
            data=plan_bytes,
            reference=reference,
            headline=f"cannot approve {version} of {year}: the plan breaks the plan contract; nothing was written",
        )
        entry = Approval(
            year=year,
            version=version,
            from_month=start,
            by=str(by).strip(),
            note=str(note or "").strip(),
            approved_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            sha256=digest,
            restate=bool(restated),
            restated_months=tuple(restated),
        )
        _refuse_changed_in_force(entry, approvals, files)
        line = json.dumps(entry.__dict__, ensure_ascii=False, sort_keys=True)
        if "\n" in line or _approval_from_line(line) != entry:
            raise TargetVersionError(f"cannot approve {version} of {year}: the log line would not read back")
        separator = b"" if not old or old.endswith(b"\n") else b"\n"  # a hand-edited last line without its break
        _write_replace(log, old + separator + line.encode("utf-8") + b"\n")
    return entry


def _refuse_changed_approved(year: int, version: str, digest: str, path: Path, approvals: list[Approval]) -> None:
    """An approved version is immutable: its file must still have the checksum it was approved with."""
    for a in approvals:
        if a.year == year and a.version == version and a.sha256 and a.sha256 != digest:
            raise TargetVersionError(
                f"cannot approve {version} of {year}: {path.name} has changed since it was approved on "
                f"{(a.approved_at or '?')[:10]} by {a.by or 'unknown'} (sha256 then {a.sha256[:12]}, now "
                f"{digest[:12]}). An approved version never changes: save the edited plan as a new version "
                f"(e.g. as targets_{year}_v<N>.csv with the next free number) and approve that, and restore "
                f"{path.name} to what was approved. Nothing was written."
            )


def _refuse_changed_in_force(entry: Approval, approvals: list[Approval], files: dict[tuple[int, int], dict]) -> None:
    """Every other version still in force for a month after ``entry`` must read as it was approved:
    otherwise the approval would be recorded and the year's plan could not be used."""
    in_force = approval_per_month([*approvals, entry], entry.year)
    for a in {id(a): a for a in in_force.values() if a is not entry}.values():
        months = sorted(m for m, b in in_force.items() if b is a)
        path = files.get((a.year, int(a.version[1:])), {}).get("csv")
        span = f"{a.year}-{months[0]:02d} .. {a.year}-{months[-1]:02d}"
        if path is None:
            problem = "its file is missing"
        elif a.sha256 and plan_file_sha256(path) != a.sha256:
            problem = f"{path.name} has changed since it was approved (sha256 then {a.sha256[:12]})"
        else:
            continue
        raise TargetVersionError(
            f"cannot approve {entry.version} of {entry.year} from {entry.from_month}: {a.version}, approved on "
            f"{(a.approved_at or '?')[:10]}, stays in force for {span} and {problem}. Restore it, or approve a "
            f"version for those months too. Nothing was written."
        )


def restated_by(first_month: str, closed_months: Sequence[str]) -> list[str]:
    """The closed months an approval starting at ``first_month`` ("YYYY-MM") would change: the
    closed months of its year on or after it, sorted. Empty: the approval changes no published figure."""
    year = first_month[:4]
    return sorted({str(m) for m in closed_months if str(m)[:4] == year and str(m) >= first_month})


def _month_list(months: Sequence[str]) -> str:
    return ", ".join(months[:-1]) + f" and {months[-1]}" if len(months) > 1 else months[0]


def _next_month(month: str) -> str:
    return str(pd.Period(month, freq="M") + 1)


def _normalise_version(version: str | int) -> str:
    text = str(version).strip().lower()
    text = text if text.startswith("v") else f"v{text}"
    if not re.fullmatch(r"v\d+", text):
        raise TargetVersionError(f"version {version!r} is not of the form v<N>")
    return f"v{int(text[1:])}"


def list_versions(targets_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Saved versions, one row each (oldest first): ``year, version, created, scenario, total, note,
    status, sha256`` where ``status`` is ``draft`` or how it was approved (``approved``, or
    ``approved from YYYY-MM`` for a revision; several approvals are listed together)."""
    folder = targets_dir_path(targets_dir)
    approvals = read_approvals(folder)
    rows = []
    for (year, number), paths in sorted(_version_files(folder).items()):
        if "csv" not in paths:
            continue  # an interrupted save: not a version
        meta = _read_meta(paths["assumptions.yaml"]) if "assumptions.yaml" in paths else {}
        own = [a for a in approvals if a.year == year and a.version == f"v{number}"]
        status = (
            "; ".join(
                "approved"
                + ("" if a.from_month == f"{year}-01" else f" from {a.from_month}")
                + (f" by {a.by}" if a.by else "")
                + (f", restating {', '.join(a.restated_months)}" if a.restate else "")
                for a in own
            )
            or "draft"
        )
        rows.append(
            {
                "year": year,
                "version": f"v{number}",
                "created": meta.get("created"),
                "scenario": meta.get("scenario", "base"),
                "total": meta.get("total"),
                "note": meta.get("note", ""),
                "status": status,
                "sha256": plan_file_sha256(paths["csv"]),
            }
        )
    columns = ["year", "version", "created", "scenario", "total", "note", "status", "sha256"]
    return pd.DataFrame(rows, columns=columns).astype({"year": "int64"})


def load_assumptions(year: int, version: str, targets_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The assumptions file of a saved version (``assumptions`` plus ``sha256``, ``created``, ``note``, ``total``)."""
    folder = targets_dir_path(targets_dir)
    version = _normalise_version(version)
    path = folder / f"targets_{int(year)}_{version}.assumptions.yaml"
    if not path.exists():
        raise TargetVersionError(f"{path}: no assumptions file for {version} of {year}")
    return _read_meta(path)


def rep_month_targets(plan: pd.DataFrame, amount: str = "target_amount") -> pd.DataFrame:
    """A plan in contract form (``year``, ``month`` 1-12, ``rep_id``, amounts) summed per rep and month:
    ``rep_id, month`` (first-of-month timestamp), ``target``. The shape commission statements take."""
    missing = sorted({"year", "month", "rep_id", amount} - set(plan.columns))
    if missing:
        raise TargetInputError(f"plan: missing column(s) {', '.join(missing)}")
    if pd.api.types.is_datetime64_any_dtype(plan["month"]):
        month = plan["month"].dt.to_period("M").dt.to_timestamp()
    else:
        month = as_dates(pd.DataFrame({"year": plan["year"].astype(int), "month": plan["month"].astype(int), "day": 1}))
    return (
        plan.assign(month=month)
        .groupby(["rep_id", "month"], as_index=False)[amount]
        .sum()
        .rename(columns={amount: "target"})
    )


def read_version(
    year: int,
    version: str,
    targets_dir: str | os.PathLike[str] | None = None,
    *,
    reference: PlanReference | None = None,
) -> tuple[pd.DataFrame, Path]:
    """A saved version's plan in the data contract's columns (:data:`CONTRACT_COLUMNS` first) and its file.

    Read and checked by the plan contract (:func:`read_plan_file`; ``reference`` adds the checks
    against the data): a breach raises :class:`PlanContractError`, a missing version
    :class:`TargetVersionError`. The ``version`` column is the file's version (a plan copied by
    hand from v1 to v3 is v3, whatever its own column says).
    """
    folder = targets_dir_path(targets_dir)
    version = _normalise_version(version)
    files = {n: p for (y, n), p in _version_files(folder).items() if y == int(year) and "csv" in p}
    number = int(version[1:])
    if number not in files:
        known = ", ".join(f"v{n}" for n in sorted(files)) or "none"
        raise TargetVersionError(f"targets {year} {version} not found in {folder} (saved: {known})")
    path = files[number]["csv"]
    plan = read_plan_file(
        path,
        int(year),
        reference=reference,
        headline=f"saved version {version} of {year} breaks the plan contract; it is not used",
    ).assign(version=version)
    return plan[CONTRACT_COLUMNS + [c for c in plan.columns if c not in CONTRACT_COLUMNS]], path
