"""Target setting and decomposition.

The annual number three ways (historical baseline + increments, top-down, bottom-up), their
reconciliation by a stated rule, phasing into months, allocation to region x product line x rep
(ramp for new hires, nothing after a leave date, optional over-assignment buffer), exact whole-unit
rounding so every level adds up, result vs process targets, and write-once saved versions.

:func:`build_targets` runs the whole method; the step functions are exported for notebooks that
walk through it one step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesplan.config import deep_merge
from salesplan.dates import as_dates
from salesplan.settings import ScenarioTargets, TargetsSettings
from salesplan.targets.allocation import (
    BASES,
    NO_TIER,
    TOTALS,
    UNASSIGNED,
    allocate,
    cell_bases,
    fit_to_totals,
    product_line_tiers,
    region_cell_shares,
    rep_availability,
    rep_cell_weights,
)
from salesplan.targets.annual import (
    annual_periods,
    baseline,
    bottom_up_regions,
    bottom_up_reps,
    history_before,
    last_history_month,
    reconcile,
    top_down,
)
from salesplan.targets.phasing import monthly_shares, phase_total, phasing_from_config
from salesplan.targets.process import funnel_rates, process_targets, result_targets
from salesplan.targets.rounding import TargetInputError, controlled_round, largest_remainder
from salesplan.targets.versions import (
    CONTRACT_COLUMNS,
    PLAN_COLUMNS,
    SaveResult,
    TargetVersionError,
    approve_version,
    canonical_plan,
    list_versions,
    load_assumptions,
    plan_hash,
    read_approvals,
    read_version,
    rep_month_targets,
    save_plan,
    targets_dir_for,
)

__all__ = [
    "BASES",
    "CONTRACT_COLUMNS",
    "NO_TIER",
    "PLAN_COLUMNS",
    "TOTALS",
    "UNASSIGNED",
    "SaveResult",
    "TargetInputError",
    "TargetPlan",
    "TargetVersionError",
    "active_reps",
    "allocate",
    "annual_periods",
    "approve_version",
    "baseline",
    "bottom_up_regions",
    "bottom_up_reps",
    "build_targets",
    "canonical_plan",
    "cell_bases",
    "coherence_report",
    "compare_scenarios",
    "controlled_round",
    "fit_to_totals",
    "funnel_rates",
    "history_before",
    "largest_remainder",
    "last_history_month",
    "list_versions",
    "load_assumptions",
    "read_approvals",
    "read_version",
    "monthly_shares",
    "phase_total",
    "phasing_from_config",
    "plan_hash",
    "process_targets",
    "product_line_tiers",
    "reconcile",
    "region_cell_shares",
    "rep_availability",
    "rep_cell_weights",
    "rep_month_targets",
    "result_targets",
    "save_plan",
    "scenario_config",
    "targets_dir_for",
    "top_down",
]


def scenario_config(targets: TargetsSettings, scenario: str) -> ScenarioTargets:
    """The ``targets`` settings with scenario ``scenario``'s overrides (``targets.scenarios``)
    deep-merged over them, validated (each scenario was checked when the settings were loaded)."""
    scenarios = targets.scenarios
    if scenario not in scenarios:
        raise TargetInputError(
            f"targets.scenarios: no scenario {scenario!r}; defined: {', '.join(scenarios) or 'none'}"
        )
    base = targets.model_dump(exclude={"scenarios"})
    return ScenarioTargets.model_validate(deep_merge(base, scenarios[scenario] or {}))


def active_reps(reps: pd.DataFrame, year: int) -> pd.DataFrame:
    """Reps on board at some point in ``year``: hired by 31 December, not left before 1 January."""
    missing = sorted({"rep_id", "region", "level", "hire_date"} - set(reps.columns))
    if missing:
        raise TargetInputError(f"reps: missing column(s) {', '.join(missing)}")
    hire = as_dates(reps["hire_date"])
    leave = as_dates(reps["leave_date"]) if "leave_date" in reps.columns else pd.Series(pd.NaT, index=reps.index)
    on = (hire <= pd.Timestamp(int(year), 12, 31)) & (leave.isna() | (leave >= pd.Timestamp(int(year), 1, 1)))
    out = reps.loc[on].copy()
    out["rep_id"] = out["rep_id"].astype(str)
    out["region"] = out["region"].astype(str)
    if "leave_date" not in out.columns:
        out["leave_date"] = pd.NaT
    return out.sort_values("rep_id").reset_index(drop=True)


@dataclass
class TargetPlan:
    """Everything :func:`build_targets` produced, step by step (all tidy DataFrames)."""

    year: int
    scenario: str
    settings: ScenarioTargets
    """The ``targets`` settings the plan was built with (the scenario's overrides applied)."""
    history_from: pd.Timestamp
    history_through: pd.Timestamp
    periods: pd.DataFrame
    baseline: pd.DataFrame
    top_down: float
    bottom_up_regions: pd.DataFrame
    bottom_up_reps: pd.DataFrame
    reconciliation: pd.Series
    region_reconciliation: pd.DataFrame
    phasing: pd.DataFrame
    months: pd.DataFrame
    cell_bases: pd.DataFrame
    cells: pd.DataFrame
    availability: pd.DataFrame
    plan: pd.DataFrame
    result: pd.DataFrame
    process: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    region_trace: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Where each region's annual target came from: ``region, tier, tier_factor, last_year, bottom_up,
    reconciled, final, rule, reason`` (``reason`` says why ``final`` differs from ``reconciled``)."""
    product_line_trace: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Each region x product line: ``region, product_line, tier, tier_factor, basis_share, share, bottom_up``
    (none: the method has no product-line bottom-up), ``reconciled, final, rule, reason``."""
    rep_trace: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Each rep on board (and a region's unassigned months): ``rep_id, region, level, bottom_up, basis_view,
    reconciled, final, rule, reason``."""
    team_reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The team view per region, like :attr:`reconciliation` one level down: ``region, target, unassigned,
    top_down`` (what the reps carry), ``bottom_up`` (sum of the reps), ``gap, gap_pct, rule, weight, final``."""

    @property
    def total(self) -> int:
        """The reconciled annual target in whole currency units."""
        return int(self.reconciliation["final"])

    def contract(self) -> pd.DataFrame:
        """The rep-level plan in saved form (:data:`PLAN_COLUMNS`, month 1-12)."""
        return canonical_plan(self.plan)

    def assumptions(self) -> dict[str, Any]:
        """What the plan was computed from: year, scenario, history window and the targets settings used."""
        return {
            "plan_year": self.year,
            "scenario": self.scenario,
            "history_from": f"{self.history_from:%Y-%m}",
            "history_through": f"{self.history_through:%Y-%m}",
            "targets": self.settings.model_dump(),
        }


def build_targets(
    cube: pd.DataFrame,
    reps: pd.DataFrame,
    targets: TargetsSettings,
    plan_year: int,
    scenario: str = "base",
    pipeline: pd.DataFrame | None = None,
    product_lines: list[str] | None = None,
    *,
    activities: pd.DataFrame | None = None,
    visit_types: list[str] | None = None,
) -> TargetPlan:
    """Run the whole target method for ``plan_year`` on the monthly cube, using only history before it.

    ``targets`` is the ``targets`` settings section (scenario overrides are applied here); ``reps`` the
    reps table (``rep_id, region, level, hire_date, leave_date?``); ``pipeline`` optional for process targets,
    ``activities`` (of types ``visit_types``) for the visits per won deal they are derived with.

    With ``allocation.region_totals: reconciled`` (the method) each region's year is its reconciled
    bottom-up number, ``T_r = largest_remainder(bottom_up_r, total)``; the allocation basis (with the
    product-line tier weights) splits ``T_r`` over the region's product lines; months follow phasing, every
    cell's year and every month's total held exactly. With ``basis`` the basis's shares split the total
    (every region grows alike). With ``allocation.rep_totals: reconciled`` each rep's year is their
    bottom-up number reconciled to what the region's reps carry, by ``reconcile.rule`` (see
    :func:`~salesplan.targets.allocation.allocate`). :attr:`TargetPlan.region_trace`,
    :attr:`~TargetPlan.product_line_trace` and :attr:`~TargetPlan.rep_trace` say where every number came from.
    """
    cfg = scenario_config(targets, scenario)
    year = int(plan_year)
    history = history_before(cube, year)
    for col in ("region", "product_line", "rep_id"):
        if col not in history.columns:
            raise TargetInputError(f"history: the monthly cube lacks column {col}")
        history[col] = history[col].astype(str)
    cagr_years = cfg.cagr_years
    periods = annual_periods(history, years=cagr_years + 1)
    base = baseline(periods, cagr_years, dict(cfg.increments), cfg.stretch_pct)
    last_year = float(periods["amount"].iloc[0])
    td = top_down(last_year, cfg.top_down)

    # The settings model has checked the basis, the totals rules and the region tiers' names.
    alloc = cfg.allocation
    basis = alloc.basis
    region_totals, rep_totals = alloc.region_totals, alloc.rep_totals
    tier_weights = dict(cfg.tier_factors.region)
    region_tiers = {str(r): str(t) for r, t in cfg.region_tiers.items()}
    region_weight = {r: float(tier_weights[t]) for r, t in region_tiers.items()}

    team = active_reps(reps, year)
    if team.empty:
        raise TargetInputError(f"reps: nobody is on board in {year}; allocation needs at least one rep")
    availability = rep_availability(team, year, cfg.ramp)
    regions = sorted(set(history["region"]) | set(team["region"]))
    lines = sorted(set(history["product_line"]) | set(product_lines or []))
    if not lines:
        raise TargetInputError("history: no product lines to allocate to")
    bu_cfg = cfg.bottom_up
    levels = {str(k): float(v) for k, v in bu_cfg.level_coefficient.items()}
    bu_reps = bottom_up_reps(history, team, availability, bu_cfg.personal_growth, levels)
    bu_regions = bottom_up_regions(
        history, regions, cagr_years, bu_cfg.resource_factor, bu_cfg.potential_index,
        tier_factor=region_weight, rep_bottom_up=bu_reps.groupby("region")["bottom_up"].sum(),
    )  # fmt: skip
    rec_cfg = cfg.reconcile
    source = rec_cfg.bottom_up
    bu_total = float((bu_regions if source == "regions" else bu_reps)["bottom_up"].sum())
    rec = reconcile(td, bu_total, rec_cfg.rule, rec_cfg.top_down_weight)
    rec["bottom_up_source"] = source
    total = int(rec["final"])
    if total < 0:
        raise TargetInputError(
            f"targets: the reconciled annual target is negative ({total}); check the history and settings"
        )
    rule = "scale_to_top_down" if rec["rule"] == "scale_to_top_down" else f"blend (top-down weight {rec['weight']:g})"

    phasing = phasing_from_config(cfg.phasing, history)
    months = phase_total(total, phasing, year)
    blend = dict(alloc.blend_weights)
    bases = cell_bases(
        history, year, regions, lines, availability, team, levels,
        region_potential=bu_regions.set_index("region")["bottom_up"], blend_weights=blend,
    )  # fmt: skip
    weights = rep_cell_weights(
        history, team, lines, basis, year, levels,
        rep_potential=bu_reps.set_index("rep_id")["bottom_up"], blend_weights=blend,
    )  # fmt: skip
    line_tiers = product_line_tiers(history, lines, dict(cfg.tier_factors.product_line))
    shares = region_cell_shares(
        bases, basis, pd.Series(region_weight, dtype="float64"), line_tiers.set_index("product_line")["tier_factor"]
    )
    notes = []
    bu_region = bu_regions["bottom_up"].clip(lower=0).to_numpy(dtype="float64")
    region_lr = largest_remainder(bu_region, total)
    no_bottom_up = bu_region.sum() <= 0
    cell_totals = None
    if region_totals == "reconciled":
        if no_bottom_up:
            notes.append(f"no region has a bottom-up number: region totals follow the {basis} basis")
            by_region = shares.groupby("region", sort=False)["share"].sum().reindex(bu_regions["region"])
            region_final = largest_remainder(by_region.fillna(0).to_numpy(), total)
        else:
            region_final = region_lr
        cell_totals = _cell_totals(shares, dict(zip(bu_regions["region"], region_final, strict=True)))
    # Under blend the region's amount split by the basis is the team's top-down view (see allocate).
    w_td = float(rec["weight"]) if rec["rule"] == "blend" else 0.0
    parts = allocate(
        months[["month", "target_amount"]],
        shares[["region", "product_line", "share"]],
        weights,
        availability,
        cfg.over_assignment_buffer,
        cell_totals=cell_totals,
        rep_bottom_up=bu_reps.set_index("rep_id")["bottom_up"],
        rep_totals=rep_totals,
        rep_top_down_weight=w_td,
    )
    plan = parts["plan"].assign(year=year)
    region_plan = plan.groupby("region")["target_amount"].sum()
    region_rec = bu_regions[["region", "last_year", "bottom_up"]].assign(
        reconciled=region_lr,
        plan=lambda d: d["region"].map(region_plan).fillna(0).astype("int64"),
    )
    region_trace = _region_trace(
        bu_regions, region_tiers, region_plan, total, rule if region_totals == "reconciled" else f"basis: {basis}",
        region_totals, basis, no_bottom_up,
    )  # fmt: skip
    line_trace = _line_trace(shares, line_tiers, parts["cells"], region_plan, basis, region_totals)
    region_years = pd.Series(region_rec["plan"].to_numpy(), index=region_rec["region"])
    rep_trace, team_rec = _rep_traces(parts["reps"], bu_reps, region_years, rec, rule, rep_totals, basis)
    if (plan["rep_id"] == UNASSIGNED).any():
        gaps = sorted(plan.loc[plan["rep_id"] == UNASSIGNED, "region"].unique())
        notes.append(f"no rep on board for some months in: {', '.join(gaps)} (target kept as '{UNASSIGNED}')")
    if float(bases[basis].sum()) == 0:
        notes.append(f"allocation basis {basis} has no data before {year}: region x product cells split evenly")
    absent = sorted(set(region_tiers) - set(regions))
    if absent:
        notes.append(f"targets.region_tiers names regions without sales or reps: {', '.join(absent)}")
    staffed = bu_regions.loc[bu_regions["source"] == "reps", "region"].tolist()
    if staffed:
        notes.append(f"no sales yet in {', '.join(staffed)}: their bottom-up is the sum of their reps' numbers")
    off = rep_trace[(rep_trace["rep_id"] != UNASSIGNED) & (rep_trace["reason"].str.startswith("hire/leave"))]
    if len(off):
        notes.append(
            "the months on board cannot carry the reconciled number of: " + ", ".join(off["rep_id"])
            + " (see rep_trace)"
        )  # fmt: skip
    idle = sorted(set(team["rep_id"]) - set(plan["rep_id"]))
    if idle:
        notes.append(f"on board but without any target (no basis in their region): {', '.join(idle)}")
    if phasing["source"].iloc[0].startswith("even"):
        notes.append("phasing: no complete year of history, months are even")
    return TargetPlan(
        year=year,
        scenario=scenario,
        settings=cfg,
        history_from=pd.Timestamp(history["month"].min()),
        history_through=last_history_month(history),
        periods=periods,
        baseline=base,
        top_down=td,
        bottom_up_regions=bu_regions,
        bottom_up_reps=bu_reps,
        reconciliation=rec,
        region_reconciliation=region_rec,
        phasing=months,
        months=parts["months"],
        cell_bases=bases,
        cells=parts["cells"],
        availability=availability,
        plan=plan[["year", "month", "region", "product_line", "rep_id", "target_amount", "quota_amount"]],
        result=result_targets(plan, history, cfg.gross_margin_goal),
        process=process_targets(
            plan,
            history,
            pipeline,
            cfg.process,
            availability,
            reps=reps,
            activities=activities,
            visit_types=visit_types,
        ),
        notes=notes,
        region_trace=region_trace,
        product_line_trace=line_trace,
        rep_trace=rep_trace,
        team_reconciliation=team_rec,
    )


def _cell_totals(shares: pd.DataFrame, region_totals: dict[str, int]) -> pd.DataFrame:
    """Each cell's whole-unit year: ``largest_remainder(within-region share, T_r)`` region by region."""
    out = []
    for region, cells in shares.groupby("region", sort=False):
        amounts = largest_remainder(cells["within"].to_numpy(), int(region_totals[region]))
        out.append(cells[["region", "product_line"]].assign(target_amount=amounts))
    return pd.concat(out, ignore_index=True)


def _reason(final: float, reconciled: float, otherwise: str) -> str:
    """Why ``final`` differs from ``reconciled``: nothing, whole-unit rounding (less than a unit), or
    ``otherwise``."""
    diff = abs(float(final) - float(reconciled))
    if diff == 0:
        return ""
    return "whole-unit rounding" if diff < 1 else otherwise


def _region_trace(
    bu_regions: pd.DataFrame,
    region_tiers: dict[str, str],
    region_plan: pd.Series,
    total: int,
    rule: str,
    region_totals: str,
    basis: str,
    no_bottom_up: bool,
) -> pd.DataFrame:
    """``reconciled_r = total * bottom_up_r / sum bottom_up`` beside the region's final year."""
    bu = bu_regions["bottom_up"].clip(lower=0)
    out = bu_regions[["region"]].assign(
        tier=bu_regions["region"].map(region_tiers).fillna(NO_TIER),
        tier_factor=bu_regions["tier_factor"],
        last_year=bu_regions["last_year"],
        bottom_up=bu_regions["bottom_up"],
        reconciled=total * bu / bu.sum() if bu.sum() > 0 else np.nan,
        final=bu_regions["region"].map(region_plan).fillna(0).astype("int64"),
        rule=rule,
    )
    if region_totals == "basis":
        why = f"region_totals: basis ({basis} shares of the total)"
    elif no_bottom_up:
        why = f"no region has a bottom-up number ({basis} shares of the total)"
    else:
        # Cannot happen: the cells of a region add up to its reconciled whole-unit year.
        why = "allocation differs from the reconciled number"
    out["reason"] = [
        why if not np.isfinite(r) else _reason(f, r, why) for f, r in zip(out["final"], out["reconciled"], strict=True)
    ]
    return out.reset_index(drop=True)


def _line_trace(
    shares: pd.DataFrame,
    line_tiers: pd.DataFrame,
    cells: pd.DataFrame,
    region_plan: pd.Series,
    basis: str,
    region_totals: str,
) -> pd.DataFrame:
    """Each region x product line: ``reconciled = region's final year * within-region share``."""
    final = cells.groupby(["region", "product_line"])["target_amount"].sum()
    basis_in_region = shares.groupby("region")["basis_share"].transform("sum")
    tiers = line_tiers.set_index("product_line")
    out = shares[["region", "product_line"]].assign(
        tier=shares["product_line"].map(tiers["tier"]).fillna(NO_TIER),
        tier_factor=shares["product_line"].map(tiers["tier_factor"]).fillna(1.0),
        basis_share=(shares["basis_share"] / basis_in_region.where(basis_in_region > 0)).fillna(0.0),
        share=shares["within"],
        bottom_up=np.nan,
        reconciled=shares["region"].map(region_plan).fillna(0).to_numpy() * shares["within"].to_numpy(),
        final=pd.MultiIndex.from_frame(shares[["region", "product_line"]]).map(final).fillna(0).astype("int64"),
        rule=f"{basis} share of the region x tier weight",
    )
    why = (
        "months rounded one by one (region_totals: basis)"
        if region_totals == "basis"
        else "allocation differs from the region's split"
    )
    out["reason"] = [_reason(f, r, why) for f, r in zip(out["final"], out["reconciled"], strict=True)]
    return out.reset_index(drop=True)


def _rep_traces(
    reps_view: pd.DataFrame,
    bu_reps: pd.DataFrame,
    region_years: pd.Series,
    rec: pd.Series,
    rule: str,
    rep_totals: str,
    basis: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rep trace (every rep on board, plus each region's unassigned months) and the team view by region.

    Team view: ``top_down`` = what the region's reps carry (its year less the unassigned months),
    ``bottom_up`` = the sum of its reps' bottom-up numbers, ``gap = top_down - bottom_up``; ``weight`` = the
    weight of the basis split (the team's top-down view) in each rep's number (0 under scale_to_top_down:
    the bottom-up shape scaled to the team's amount).
    """
    info = bu_reps.set_index("rep_id")
    carried = reps_view.set_index("rep_id") if len(reps_view) else pd.DataFrame()
    rows = []
    for row in reps_view.itertuples(index=False):
        if row.rep_id == UNASSIGNED:
            rows.append(
                (row.rep_id, row.region, "", np.nan, np.nan, row.reconciled, row.final, "no rep on board",
                 "no rep on board in these months")
            )  # fmt: skip
            continue
        team_bu = reps_view.loc[(reps_view["region"] == row.region) & (reps_view["rep_id"] != UNASSIGNED)]
        if row.fit == "dates":
            why = (
                "hire/leave dates: the months on board cannot carry the reconciled number"
                if row.final < row.reconciled
                else "hire/leave dates: carries months colleagues on board cannot"
            )
        elif rep_totals == "basis":
            why = f"rep_totals: basis ({basis} shares)"
        elif not (team_bu["bottom_up"].fillna(0) > 0).any():
            why = f"no bottom-up in the region ({basis} shares)"
        else:
            why = "allocation differs from the reconciled number"
        rows.append(
            (row.rep_id, row.region, str(info.loc[row.rep_id, "level"]), row.bottom_up, row.basis_view,
             row.reconciled, row.final, rule if rep_totals == "reconciled" else f"basis: {basis}",
             _reason(row.final, row.reconciled, why))
        )  # fmt: skip
    for rep in info.index.difference(carried.index if len(carried) else pd.Index([])):
        r = info.loc[rep]
        rows.append(
            (rep, str(r["region"]), str(r["level"]), float(r["bottom_up"]), 0.0, 0.0, 0, "",
             "no month on board with a share of the region's amount")
        )  # fmt: skip
    cols = ["rep_id", "region", "level", "bottom_up", "basis_view", "reconciled", "final", "rule", "reason"]
    trace = pd.DataFrame(rows, columns=cols).astype({"final": "int64"})
    # Reps by region, each region's unassigned months last.
    trace = (
        trace.assign(_last=trace["rep_id"].eq(UNASSIGNED))
        .sort_values(["region", "_last", "rep_id"])
        .drop(columns="_last")
        .reset_index(drop=True)
    )

    team = []
    for region, target in region_years.items():
        t = trace[trace["region"] == region]
        lost = int(t.loc[t["rep_id"] == UNASSIGNED, "final"].sum())
        reps_only = t[t["rep_id"] != UNASSIGNED]
        carry, bu = int(target) - lost, float(bu_reps.loc[bu_reps["region"] == region, "bottom_up"].sum())
        team.append(
            {"region": region, "target": int(target), "unassigned": lost, "top_down": carry, "bottom_up": bu,
             "gap": carry - bu, "gap_pct": (carry - bu) / bu if bu > 0 else np.nan,
             "rule": rule if rep_totals == "reconciled" else f"basis: {basis}",
             "weight": float(rec["weight"]) if rec["rule"] == "blend" and rep_totals == "reconciled" else 0.0,
             "final": int(reps_only["final"].sum())}
        )  # fmt: skip
    return trace, pd.DataFrame(team)


def coherence_report(tp: TargetPlan) -> pd.DataFrame:
    """Check that at every level the parts add up exactly to the whole (targets and buffered quotas).

    One row per check: ``level`` (parts -> whole), ``wholes`` (how many totals were checked),
    ``max_abs_diff`` (largest difference in currency units) and ``ok``. Also checks that every amount is a
    whole, non-negative number.
    """
    plan, cells, months = tp.plan, tp.cells, tp.months
    keys = ["month", "region", "product_line"]
    checks: list[tuple[str, int, float]] = []

    def diff(parts: pd.Series, whole: pd.Series) -> float:
        both = pd.concat([parts.rename("p"), whole.rename("w")], axis=1).fillna(0)
        return float((both["p"] - both["w"]).abs().max()) if len(both) else 0.0

    for col, label in (("target_amount", "target"), ("quota_amount", "quota")):
        checks += [
            (f"{label}: rep -> month x region x product", len(cells),
             diff(plan.groupby(keys)[col].sum(), cells.set_index(keys)[col])),
            (f"{label}: month x region x product -> month", len(months),
             diff(cells.groupby("month")[col].sum(), months.set_index("month")[col])),
            (f"{label}: rep -> region x year", plan["region"].nunique(),
             diff(plan.groupby("region")[col].sum(), cells.groupby("region")[col].sum())),
            (f"{label}: rep -> product line x year", plan["product_line"].nunique(),
             diff(plan.groupby("product_line")[col].sum(), cells.groupby("product_line")[col].sum())),
        ]  # fmt: skip
    checks.append(("target: month -> year", 1, abs(int(months["target_amount"].sum()) - tp.total)))
    checks.append(("target: rep -> year", 1, abs(int(plan["target_amount"].sum()) - tp.total)))
    buffer = tp.settings.over_assignment_buffer
    quota_total = int(np.floor(tp.total * (1 + buffer) + 0.5))
    checks.append(("quota: rep -> year x (1 + buffer)", 1, abs(int(plan["quota_amount"].sum()) - quota_total)))
    amounts = plan[["target_amount", "quota_amount"]]
    whole = bool(np.all(amounts.to_numpy() == np.round(amounts.to_numpy())) and (amounts.to_numpy() >= 0).all())
    checks.append(("every amount whole and >= 0", len(plan), 0.0 if whole else float("inf")))
    out = pd.DataFrame(checks, columns=["level", "wholes", "max_abs_diff"])
    return out.assign(ok=out["max_abs_diff"] == 0)


def compare_scenarios(
    cube: pd.DataFrame,
    reps: pd.DataFrame,
    targets: TargetsSettings,
    plan_year: int,
    scenarios: list[str] | None = None,
    pipeline: pd.DataFrame | None = None,
    *,
    activities: pd.DataFrame | None = None,
    visit_types: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, TargetPlan]]:
    """Build the plan under each scenario (default: all in ``targets.scenarios``) and put them side by side.

    Returns a table ``scenario, last_year, baseline, top_down, bottom_up, gap, final, growth`` (growth =
    final / last year - 1) with one row per scenario, and the plans by scenario name.
    """
    names = scenarios or list(targets.scenarios)
    plans = {
        name: build_targets(
            cube, reps, targets, plan_year, name, pipeline, activities=activities, visit_types=visit_types
        )
        for name in names
    }
    rows = []
    for name, tp in plans.items():
        b = tp.baseline.set_index("step")["amount"]
        rec = tp.reconciliation
        rows.append(
            {"scenario": name, "last_year": b["last_year"], "baseline": b["baseline"], "top_down": rec["top_down"],
             "bottom_up": rec["bottom_up"], "gap": rec["gap"], "final": tp.total,
             "growth": tp.total / b["last_year"] - 1 if b["last_year"] > 0 else np.nan}
        )  # fmt: skip
    return pd.DataFrame(rows), plans
