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
from salesplan.targets.allocation import (
    BASES,
    UNASSIGNED,
    allocate,
    cell_bases,
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
from salesplan.targets.rounding import TargetInputError, largest_remainder
from salesplan.targets.versions import (
    CONTRACT_COLUMNS,
    PLAN_COLUMNS,
    SaveResult,
    TargetVersionError,
    approve_version,
    canonical_plan,
    list_versions,
    load_assumptions,
    load_plan,
    plan_hash,
    rep_month_targets,
    save_plan,
    targets_dir_for,
)

__all__ = [
    "BASES",
    "CONTRACT_COLUMNS",
    "PLAN_COLUMNS",
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
    "funnel_rates",
    "history_before",
    "largest_remainder",
    "last_history_month",
    "list_versions",
    "load_assumptions",
    "load_plan",
    "monthly_shares",
    "phase_total",
    "phasing_from_config",
    "plan_hash",
    "process_targets",
    "reconcile",
    "rep_availability",
    "rep_cell_weights",
    "rep_month_targets",
    "result_targets",
    "save_plan",
    "scenario_config",
    "targets_dir_for",
    "top_down",
]


def scenario_config(targets_cfg: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The ``targets`` section with scenario ``scenario``'s overrides (``targets.scenarios``) deep-merged over it."""
    scenarios = targets_cfg.get("scenarios") or {}
    if scenario not in scenarios:
        raise TargetInputError(
            f"targets.scenarios: no scenario {scenario!r}; defined: {', '.join(scenarios) or 'none'}"
        )
    base = {k: v for k, v in targets_cfg.items() if k != "scenarios"}
    return deep_merge(base, scenarios[scenario] or {})


def active_reps(reps: pd.DataFrame, year: int) -> pd.DataFrame:
    """Reps on board at some point in ``year``: hired by 31 December, not left before 1 January."""
    missing = sorted({"rep_id", "region", "level", "hire_date"} - set(reps.columns))
    if missing:
        raise TargetInputError(f"reps: missing column(s) {', '.join(missing)}")
    hire = pd.to_datetime(reps["hire_date"])
    leave = pd.to_datetime(reps["leave_date"]) if "leave_date" in reps.columns else pd.Series(pd.NaT, index=reps.index)
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
    config: dict[str, Any]
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
            "targets": self.config,
        }


def build_targets(
    cube: pd.DataFrame,
    reps: pd.DataFrame,
    targets_cfg: dict[str, Any],
    plan_year: int,
    scenario: str = "base",
    pipeline: pd.DataFrame | None = None,
    product_lines: list[str] | None = None,
) -> TargetPlan:
    """Run the whole target method for ``plan_year`` on the monthly cube, using only history before it.

    ``targets_cfg`` is the ``targets`` config section (scenario overrides are applied here); ``reps`` the
    reps table (``rep_id, region, level, hire_date, leave_date?``); ``pipeline`` optional for process targets.
    """
    cfg = scenario_config(targets_cfg, scenario)
    year = int(plan_year)
    history = history_before(cube, year)
    for col in ("region", "product_line", "rep_id"):
        if col not in history.columns:
            raise TargetInputError(f"history: the monthly cube lacks column {col}")
        history[col] = history[col].astype(str)
    cagr_years = int(cfg["cagr_years"])
    periods = annual_periods(history, years=cagr_years + 1)
    base = baseline(periods, cagr_years, cfg.get("increments") or {}, float(cfg.get("stretch_pct", 0.0)))
    last_year = float(periods["amount"].iloc[0])
    td = top_down(last_year, cfg["top_down"])

    team = active_reps(reps, year)
    if team.empty:
        raise TargetInputError(f"reps: nobody is on board in {year}; allocation needs at least one rep")
    availability = rep_availability(team, year, cfg["ramp"])
    regions = sorted(set(history["region"]) | set(team["region"]))
    lines = sorted(set(history["product_line"]) | set(product_lines or []))
    if not lines:
        raise TargetInputError("history: no product lines to allocate to")
    bu_cfg = cfg["bottom_up"]
    levels = {str(k): float(v) for k, v in bu_cfg["level_coefficient"].items()}
    bu_regions = bottom_up_regions(
        history, regions, cagr_years, bu_cfg.get("resource_factor") or {}, bu_cfg.get("potential_index") or {}
    )
    bu_reps = bottom_up_reps(history, team, availability, float(bu_cfg["personal_growth"]), levels)
    rec_cfg = cfg["reconcile"]
    source = rec_cfg.get("bottom_up", "regions")
    if source not in ("regions", "reps"):
        raise TargetInputError(f"targets.reconcile.bottom_up: expected regions or reps, got {source!r}")
    bu_total = float((bu_regions if source == "regions" else bu_reps)["bottom_up"].sum())
    rec = reconcile(td, bu_total, rec_cfg["rule"], float(rec_cfg.get("top_down_weight", 0.5)))
    rec["bottom_up_source"] = source
    total = int(rec["final"])
    if total < 0:
        raise TargetInputError(
            f"targets: the reconciled annual target is negative ({total}); check the history and settings"
        )

    phasing = phasing_from_config(cfg["phasing"], history)
    months = phase_total(total, phasing, year)
    basis = cfg["allocation"]["basis"]
    if basis not in (*BASES, "blend"):
        raise TargetInputError(
            f"targets.allocation.basis: expected one of {', '.join((*BASES, 'blend'))}, got {basis!r}"
        )
    blend = cfg["allocation"].get("blend_weights") or {}
    bases = cell_bases(
        history, year, regions, lines, availability, team, levels,
        region_potential=bu_regions.set_index("region")["bottom_up"], blend_weights=blend,
    )  # fmt: skip
    weights = rep_cell_weights(
        history, team, lines, basis, year, levels,
        rep_potential=bu_reps.set_index("rep_id")["bottom_up"], blend_weights=blend,
    )  # fmt: skip
    parts = allocate(
        months[["month", "target_amount"]],
        bases[["region", "product_line"]].assign(share=bases[basis]),
        weights,
        availability,
        float(cfg.get("over_assignment_buffer", 0.0) or 0.0),
    )
    plan = parts["plan"].assign(year=year)
    region_plan = plan.groupby("region")["target_amount"].sum()
    region_rec = bu_regions[["region", "last_year", "bottom_up"]].assign(
        reconciled=largest_remainder(bu_regions["bottom_up"].clip(lower=0).to_numpy(), total),
        plan=lambda d: d["region"].map(region_plan).fillna(0).astype("int64"),
    )
    notes = []
    if (plan["rep_id"] == UNASSIGNED).any():
        gaps = sorted(plan.loc[plan["rep_id"] == UNASSIGNED, "region"].unique())
        notes.append(f"no rep on board for some months in: {', '.join(gaps)} (target kept as '{UNASSIGNED}')")
    if float(bases[basis].sum()) == 0:
        notes.append(f"allocation basis {basis} has no data before {year}: region x product cells split evenly")
    idle = sorted(set(team["rep_id"]) - set(plan["rep_id"]))
    if idle:
        notes.append(f"on board but without any target (no basis in their region): {', '.join(idle)}")
    if phasing["source"].iloc[0].startswith("even"):
        notes.append("phasing: no complete year of history, months are even")
    return TargetPlan(
        year=year,
        scenario=scenario,
        config=cfg,
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
        result=result_targets(plan, history, float(cfg.get("gross_margin_goal", 0.0))),
        process=process_targets(plan, history, pipeline, cfg.get("process") or {}, availability),
        notes=notes,
    )


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
    buffer = float(tp.config.get("over_assignment_buffer", 0.0) or 0.0)
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
    targets_cfg: dict[str, Any],
    plan_year: int,
    scenarios: list[str] | None = None,
    pipeline: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, TargetPlan]]:
    """Build the plan under each scenario (default: all in ``targets.scenarios``) and put them side by side.

    Returns a table ``scenario, last_year, baseline, top_down, bottom_up, gap, final, growth`` (growth =
    final / last year - 1) with one row per scenario, and the plans by scenario name.
    """
    names = scenarios or list((targets_cfg.get("scenarios") or {}).keys())
    plans = {name: build_targets(cube, reps, targets_cfg, plan_year, name, pipeline) for name in names}
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
