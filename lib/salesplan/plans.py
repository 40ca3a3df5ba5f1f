"""The plan in force: which targets a month is measured against, with its provenance.

One rule, used by every notebook, the run's index, the exports and the command line.
For each month of a year, in this order:

1. an explicitly **requested** version (notebook parameter ``plan_version`` or
   ``salesplan run --plan vN``), for every month;
2. the **approved** version: among the year's approvals (``approvals.jsonl`` in the plan
   folder) whose first month is on or before the month, the one with the latest first month
   (a forward revision wins from its month on; earlier months keep what they had); on a tie
   the later approval;
3. the ``targets*`` table **supplied** with the data, where it has rows for the year;
4. **no plan**: the pack shows actuals, trend and forecast without attainment, flags or
   commissions, and says so.

A saved draft or scenario is never in force until someone approves it. The plan folder is
``targets`` beside the data folder the run was given (:func:`plan_folder`), for reading and
writing alike, so plans of different data sets never mix.

Closed months stay closed. Under rule 2 a month's plan moves only when an approval whose
first month is on or before it is added to the log. Once a month's retrospective is published
(:func:`salesplan.retro.restatement.closed_months`), ``salesplan targets approve`` refuses such
an approval unless it is an explicit restatement (``--restate``, logged as ``restate`` with the
``restated_months``); an approval starting after every closed month moves only open months.
So without a restatement no published figure changes, and a restatement is shown, published
beside restated, by the next pack (:func:`salesplan.retro.restatement.restatement_for`).

Every plan used is read by the one plan contract (:func:`salesplan.targets.versions.read_plan_file`).
What stops a year's plan from being settled is a typed error the command line prints (exit 2):
:class:`salesplan.targets.versions.PlanContractError` (the problem table) for a version that
breaks the contract, :class:`PlanInForceError` for a damaged approvals log or an approved version
that is missing or changed, and :class:`salesplan.targets.versions.TargetVersionError` only for a
requested version (``--plan``) that does not exist.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.config import PROJECT_ROOT, resolve_path
from salesplan.targets.versions import (
    CONTRACT_COLUMNS,
    Approval,
    PlanReference,
    TargetVersionError,
    _normalise_version,
    approval_per_month,
    plan_file_sha256,
    read_approvals,
    read_version,
    targets_dir_for,
)

SOURCES = ("requested", "approved", "supplied", "none")
MONTH_COLUMNS = ["month", "source", "version", "approved_at", "approved_by", "note", "sha256", "file"]
APPROVAL_COLUMNS = [
    "year", "version", "from_month", "by", "note", "approved_at", "sha256", "restate", "restated_months",
]  # fmt: skip
"""Columns of :attr:`PlanInForce.approvals` (the fields of :class:`salesplan.targets.versions.Approval`)."""


class PlanInForceError(ValueError):
    """The plan in force of a year cannot be settled: the approvals log is damaged, or an approved
    version is missing or changed since its approval. Not about ``--plan``: that asks for a version."""


def plan_folder(data_dir: str | os.PathLike[str]) -> Path:
    """Where saved versions and approvals of the data in ``data_dir`` live: ``targets`` beside it."""
    return targets_dir_for(data_dir)


@dataclass
class PlanInForce:
    """The plan a year is measured against, month by month.

    ``frame``: the plan rows in force (data-contract columns ``year, month`` 1-12, ``region,
    product_line, rep_id, target_amount, version``), empty without a plan. ``months``: one
    row per month 1-12 with ``source`` (requested / approved / supplied / none), ``version``,
    ``approved_at``, ``approved_by``, ``note``, ``sha256`` of the plan file and ``file`` (its
    name). ``revisions``: the year's approvals with how much each moved each quarter it touched.
    ``approvals``: the year's lines of the append-only approval log (oldest first).
    """

    year: int
    frame: pd.DataFrame
    months: pd.DataFrame
    folder: Path
    revisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    approvals: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def has_plan(self) -> bool:
        """True when at least one month of the year has a plan."""
        return bool((self.months["source"] != "none").any())

    def month(self, month: int | str | pd.Period) -> dict[str, Any]:
        """The provenance row of one month (1-12, "YYYY-MM" or a Period)."""
        m = _month_number(month)
        row = self.months.loc[self.months["month"] == m].iloc[0]
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.to_dict().items()}

    def segments(self) -> pd.DataFrame:
        """Consecutive months with the same plan: ``months, source, version, approved_at, approved_by,
        note, sha256`` (``months`` as ``YYYY-MM .. YYYY-MM``)."""
        m = self.months.fillna({"version": "", "sha256": "", "approved_at": "", "approved_by": "", "note": ""})
        key = m[["source", "version", "sha256", "approved_at"]].astype(str).agg("|".join, axis=1)
        group = (key != key.shift()).cumsum()
        rows = []
        for _, part in m.groupby(group, sort=True):
            first, last = int(part["month"].min()), int(part["month"].max())
            row = part.iloc[0].to_dict()
            row["months"] = f"{self.year}-{first:02d}" + ("" if first == last else f" .. {self.year}-{last:02d}")
            rows.append(row)
        cols = ["months", "source", "version", "approved_at", "approved_by", "note", "sha256", "file"]
        return pd.DataFrame(rows)[cols]

    def describe(self, month: int | str | pd.Period | None = None) -> str:
        """One plain sentence: the plan used (for ``month``, else the whole year), its source,
        version, approval and checksum; the other months' plans when they differ."""
        if not self.has_plan:
            return (
                f"No plan for {self.year}: no approved version in {_shown(self.folder)} and no {self.year} rows in "
                "a targets table supplied with the data. Actuals, trend and forecast are shown without "
                "attainment, flags or commissions."
            )
        parts = []
        segments = self.segments()
        for seg in segments.to_dict(orient="records"):
            parts.append(f"{seg['months']}: {_segment_text(seg)}")
        text = "; ".join(parts)
        if month is not None:
            row = self.month(month)
            lead = f"Plan for {self.year}-{_month_number(month):02d}: {_segment_text(row)}"
            return lead if len(segments) == 1 else f"{lead}. Year {self.year} by months: {text}"
        return f"Plan {self.year}: {text}"

    def headline_figure(self, month: int | str | pd.Period) -> dict[str, Any]:
        """The plan used, as a headline figure (:func:`salesplan.publish.headline`) for every page."""
        row = self.month(month)
        value = {
            "requested": f"{row['version']} (requested)",
            "approved": f"{row['version']} (approved)",
            "supplied": "supplied targets table",
            "none": "no plan",
        }[row["source"]]
        return {"label": f"Plan {self.year}", "value": value, "raw": None, "note": _segment_text(row)}

    def provenance(self, month: int | str | pd.Period | None = None) -> dict[str, Any]:
        """The plan used, as plain JSON-ready values (for run.json, summaries and exports)."""
        out: dict[str, Any] = {
            "year": self.year,
            "has_plan": self.has_plan,
            "folder": _shown(self.folder),
            "segments": self.segments().to_dict(orient="records"),
            "text": self.describe(month),
        }
        if month is not None:
            out["month"] = self.month(month)
        return out


def _month_number(month: int | str | pd.Period) -> int:
    if isinstance(month, int | np.integer):
        return int(month)
    return pd.Period(str(month), freq="M").month


def _shown(path: Path) -> str:
    """A path as pages show it: relative to the project when inside it (no machine details)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return Path(path).name


def _segment_text(row: dict[str, Any]) -> str:
    get = row.get
    source = get("source")
    if source == "none":
        return "no plan"
    sha = (get("sha256") or "")[:12]
    if source == "supplied":
        return f"targets table supplied with the data ({get('file')}, sha256 {sha})"
    what = f"version {get('version')} ({get('file')}, sha256 {sha})"
    if source == "requested":
        return f"requested {what}, not necessarily approved"
    who = get("approved_by") or "unknown"
    when = (get("approved_at") or "date not recorded")[:10]
    note = get("note")
    return f"approved {what}, approved {when} by {who}" + (f' ("{note}")' if note else "")


def _frame_months(frame: pd.DataFrame) -> pd.Series:
    month = frame["month"]
    if pd.api.types.is_datetime64_any_dtype(month):
        return month.dt.month.astype(int)
    return pd.to_numeric(month).astype(int)


def resolve_plan(
    year: int,
    data_dir: str | os.PathLike[str],
    *,
    requested: str | None = None,
    supplied: pd.DataFrame | None = None,
    supplied_files: pd.DataFrame | None = None,
    revision_flag_share: float | None = None,
    reference: PlanReference | None = None,
) -> PlanInForce:
    """The plan in force for each month of ``year`` by the rule in the module docstring.

    ``data_dir``: the data folder the run was given (plans live in :func:`plan_folder`).
    ``requested``: an explicit version ("v2"); it must exist. ``supplied``: the ``targets``
    table loaded with the data; ``supplied_files``: its source files (``Dataset.sources``
    rows: ``table, file, sha256``) for the checksum. ``revision_flag_share``: revisions moving
    a quarter by more than this share are flagged in :attr:`PlanInForce.revisions`.
    ``reference``: the data's regions, product lines and reps, to check the saved versions used
    against (:class:`salesplan.targets.versions.PlanReference`); without it the checks that need
    no data still apply.
    Raises :class:`TargetVersionError` for a requested version that does not exist,
    :class:`salesplan.targets.versions.PlanContractError` for a version used that breaks the plan
    contract and :class:`PlanInForceError` for a damaged approvals log or an approved version
    that is missing or changed after it was approved.
    """
    year = int(year)
    folder = plan_folder(data_dir)
    try:
        approved = [a for a in read_approvals(folder) if a.year == year]
    except TargetVersionError as exc:
        raise PlanInForceError(f"the plan in force for {year} cannot be settled: {exc}") from None
    months = pd.DataFrame({"month": range(1, 13)}).assign(
        source="none", version=None, approved_at=None, approved_by=None, note=None, sha256=None, file=None
    )
    pieces: dict[int, pd.DataFrame] = {}

    def take(months_mask: np.ndarray, frame: pd.DataFrame, info: dict[str, Any]) -> None:
        nums = months.loc[months_mask, "month"].tolist()
        for key, value in info.items():
            months.loc[months_mask, key] = value
        in_months = _frame_months(frame)
        for m in nums:
            pieces[m] = frame.loc[in_months == m]

    if requested is not None:
        version = _normalise_version(requested)
        frame, path = read_version(year, version, folder, reference=reference)
        take(
            np.ones(12, dtype=bool),
            frame,
            {"source": "requested", "version": version, "sha256": plan_file_sha256(path), "file": path.name},
        )
    else:
        chosen = approval_per_month(approved, year)
        loaded: dict[str, tuple[pd.DataFrame, Path, str]] = {}
        for m, approval in chosen.items():
            if approval.version not in loaded:
                try:
                    frame, path = read_version(year, approval.version, folder, reference=reference)
                except TargetVersionError as exc:
                    raise PlanInForceError(
                        f"{approval.version} of {year}, approved on {(approval.approved_at or '?')[:10]} by "
                        f"{approval.by or 'unknown'}, cannot be read: {exc}"
                    ) from None
                digest = plan_file_sha256(path)
                if approval.sha256 and approval.sha256 != digest:
                    raise PlanInForceError(
                        f"{path}: the plan file changed after it was approved on {approval.approved_at} "
                        f"(sha256 then {approval.sha256[:12]}, now {digest[:12]}); an approved version never "
                        "changes: restore it, and save the edited plan as a new version to approve"
                    )
                loaded[approval.version] = (frame, path, digest)
            frame, path, digest = loaded[approval.version]
            take(
                (months["month"] == m).to_numpy(),
                frame,
                {
                    "source": "approved",
                    "version": approval.version,
                    "approved_at": approval.approved_at,
                    "approved_by": approval.by or None,
                    "note": approval.note or None,
                    "sha256": digest,
                    "file": path.name,
                },
            )
        rows = _supplied_rows(supplied, year)
        if rows is not None:
            free = (months["source"] == "none").to_numpy() & months["month"].isin(set(_frame_months(rows))).to_numpy()
            if free.any():
                files = _supplied_files(supplied_files)
                take(
                    free,
                    rows,
                    {
                        "source": "supplied",
                        "version": "supplied",
                        "sha256": files["sha256"],
                        "file": files["file"],
                    },
                )
    parts = [pieces[m] for m in sorted(pieces)]
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype="object") for c in CONTRACT_COLUMNS})
    )
    if len(frame):
        frame = frame.assign(
            year=frame["year"].astype(int),
            month=_frame_months(frame),
            region=frame["region"].astype(str),
            product_line=frame["product_line"].astype(str),
            rep_id=frame["rep_id"].astype(str),
            target_amount=pd.to_numeric(frame["target_amount"]),
        )
    months = months.astype({"month": int})
    log = pd.DataFrame([a.__dict__ for a in approved], columns=APPROVAL_COLUMNS)
    plan = PlanInForce(year=year, frame=frame.reset_index(drop=True), months=months, folder=folder, approvals=log)
    if requested is None and revision_flag_share is not None:
        try:
            plan.revisions = revision_changes(
                year, folder, revision_flag_share, supplied=_supplied_rows(supplied, year)
            )
        except TargetVersionError as exc:  # an earlier approval's version, no longer in force, is gone
            raise PlanInForceError(f"the revisions of {year} cannot be compared: {exc}") from None
    return plan


def _approval_per_month(approvals: list[Approval], year: int) -> dict[int, Approval]:
    """For each month, the approval in force (:func:`salesplan.targets.versions.approval_per_month`)."""
    return approval_per_month(approvals, year)


def _supplied_rows(supplied: pd.DataFrame | None, year: int) -> pd.DataFrame | None:
    if supplied is None or supplied.empty:
        return None
    rows = supplied.loc[pd.to_numeric(supplied["year"], errors="coerce") == year]
    if rows.empty:
        return None
    rows = rows.assign(version="supplied") if "version" not in rows.columns else rows
    return rows[CONTRACT_COLUMNS + [c for c in rows.columns if c not in CONTRACT_COLUMNS]]


def _supplied_files(sources: pd.DataFrame | None) -> dict[str, str | None]:
    if sources is None or sources.empty:
        return {"file": "targets table", "sha256": None}
    rows = sources.loc[sources["table"] == "targets"]
    if rows.empty:
        return {"file": "targets table", "sha256": None}
    names = ", ".join(Path(str(f)).name for f in rows["file"])
    # Several files: one checksum over their checksums, in file order.
    digests = [str(d) for d in rows["sha256"]]
    if len(digests) == 1:
        return {"file": names, "sha256": digests[0]}
    import hashlib

    return {"file": names, "sha256": hashlib.sha256("".join(digests).encode()).hexdigest()}


def revision_changes(
    year: int,
    folder: str | os.PathLike[str],
    flag_share: float,
    supplied: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each approval of ``year`` against the plan in force just before it, per quarter it touches.

    ``change = after / before - 1`` over the quarter's months from the approval's first month
    on; ``flagged`` when ``|change| > flag_share`` (the method: a quarterly revision stays
    within 10 %; more needs an explicit exception). The plan before the first approval is the
    supplied targets table where there is one (else that approval has nothing to compare).
    Columns ``approved_at, approved_by, version, from_month, quarter, before, after, change, flagged``.
    """
    cols = ["approved_at", "approved_by", "version", "from_month", "quarter", "before", "after", "change", "flagged"]
    approvals = [a for a in read_approvals(folder) if a.year == int(year)]
    current: dict[int, pd.Series] = {}  # month -> plan total per month in force before each approval
    if supplied is not None and len(supplied):
        by_month = supplied.groupby(_frame_months(supplied))["target_amount"].sum()
        current = {int(m): float(v) for m, v in by_month.items()}
    rows = []
    cache: dict[str, pd.Series] = {}
    for a in approvals:
        if a.version not in cache:
            frame, _path = read_version(year, a.version, folder)
            cache[a.version] = frame.groupby(_frame_months(frame))["target_amount"].sum().astype(float)
        after = cache[a.version]
        start = int(a.from_month[5:7])
        touched = [m for m in range(start, 13)]
        for q in sorted({(m - 1) // 3 + 1 for m in touched}):
            qm = [m for m in touched if (m - 1) // 3 + 1 == q]
            if not all(m in current for m in qm):
                continue
            before_q = float(sum(current[m] for m in qm))
            after_q = float(sum(after.get(m, 0.0) for m in qm))
            change = after_q / before_q - 1 if before_q else float("nan")
            rows.append(
                {
                    "approved_at": a.approved_at,
                    "approved_by": a.by,
                    "version": a.version,
                    "from_month": a.from_month,
                    "quarter": f"Q{q}",
                    "before": before_q,
                    "after": after_q,
                    "change": change,
                    "flagged": bool(np.isfinite(change) and abs(change) > flag_share),
                }
            )
        for m in touched:
            current[m] = float(after.get(m, 0.0))
    return pd.DataFrame(rows, columns=cols)


def approve_command(
    year: int,
    version: str,
    data_dir: str | os.PathLike[str] = "data/raw",
    *,
    reports_dir: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> str:
    """The command that approves ``version`` of ``year`` for the data in ``data_dir`` (pages print it).

    It runs as printed from the project root, for data anywhere: each path is the one given to
    the run (:func:`command_path`: a relative path as given, since relative paths are taken from
    the project root; an absolute one relative to the project root when inside it, else absolute),
    shell-quoted. ``--data`` is named unless it is the default ``data/raw``; ``reports_dir``: the
    reports folder whose published months are closed, named when not ``reports``; ``config_path``
    named when not ``config/salesplan.yaml``.
    """
    options = ""
    for flag, path, default in (
        ("--data", data_dir, "data/raw"),
        ("--reports", reports_dir, "reports"),
        ("--config", config_path, "config/salesplan.yaml"),
    ):
        if path is not None and resolve_path(path) != resolve_path(default):
            options += f" {flag} {shlex.quote(command_path(path))}"
    return (
        f"salesplan targets approve --year {int(year)} --version {_normalise_version(version)}{options} "
        '--by "NAME" --note "WHAT WAS AGREED"'
    )


def command_path(path: str | os.PathLike[str]) -> str:
    """A path as a printed command names it, so the command runs from the project root: relative
    as given (relative paths are taken from the project root), an absolute path inside the project
    relative to it, any other absolute path as it is."""
    raw = Path(path).expanduser()
    if not raw.is_absolute():
        return raw.as_posix()
    for root in (PROJECT_ROOT, PROJECT_ROOT.resolve()):
        try:
            return raw.relative_to(root).as_posix() or "."
        except ValueError:
            continue
    return str(raw)


def plans_overview(
    data_dir: str | os.PathLike[str],
    years: list[int],
    supplied: pd.DataFrame | None = None,
    supplied_files: pd.DataFrame | None = None,
    reference: PlanReference | None = None,
) -> pd.DataFrame:
    """What is in force for each month of ``years``: ``year`` plus the :meth:`PlanInForce.segments` columns
    (``reference``: as for :func:`resolve_plan`)."""
    parts = []
    for year in years:
        plan = resolve_plan(year, data_dir, supplied=supplied, supplied_files=supplied_files, reference=reference)
        parts.append(plan.segments().assign(year=year))
    if not parts:
        return pd.DataFrame(columns=["year", "months", "source", "version", "approved_at", "approved_by", "note"])
    out = pd.concat(parts, ignore_index=True)
    return out[["year", *[c for c in out.columns if c != "year"]]]
