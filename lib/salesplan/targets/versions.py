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
    tmp = _temp_file(path)
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
    """Every approval recorded in the folder, oldest first (legacy ``approved.yaml`` entries first)."""
    folder = targets_dir_path(targets_dir)
    out: list[Approval] = []
    legacy = folder / LEGACY_APPROVALS_FILE
    if legacy.exists():
        try:
            content = yaml.safe_load(legacy.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TargetVersionError(f"{legacy}: cannot read the approval registry ({exc})") from None
        if not isinstance(content, dict):
            raise TargetVersionError(f"{legacy}: the approval registry must map year -> version")
        out += [Approval(int(y), _normalise_version(v), f"{int(y)}-01", "", "", None, None) for y, v in content.items()]
    log = folder / APPROVALS_LOG
    if log.exists():
        for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                out.append(
                    Approval(
                        year=int(entry["year"]),
                        version=_normalise_version(entry["version"]),
                        from_month=str(entry["from_month"]),
                        by=str(entry["by"]),
                        note=str(entry.get("note") or ""),
                        approved_at=entry.get("approved_at"),
                        sha256=entry.get("sha256"),
                        # Absent in lines written before restatements existed: an ordinary approval.
                        restate=bool(entry.get("restate", False)),
                        restated_months=tuple(str(m) for m in entry.get("restated_months") or ()),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise TargetVersionError(f"{log}, line {number}: not a valid approval record ({exc})") from None
    return out


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
) -> Approval:
    """Approve saved ``version`` (``"v3"`` or ``3``) of ``year`` as the plan, for the whole year or,
    with ``from_month`` ("YYYY-MM" within the year), from that month forward only (a revision:
    earlier months keep the plan they were measured against).

    Appends one line to ``approvals.jsonl`` (never rewritten); the version files stay untouched.
    ``by`` (who approves) is required.

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
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", start) or int(start[:4]) != year:
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
    entry = Approval(
        year=year,
        version=version,
        from_month=start,
        by=str(by).strip(),
        note=str(note or "").strip(),
        approved_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        sha256=plan_file_sha256(paths["csv"]),
        restate=bool(restated),
        restated_months=tuple(restated),
    )
    line = json.dumps(entry.__dict__, ensure_ascii=False, sort_keys=True) + "\n"
    with FileLock(str(folder / f".{APPROVALS_LOG}.lock")), open(folder / APPROVALS_LOG, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return entry


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
        month = pd.to_datetime(
            pd.DataFrame({"year": plan["year"].astype(int), "month": plan["month"].astype(int), "day": 1})
        )
    return (
        plan.assign(month=month)
        .groupby(["rep_id", "month"], as_index=False)[amount]
        .sum()
        .rename(columns={amount: "target"})
    )


def read_version(
    year: int, version: str, targets_dir: str | os.PathLike[str] | None = None
) -> tuple[pd.DataFrame, Path]:
    """A saved version's plan in the data contract's columns (:data:`CONTRACT_COLUMNS` first) and its file."""
    folder = targets_dir_path(targets_dir)
    version = _normalise_version(version)
    files = {n: p for (y, n), p in _version_files(folder).items() if y == int(year) and "csv" in p}
    number = int(version[1:])
    if number not in files:
        known = ", ".join(f"v{n}" for n in sorted(files)) or "none"
        raise TargetVersionError(f"targets {year} {version} not found in {folder} (saved: {known})")
    path = files[number]["csv"]
    plan = pd.read_csv(path, dtype={"region": str, "product_line": str, "rep_id": str, "version": str})
    missing = sorted(set(CONTRACT_COLUMNS) - set(plan.columns))
    if missing:
        raise TargetVersionError(f"{path}: missing column(s) {', '.join(missing)}")
    return plan[CONTRACT_COLUMNS + [c for c in plan.columns if c not in CONTRACT_COLUMNS]], path
