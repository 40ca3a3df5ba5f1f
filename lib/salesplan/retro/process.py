"""Process targets tracked: leads, won deals, new customers, opportunities reaching each stage,
stage conversion and visits per rep, against the process targets of the plan year.

The targets are the method's, computed for the report year by
:func:`salesplan.targets.process.process_targets` from the plan in force and the history before
the year (:func:`plan_process_targets`): per region ``leads``, ``won_deals``, ``new_customers``
(annual), ``leads_per_month = leads / 12`` and ``visits_per_rep_month``. An annual target is
spread evenly over the months (the method's "leads per month"): the year to date's target is
``annual x m / 12`` after month ``m``; a rep's visits target in a month is
``visits_per_rep_month(region) x availability(rep, month)`` (ramp, hire and leave dates,
:func:`salesplan.targets.allocation.rep_availability`).

From the pipeline snapshots (:func:`opportunity_history`): an opportunity is a lead in the month
it first appears, won or lost in the month of its first closed snapshot, and has reached a stage
once any snapshot shows that stage or a later one (won reaches every stage). Stage conversion
``c(s) = reached(next) / reached(s)`` (the last stage: won / reached) over the opportunities
closed in the period, so open ones do not bias it; its target is the same over the 12 months
before the plan year. Opportunities needed at stage ``s`` per month = won deals target per month /
``P(won | reached s)`` of those 12 months.

Status: :func:`salesplan.status.deviation_status` of the year to date against its target (the
flags' 5 / 10 / 15 % bands), with two exceptions:

* ``implausible`` (:func:`implausible`): the best month observed so far reached less than
  ``retro.process.implausible_below`` (50 %) of the monthly target: nobody has ever come close, so
  the target, not the team, is what to look at; the ``note`` says the best month observed;
* a rep who has left as of the month (:func:`salesplan.retro.flags.has_left`: the leave date is
  before the month's first day) carries no process target from then on: the year to date keeps the
  months they were there, the status is ``no_target`` and the ``note`` says ``left YYYY-MM-DD``.

Missing data is said (``needs table activities``), never filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
from salesplan.metrics import first_purchase, safe_ratio
from salesplan.retro.flags import has_left, leavers, left_label
from salesplan.retro.periods import as_period, window
from salesplan.settings import TargetsSettings, Thresholds
from salesplan.status import deviation_status

IMPLAUSIBLE = "implausible"
"""The status of a process target the team has never come close to (:func:`implausible`)."""

TRACK_COLUMNS = [
    "region", "measure", "month_actual", "month_target", "ytd_actual", "ytd_target", "best_month", "status", "note",
]  # fmt: skip
STAGE_COLUMNS = [
    "stage",
    "open_now",
    "open_amount",
    "reached_month",
    "needed_per_month",
    "reached_ytd",
    "needed_ytd",
    "conversion_ytd",
    "conversion_target",
    "status",
]
VISIT_COLUMNS = [
    "rep_id", "rep_name", "region", "month_visits", "month_target", "ytd_visits", "ytd_target", "best_month", "status",
    "note",
]  # fmt: skip


def planned_win_rate(targets: pd.DataFrame) -> float | None:
    """The win rate behind the process targets: ``won deals / leads`` summed over regions (None
    without targets or leads), the channel-conversion goal when none is configured."""
    if targets is None or not len(targets) or targets["leads"].sum() <= 0:
        return None
    return float(targets["won_deals"].sum() / targets["leads"].sum())


def needs(table: str) -> str:
    """How a page says that a measure's data is absent."""
    return f"needs table {table}"


def plan_process_targets(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    pipeline: pd.DataFrame | None,
    reps: pd.DataFrame,
    targets: TargetsSettings,
    year: int,
    *,
    activities: pd.DataFrame | None = None,
    visit_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The process targets of ``year`` per region, by the method
    (:func:`salesplan.targets.process.process_targets`) from ``plan`` (the plan in force, contract
    form: ``year, month, region, ..., target_amount``), the history before the year and the
    pipeline's funnel rates; ``targets``: the ``targets`` settings (``ramp``, ``process``). ``activities`` with
    ``visit_types`` (``retro.process.visit_types``): the visits per won deal observed before the year
    set the visits target (without them, ``targets.process.visits_per_lead``). Empty without a plan;
    with one, the derivation (every factor beside each target)."""
    from salesplan.targets import history_before, process_targets, rep_availability

    rows = plan.loc[plan["year"].astype(int) == int(year)] if len(plan) else plan
    history = history_before(cube, int(year))
    if rows is None or rows.empty or history.empty:
        return pd.DataFrame(columns=["region", "leads", "won_deals", "visits", "new_customers", "win_rate"])
    availability = rep_availability(reps, int(year), targets.ramp)
    return process_targets(
        rows,
        history,
        pipeline,
        targets.process,
        availability,
        activities=activities,
        reps=reps,
        visit_types=list(visit_types) if visit_types is not None else None,
    )


def opportunity_history(pipeline: pd.DataFrame, as_of: pd.Timestamp, stages: Sequence[str]) -> pd.DataFrame:
    """One row per opportunity seen in a snapshot up to ``as_of``: ``opportunity_id, region,
    rep_id, first_seen, status`` (of its latest snapshot), ``closed`` (date of its first won or
    lost snapshot, NaT while open), ``max_rank`` (highest stage reached, 0-based in ``stages``;
    won = ``len(stages)``) and ``reached_<k>``: the first snapshot date at which it had reached
    stage rank ``k`` (NaT if never), for ``k = 0 .. len(stages)``."""
    rank_of = {s: i for i, s in enumerate(stages)}
    snaps = pipeline.loc[pipeline["snapshot_date"] <= as_of].sort_values(["opportunity_id", "snapshot_date"])
    rank = snaps["stage"].astype(str).map(rank_of).fillna(0).astype(int)
    rank = rank.where(snaps["status"] != "won", len(stages))
    snaps = snaps.assign(_rank=rank.groupby(snaps["opportunity_id"]).cummax())
    grouped = snaps.groupby("opportunity_id", sort=True)
    out = grouped.agg(
        region=("region", "last"),
        rep_id=("rep_id", "last"),
        first_seen=("snapshot_date", "min"),
        status=("status", "last"),
        max_rank=("_rank", "max"),
    )
    closed = snaps.loc[snaps["status"] != "open"].groupby("opportunity_id")["snapshot_date"].min()
    out["closed"] = closed.reindex(out.index)
    for k in range(len(stages) + 1):
        out[f"reached_{k}"] = snaps.loc[snaps["_rank"] >= k].groupby("opportunity_id")["snapshot_date"].min()
    return out.reset_index()


def best_month(dates: pd.Series, end: pd.Timestamp, after: pd.Timestamp | None = None) -> tuple[float, pd.Timestamp]:
    """The best month so far of a count of events: ``max over months m of #{date in m}`` over the
    months up to ``end`` (as of the month's end) and, with ``after``, after that month only (the first
    month of a source counts what was already there, not what happened in it: opportunities open at
    the first snapshot, customers buying when the sales data start). Returns ``(count, month)``;
    ``(0, NaT)`` when no event fell in those months."""
    dates = as_dates(pd.Series(dates)).dropna()
    months = dates.loc[dates <= end].dt.to_period("M").dt.to_timestamp()
    if after is not None:
        months = months.loc[months > after]
    counts = months.value_counts()
    if counts.empty:
        return 0.0, pd.NaT
    top = counts.sort_index().idxmax()
    return float(counts[top]), pd.Timestamp(top)


def implausible(month_target: Any, best: Any, below: float) -> np.ndarray:
    """Whether a monthly target is out of reach: ``best < below x month_target``, the best month
    observed so far having reached less than ``below`` (``retro.process.implausible_below``, the
    method's 50 %) of it. False where the target is not positive or the best month is unknown (NaN:
    no data to judge by). Elementwise."""
    t = np.atleast_1d(np.asarray(month_target, dtype=float))
    b = np.atleast_1d(np.asarray(best, dtype=float))
    with np.errstate(invalid="ignore"):
        return np.isfinite(t) & (t > 0) & np.isfinite(b) & (b < float(below) * t)


def implausible_note(best: float, month: Any, month_target: float, below: float, unit: str = "month") -> str:
    """The note of an implausible target: ``"implausible: best month so far 41 (2026-03), under 50% of
    the target 79.5 a month"`` (``unit``: what the best and the target count per, e.g. ``rep-month``)."""
    when = f" ({pd.Timestamp(month):%Y-%m})" if month is not None and not pd.isna(month) else ""
    return (
        f"implausible: best {unit} so far {best:,.0f}{when}, under {float(below):.0%} of the target "
        f"{month_target:,.1f} a {unit}"
    )


def _plausibility(frame: pd.DataFrame, target: str, when: pd.Series, below: float | None, unit: str) -> pd.DataFrame:
    """``frame`` with the status ``implausible`` and its note where :func:`implausible` says so."""
    if below is None:
        return frame
    out = implausible(frame[target], frame["best_month"], below)
    if not out.any():
        return frame
    notes = [
        implausible_note(b, m, t, below, unit) for b, m, t in zip(frame["best_month"], when, frame[target], strict=True)
    ]
    return frame.assign(
        status=np.where(out, IMPLAUSIBLE, frame["status"]).astype(object),
        note=np.where(out, notes, frame["note"]).astype(object),
    )


def _count(dates: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> int:
    return int(dates.between(start, end).sum())


def _status(actual: Any, target: Any, thresholds: Thresholds | Mapping[str, float]) -> np.ndarray:
    return deviation_status(np.asarray(actual, dtype=float), np.asarray(target, dtype=float), thresholds)


def funnel_tracking(
    history: pd.DataFrame | None,
    cube: pd.DataFrame,
    targets: pd.DataFrame,
    month: str | pd.Period,
    thresholds: Thresholds | Mapping[str, float],
    *,
    implausible_below: float | None = None,
) -> pd.DataFrame:
    """Leads, won deals and new customers per region and for the company, the month and the year
    to date against the process targets (module docstring). ``history``: :func:`opportunity_history`
    (None without a pipeline: leads and won deals are left out); ``targets``:
    :func:`plan_process_targets`. New customers: first purchase (positive net) in the period,
    counted in the region of that first month's purchases.

    ``best_month``: the best month so far (:func:`best_month`, up to the month's end; leads after the
    first snapshot's month, new customers after the sales data's first month). With
    ``implausible_below`` (``retro.process.implausible_below``) a monthly target the best month
    reached less than that share of is ``implausible`` (:func:`implausible`), its ``note`` saying the
    best month. Columns :data:`TRACK_COLUMNS`."""
    p = as_period(month)
    mon, ytd = window(p, "month"), window(p, "ytd")
    mon_end, ytd_end = p.to_timestamp(how="end").normalize(), p.to_timestamp(how="end").normalize()
    share = p.month / 12.0
    tgt = targets.set_index("region") if len(targets) else pd.DataFrame()
    regions = sorted(set(tgt.index.astype(str)) | set(cube["region"].astype(str).unique()))
    seen = cube.loc[cube["month"] <= mon.end]
    first = first_purchase(seen, date="month")
    first_rows = cube.assign(_first=cube["customer_id"].map(first))
    first_rows = first_rows.loc[first_rows["month"] == first_rows["_first"]]
    first_region = first_rows.groupby("customer_id")["region"].first()
    first_month = first.reindex(first_region.index)
    new_month = first_region[first_month.between(mon.start, mon.end)]
    new_ytd = first_region[first_month.between(ytd.start, ytd.end)]
    sales_start = pd.Timestamp(seen["month"].min()) if len(seen) else None
    snapshot_start = (
        pd.Timestamp(history["first_seen"].min()).to_period("M").to_timestamp()
        if history is not None and len(history)
        else None
    )
    rows, when = [], []
    for region in [*regions, "(all)"]:
        if region == "(all)":
            t = tgt.sum(numeric_only=True) if len(tgt) else pd.Series(dtype=float)
            h = history
            nm, ny = len(new_month), len(new_ytd)
            first_dates = first_month
        else:
            t = tgt.loc[region] if region in tgt.index else pd.Series(dtype=float)
            h = history.loc[history["region"].astype(str) == region] if history is not None else None
            nm, ny = int((new_month == region).sum()), int((new_ytd == region).sum())
            first_dates = first_month[first_region == region]
        annual = {k: float(t.get(k, np.nan)) for k in ("leads", "won_deals", "new_customers")}
        if h is not None:
            won = h.loc[h["status"] == "won", "closed"]
            best, at = best_month(h["first_seen"], mon_end, after=snapshot_start)
            rows.append(
                (region, "leads", _count(h["first_seen"], mon.start, mon_end), annual["leads"] / 12,
                 _count(h["first_seen"], ytd.start, ytd_end), annual["leads"] * share, best)
            )  # fmt: skip
            when.append(at)
            best, at = best_month(won, mon_end)
            rows.append(
                (region, "won deals", _count(won, mon.start, mon_end), annual["won_deals"] / 12,
                 _count(won, ytd.start, ytd_end), annual["won_deals"] * share, best)
            )  # fmt: skip
            when.append(at)
        best, at = best_month(first_dates, mon_end, after=sales_start)
        rows.append(
            (region, "new customers", nm, annual["new_customers"] / 12, ny, annual["new_customers"] * share, best)
        )
        when.append(at)
    out = pd.DataFrame(rows, columns=[c for c in TRACK_COLUMNS if c not in ("status", "note")])
    out["status"] = _status(out["ytd_actual"], out["ytd_target"], thresholds)
    out["note"] = ""
    out = _plausibility(out, "month_target", pd.Series(when), implausible_below, "month")
    return out[TRACK_COLUMNS]


def stage_tracking(
    history: pd.DataFrame,
    pipeline: pd.DataFrame,
    month: str | pd.Period,
    stages: Sequence[str],
    won_per_month: float,
    thresholds: Thresholds | Mapping[str, float],
) -> tuple[pd.DataFrame, str]:
    """Opportunities by stage (module docstring): open now (count and amount in the latest
    snapshot up to the month's end), reached in the month and the year to date against the
    number needed, and stage conversion of the year to date against the 12 months before the
    year. ``won_per_month``: the company's won-deals target per month. Returns the table
    (:data:`STAGE_COLUMNS`) and a sentence on the bases."""
    p = as_period(month)
    mon, ytd = window(p, "month"), window(p, "ytd")
    end = p.to_timestamp(how="end").normalize()
    base_start, base_end = pd.Timestamp(p.year - 1, 1, 1), pd.Timestamp(p.year, 1, 1) - pd.Timedelta(days=1)
    snaps = pipeline.loc[pipeline["snapshot_date"] <= end]
    latest = snaps.loc[(snaps["snapshot_date"] == snaps["snapshot_date"].max()) & (snaps["status"] == "open")]
    open_count = latest.groupby("stage").size()
    open_amount = latest.groupby("stage")["amount"].sum()
    closed_ytd = history.loc[history["closed"].between(ytd.start, end)]
    closed_base = history.loc[history["closed"].between(base_start, base_end)]
    n = len(stages)

    def reached(frame: pd.DataFrame, k: int) -> int:
        return int((frame["max_rank"] >= k).sum())

    rows = []
    for k, stage in enumerate(stages):
        won_base = reached(closed_base, n)
        p_win = safe_ratio(float(won_base), float(reached(closed_base, k)))
        needed = won_per_month / p_win if np.isfinite(p_win) and p_win > 0 else np.nan
        dates = history[f"reached_{k}"]
        rows.append(
            {
                "stage": stage,
                "open_now": int(open_count.get(stage, 0)),
                "open_amount": float(open_amount.get(stage, 0.0)),
                "reached_month": _count(dates, mon.start, end),
                "needed_per_month": needed,
                "reached_ytd": _count(dates, ytd.start, end),
                "needed_ytd": needed * p.month,
                "conversion_ytd": safe_ratio(float(reached(closed_ytd, k + 1)), float(reached(closed_ytd, k))),
                "conversion_target": safe_ratio(float(reached(closed_base, k + 1)), float(reached(closed_base, k))),
            }
        )
    out = pd.DataFrame(rows)
    out["status"] = _status(out["conversion_ytd"], out["conversion_target"], thresholds)
    note = (
        f"conversion to the next stage (the last: to won) over {len(closed_ytd)} opportunities closed in {p.year} "
        f"to date; target over {len(closed_base)} closed in {p.year - 1}"
        + (" (the pipeline data start later: no target)" if closed_base.empty else "")
    )
    return out[STAGE_COLUMNS], note


def visits_tracking(
    activities: pd.DataFrame | None,
    reps: pd.DataFrame,
    targets: pd.DataFrame,
    month: str | pd.Period,
    visit_types: Sequence[str],
    ramp: Sequence[float],
    thresholds: Thresholds | Mapping[str, float],
    *,
    implausible_below: float | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """Visits per rep: the month and the year to date against ``visits_per_rep_month`` of the
    rep's region x the rep's availability each month (module docstring). Visits = activities
    whose ``activity_type`` is one of ``visit_types``, dated up to the month's end.

    * A rep who has left as of ``month`` (:func:`salesplan.retro.flags.has_left`) has no target in
      it (0) and no status (``no_target``), the ``note`` says ``left YYYY-MM-DD``; the year to date
      keeps the months they were there (their visits and targets of those months only).
    * ``best_month``: the best visits any rep of the region made in one month so far
      (:func:`best_month`); with ``implausible_below`` a region's ``visits_per_rep_month`` (a full
      month's target) the best reached less than that share of makes the rep's status
      ``implausible`` (:func:`implausible`).

    Returns (None, "needs table activities") without activities; reps with neither availability
    nor visits this year are left out. Columns :data:`VISIT_COLUMNS`."""
    if activities is None:
        return None, needs("activities")
    from salesplan.targets import rep_availability

    p = as_period(month)
    end = p.to_timestamp(how="end").normalize()
    avail = rep_availability(reps, p.year, ramp)
    avail = avail.loc[avail["month"] <= p.to_timestamp()].assign(rep_id=lambda a: a["rep_id"].astype(str))
    per_rep_month = targets.set_index("region")["visits_per_rep_month"] if len(targets) else pd.Series(dtype=float)
    avail = avail.assign(target=avail["availability"] * avail["region"].astype(str).map(per_rep_month))
    visits = activities.loc[
        activities["activity_type"].astype(str).isin(list(visit_types)) & (activities["activity_date"] <= end)
    ].assign(rep_id=lambda a: a["rep_id"].astype(str))
    vmonth = visits["activity_date"].dt.to_period("M").dt.to_timestamp()
    counts = visits.groupby([visits["rep_id"], vmonth]).size()
    gone = leavers(reps, p)
    leave = avail["rep_id"].map(gone)
    # After the leave date nothing counts for the rep: neither a target nor (stray) visits.
    gone_by = has_left(leave.to_numpy(dtype=object), avail["month"].to_numpy())
    avail["visits"] = [
        0 if out else int(counts.get((r, m), 0))
        for r, m, out in zip(avail["rep_id"], avail["month"], gone_by, strict=True)
    ]
    this = avail["month"] == p.to_timestamp()
    table = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")
    names = table["rep_name"]
    grouped = avail.groupby("rep_id", sort=True)
    out = pd.DataFrame(
        {
            "region": grouped["region"].first(),
            "month_visits": avail.loc[this].groupby("rep_id")["visits"].sum(),
            "month_target": avail.loc[this].groupby("rep_id")["target"].sum(),
            "ytd_visits": grouped["visits"].sum(),
            "ytd_target": grouped["target"].sum(),
            "availability": grouped["availability"].sum(),
        }
    ).fillna({"month_visits": 0, "month_target": 0.0})
    out = out.loc[(out["availability"] > 0) | (out["ytd_visits"] > 0)].drop(columns="availability")
    out = out.rename_axis("rep_id").reset_index()
    out["rep_name"] = out["rep_id"].map(names)
    # The team's best: the most visits any rep of the region made in one month so far.
    per_rep = (
        counts.rename("visits").reset_index().assign(region=lambda c: c["rep_id"].map(table["region"]).astype(str))
    )
    best = per_rep.sort_values("visits", ascending=False, kind="stable").drop_duplicates("region").set_index("region")
    out["best_month"] = out["region"].astype(str).map(best["visits"]).fillna(0.0).astype(float)
    out["status"] = _status(out["ytd_visits"], out["ytd_target"], thresholds)
    out["note"] = ""
    full = out.assign(full_target=out["region"].astype(str).map(per_rep_month).astype(float))
    out = _plausibility(
        full, "full_target", out["region"].astype(str).map(best["activity_date"]), implausible_below, "rep-month"
    ).drop(columns="full_target")
    left = out["rep_id"].isin(gone.index)
    out.loc[left, "status"] = "no_target"
    out.loc[left, "note"] = [left_label(gone[r]) for r in out.loc[left, "rep_id"]]
    out = out.astype({"month_visits": "int64", "ytd_visits": "int64"})
    return out[VISIT_COLUMNS], (
        f"visits = activities of type {', '.join(visit_types)}; target = the region's visits per rep-month "
        "x the rep's availability (ramp, hire and leave dates); no target after a rep's leave date"
    )
