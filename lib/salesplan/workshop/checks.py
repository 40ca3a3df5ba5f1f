"""The exercises' checks: expected values from the library, typical mistakes, friendly feedback.

Every expected value is computed by the library the monthly workbook uses (:mod:`salesplan.targets`,
:mod:`salesplan.metrics`, :mod:`salesplan.retro`) on the workshop company. Each typical mistake is
computed the same way with the mistaken input (a missing coefficient, a ramp ignored, a wrong number
of years, roles swapped), so the feedback can say which mistake an answer matches.

Each ``check_*`` function takes the trainee's ``answer`` (``None`` until they answer) and returns a
:class:`~salesplan.workshop.feedback.Feedback`; the notebooks show it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from salesplan import metrics
from salesplan.dates import as_dates
from salesplan.retro.flags import classify_deviation, deviation
from salesplan.settings import TargetsSettings, Thresholds
from salesplan.targets import (
    active_reps,
    annual_periods,
    baseline,
    bottom_up_regions,
    bottom_up_reps,
    cell_bases,
    history_before,
    largest_remainder,
    monthly_shares,
    phase_total,
    reconcile,
    rep_availability,
    top_down,
)
from salesplan.targets.process import leads_needed, visits_needed, won_deals_needed
from salesplan.workshop.company import (
    RETRO_MONTH,
    REVISION_REGION,
    REVISION_STORY,
    WorkshopCompany,
    _build,
)
from salesplan.workshop.feedback import (
    UNIT_HEADLINE,
    AnswerError,
    Feedback,
    Mistake,
    as_mapping,
    as_number,
    compare,
    invalid,
    money,
    not_answered,
    pct,
    reveal,
)

MONEY_TOLERANCE = 50_000.0
"""Annual amounts may be rounded to 0.1 M: within 50 K of the expected value counts as right."""
RATE_TOLERANCE = 0.0005
"""Rates (CAGR) within 0.05 percentage points."""
SHARE_TOLERANCE = 0.0001
"""Monthly shares within 0.01 percentage points."""
LOAD_TOLERANCE = 0.01
"""Load indices (exercise 4b) within 0.01."""
EDGE_TOLERANCE = 1e-9
"""A deviation within 1e-9 of a band edge counts as on the edge. Floating point computes -5 % as
actual / plan - 1 = -0.050000000000000044; the rule (exactly on an edge: the milder status) is about the
number, not its last binary digit, so either status given there is accepted, with a note."""
MONTHS = list(range(1, 13))
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTH_ALIASES = {name: m for name, m in zip(MONTH_NAMES, MONTHS, strict=True)} | {str(m): m for m in MONTHS}
STATUS_ALIASES = {
    "dark red": "dark_red",
    "dark-red": "dark_red",
    "darkred": "dark_red",
    "深红": "dark_red",
    "红": "red",
    "红灯": "red",
    "黄": "yellow",
    "黄灯": "yellow",
    "绿": "green",
    "绿灯": "green",
    "领先": "ahead",
}


def _co() -> WorkshopCompany:
    return _build()


def _targets() -> TargetsSettings:
    """The method's ``targets`` settings of the workshop company."""
    return _build().settings.targets


# --------------------------------------------------------------------------------------
# expected values (library calls on the workshop company)


@cache
def history() -> pd.DataFrame:
    """The company's history before the plan year (the only history a plan may use)."""
    co = _co()
    h = history_before(co.cube, co.plan_year)
    return h.astype({"region": str, "product_line": str, "rep_id": str})


def _cagr_years() -> int:
    return _targets().cagr_years


def expected_baseline(cagr_years: int | None = None, increments: Mapping[str, float] | None = None) -> pd.DataFrame:
    """:func:`salesplan.targets.baseline` on the company (steps ``last_year`` ... ``stretch``)."""
    co = _co()
    n = _cagr_years() if cagr_years is None else cagr_years
    periods = annual_periods(history(), years=_cagr_years() + 1)
    incs = co.increments if increments is None else dict(increments)
    return baseline(periods, n, incs, float(_targets().stretch_pct))


def last_year() -> float:
    """Net sales of the last 12 months before the plan year."""
    return float(expected_baseline().set_index("step").loc["last_year", "amount"])


def expected_top_down(last: float | None = None, multiplier: float | None = None, growth: float | None = None) -> float:
    """:func:`salesplan.targets.top_down` by industry growth x multiplier."""
    m = _co().market
    cfg = {
        "method": "industry_growth",
        "industry_growth": m["industry_growth"] if growth is None else growth,
        "multiplier": m["multiplier"] if multiplier is None else multiplier,
    }
    return top_down(last_year() if last is None else last, cfg)


def expected_market_share(share: float | None = None) -> float:
    """:func:`salesplan.targets.top_down` by target market share x market size."""
    m = _co().market
    cfg = {"method": "market_share", "market_size": m["market_size"], "market_share": share or m["market_share"]}
    return top_down(last_year(), cfg)


def expected_regions(
    cagr_years: int | None = None,
    resource_factor: Mapping[str, float] | None = None,
    potential_index: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """:func:`salesplan.targets.bottom_up_regions` on the company."""
    co = _co()
    return bottom_up_regions(
        history(),
        co.regions,
        _cagr_years() if cagr_years is None else cagr_years,
        dict(co.resource_factor if resource_factor is None else resource_factor),
        dict(co.potential_index if potential_index is None else potential_index),
    )


def _team(keep_leavers: bool = False, hire_in_january: bool = False) -> pd.DataFrame:
    co = _co()
    team = active_reps(co.reps, co.plan_year)
    if keep_leavers:
        team = team.assign(leave_date=pd.NaT)
    if hire_in_january:
        start = pd.Timestamp(co.plan_year, 1, 1)
        team = team.assign(hire_date=team["hire_date"].where(team["hire_date"] < start, start))
    return team


def _ramp(ramp: list[float] | None) -> list[float]:
    return list(ramp) if ramp is not None else list(_targets().ramp)


def _levels(flat: bool = False) -> dict[str, float]:
    levels = _co().level_coefficient
    return {k: 1.0 for k in levels} if flat else levels


def expected_availability(ramp: list[float] | None = None, keep_leavers: bool = False) -> pd.DataFrame:
    """:func:`salesplan.targets.rep_availability` for the plan year, wide: rep x month (1-12)."""
    co = _co()
    a = rep_availability(_team(keep_leavers), co.plan_year, _ramp(ramp))
    return a.assign(m=a["month"].dt.month).pivot(index="rep_id", columns="m", values="availability")


def expected_reps(
    flat_levels: bool = False, ramp: list[float] | None = None, keep_leavers: bool = False
) -> pd.DataFrame:
    """:func:`salesplan.targets.bottom_up_reps` on the company's team."""
    co = _co()
    team = _team(keep_leavers)
    avail = rep_availability(team, co.plan_year, _ramp(ramp))
    growth = float(_targets().bottom_up.personal_growth)
    return bottom_up_reps(history(), team, avail, growth, _levels(flat_levels))


@cache
def expected_reconciliation(rule: str | None = None, top_down_weight: float | None = None) -> pd.Series:
    """:func:`salesplan.targets.reconcile`: top-down against the sum of the regions' bottom-up numbers."""
    co = _co()
    w = float(_targets().reconcile.top_down_weight) if top_down_weight is None else top_down_weight
    bu = float(expected_regions()["bottom_up"].sum())
    return reconcile(expected_top_down(), bu, rule or co.reconcile_rule, w)


def annual_target() -> int:
    """The annual target agreed in exercise 2 (the reconciled number, whole currency units)."""
    return int(expected_reconciliation()["final"])


def expected_reconciled_regions(total: int | None = None, weights: pd.Series | None = None) -> dict[str, int]:
    """The regions' bottom-up numbers scaled to the agreed total in whole units (largest remainder)."""
    regions = expected_regions().set_index("region")
    w = regions["bottom_up"] if weights is None else weights.reindex(regions.index)
    parts = largest_remainder(w.to_numpy(), annual_target() if total is None else total)
    return {r: int(p) for r, p in zip(regions.index, parts, strict=True)}


def expected_phasing(
    template: str = "seasonality", total: int | None = None, even_within: bool = False
) -> pd.DataFrame:
    """:func:`salesplan.targets.phase_total` of the annual target by the seasonality index, a quarterly
    template of ``targets.phasing.quarterly_templates`` or a seasonal template of
    ``targets.phasing.seasonal_templates`` (months within a quarter or season by seasonality)."""
    co = _co()
    phasing = _targets().phasing
    templates, seasonal = phasing.quarterly_templates, phasing.seasonal_templates
    if template == "seasonality":
        shares = monthly_shares("seasonality", history())
    elif template in seasonal:
        shares = monthly_shares("season_template", None if even_within else history(), seasons=seasonal[template])
    elif template in templates:
        shares = monthly_shares("quarterly_template", None if even_within else history(), template=templates[template])
    else:
        raise ValueError(
            f"template: expected seasonality or one of {', '.join([*templates, *seasonal])}, got {template!r}"
        )
    return phase_total(annual_target() if total is None else total, shares, co.plan_year)


def _profile_phasing(profile: pd.Series, total: int) -> pd.DataFrame:
    shares = monthly_shares("monthly_profile", profile=profile.reindex(MONTHS).fillna(0.0).to_numpy())
    return phase_total(total, shares, _co().plan_year)


def expected_region_split(
    flat_levels: bool = False, ramp: list[float] | None = None, keep_leavers: bool = False, basis: str = "capacity"
) -> dict[str, int]:
    """The annual target split over regions by their capacity (``sum over reps of level coefficient x mean
    availability``, :func:`salesplan.targets.cell_bases`), in whole units (largest remainder)."""
    co = _co()
    team = _team(keep_leavers)
    avail = rep_availability(team, co.plan_year, _ramp(ramp))
    bases = cell_bases(history(), co.plan_year, co.regions, co.product_lines, avail, team, _levels(flat_levels))
    share = bases.groupby("region")[basis].sum().reindex(co.regions)
    parts = largest_remainder(share.to_numpy(), annual_target())
    return {r: int(p) for r, p in zip(co.regions, parts, strict=True)}


def _split_by(weights: pd.Series, total: int | None = None) -> dict[str, int]:
    """The annual target split over the regions in proportion to ``weights`` (whole units, largest remainder)."""
    regions = _co().regions
    parts = largest_remainder(
        weights.reindex(regions).fillna(0.0).to_numpy(dtype=float), annual_target() if total is None else total
    )
    return {r: int(p) for r, p in zip(regions, parts, strict=True)}


def region_month_targets() -> pd.DataFrame:
    """Each region's agreed year (exercise 2b: the bottom-up numbers reconciled to the target) phased into
    months by the seasonality index: region x month."""
    co = _co()
    shares = monthly_shares("seasonality", history())
    rows = {
        r: phase_total(total, shares, co.plan_year)["target_amount"].to_numpy()
        for r, total in expected_reconciled_regions().items()
    }
    return pd.DataFrame(rows, index=pd.Index(MONTHS, name="month")).T.rename_axis("region")


def expected_capacity(
    flat_levels: bool = False, ramp: list[float] | None = None, keep_leavers: bool = False
) -> pd.Series:
    """Each region's capacity in the plan year: ``sum over its reps of level coefficient x mean availability``
    (the ``capacity`` basis of :func:`salesplan.targets.cell_bases`, the one the monthly targets use)."""
    co = _co()
    team = _team(keep_leavers)
    avail = rep_availability(team, co.plan_year, _ramp(ramp))
    bases = cell_bases(history(), co.plan_year, co.regions, co.product_lines, avail, team, _levels(flat_levels))
    return bases.groupby("region")["capacity"].sum().reindex(co.regions)


def expected_region_load(
    capacity: pd.Series | None = None, region_targets: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Exercise 4b: each region's load index, its share of the agreed target (2b) against its share of the
    company's capacity: ``load_r = (T_r / sum T) / (capacity_r / sum capacity)``. 1 means the region carries
    what its team can; above 1 the split by potential asks more of the team than its weight. Capacity checks
    the split by potential; it does not replace it."""
    cap = expected_capacity() if capacity is None else capacity
    targets = expected_reconciled_regions() if region_targets is None else region_targets
    total_t, total_c = sum(float(targets[r]) for r in cap.index), float(cap.sum())
    return {r: (float(targets[r]) / total_t) / (float(cap[r]) / total_c) for r in cap.index}


def expected_rep_targets(
    flat_levels: bool = False,
    ramp: list[float] | None = None,
    keep_leavers: bool = False,
    levels: Mapping[str, float] | None = None,
    weights: Mapping[str, float] | None = None,
    region_targets: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Exercise 4c: every rep's annual target, their bottom-up number (exercise 1e,
    :func:`salesplan.targets.bottom_up_reps`) reconciled to their region's agreed year (exercise 2b):
    ``rep = region target x rep bottom-up / sum of the region's reps' bottom-up``, whole units by
    :func:`salesplan.targets.largest_remainder`, so each region's reps add up exactly to it. ``weights``
    replaces the bottom-up numbers (the typical mistakes)."""
    co = _co()
    team = _team(keep_leavers)
    if weights is None:
        avail = rep_availability(team, co.plan_year, _ramp(ramp))
        growth = float(_targets().bottom_up.personal_growth)
        lv = dict(levels) if levels is not None else _levels(flat_levels)
        weights = bottom_up_reps(history(), team, avail, growth, lv).set_index("rep_id")["bottom_up"].to_dict()
    targets = expected_reconciled_regions() if region_targets is None else region_targets
    out: dict[str, int] = {}
    for region in co.regions:
        reps = list(team.loc[team["region"] == region, "rep_id"])
        w = np.array([max(float(weights.get(r, 0.0)), 0.0) for r in reps])
        parts = largest_remainder(w if w.sum() > 0 else np.ones(len(reps)), int(targets[region]))
        out.update({r: int(p) for r, p in zip(reps, parts, strict=True)})
    return out


def expected_statuses(thresholds: Mapping[str, float] | None = None) -> dict[str, str]:
    """:func:`salesplan.retro.flags.classify_deviation` of every item of the retrospective month."""
    co = _co()
    r = co.retro
    # The status rule takes the bands as a mapping.
    bands = thresholds or co.settings.retro.thresholds.model_dump()
    status = classify_deviation(r["actual"].to_numpy(), r["target"].to_numpy(), bands)
    return dict(zip(r["item"], status, strict=True))


def expected_pvm() -> pd.Series:
    """:func:`salesplan.metrics.price_volume_mix` of actual against plan by product line, totals
    (``volume, price, mix, change``)."""
    co = _co()
    pvm = metrics.price_volume_mix(co.pvm_plan, co.pvm_actual, key=["product_line"])
    return metrics.pvm_summary(pvm)


# --------------------------------------------------------------------------------------
# helpers


def _guard(check: str, answer: Any, example: str) -> Feedback | None:
    return not_answered(check, example) if answer is None else None


def _rate_fb(check: str, rate: float, expected: float, mistakes: list[tuple[float, str]]) -> str | None:
    if abs(rate - expected) <= RATE_TOLERANCE:
        return None
    line = f"the CAGR {pct(rate, 2)} is {'too high' if rate > expected else 'too low'}"
    if reveal():
        line += f" (expected {pct(expected, 2)})"
    for value, hint in mistakes:
        if abs(rate - value) <= RATE_TOLERANCE:
            return f"{line}: {hint}"
    return line


def _merge(a: Feedback, extra: list[str]) -> Feedback:
    # A unit slip is the whole story: sums and whole-unit notes in the wrong unit would only repeat it.
    if not extra or a.headline == UNIT_HEADLINE:
        return a
    status = "wrong" if a.status in ("correct", "wrong") else a.status
    headline = a.headline if a.status == "wrong" else "the main number is right, but:"
    return Feedback(a.check, status, headline, [*extra, *a.details], a.hints)


# --------------------------------------------------------------------------------------
# exercise 1: the annual number three ways


def check_baseline(answer: Any) -> Feedback:
    """Exercise 1a. ``answer``: the baseline (a number) or ``{"cagr": rate, "baseline": amount}``.

    Expected: :func:`salesplan.targets.baseline` — ``CAGR = (LY / sales n years earlier) ** (1 / n) - 1``,
    ``baseline = LY x (1 + CAGR) x (1 + price change) + new products + new regions``.
    Tolerance: 50 K on the baseline, 0.05 points on the CAGR.
    """
    check, example = "1a baseline", '{"cagr": ..., "baseline": ...} or just the baseline'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    exp = expected_baseline()
    steps = exp.set_index("step")["amount"]
    rate, n = exp.attrs["cagr"], exp.attrs["cagr_years"]
    annual = history().groupby(history()["month"].dt.year)["net_amount"].sum()
    first = float(annual.iloc[-1 - n])
    growths = metrics.yoy(annual, annual.shift(1)).dropna().iloc[-n:]
    wrong_rates = [
        (metrics.cagr(first, float(annual.iloc[-1]), n + 1), f"you divided by {n + 1} years: {n + 1} yearly values span {n} steps of growth, so the exponent is 1/{n}"),
        (float(growths.mean()), "that averages the yearly growth rates; the CAGR compounds them: (last / first) ** (1 / n) - 1. An average of rates overstates growth when the years swing"),
        (expected_baseline(cagr_years=n - 1).attrs["cagr"], f"that is the growth over {n - 1} years; the method uses the last {n} (targets.cagr_years)"),
    ]  # fmt: skip
    try:
        if isinstance(answer, Mapping | pd.DataFrame) or (isinstance(answer, pd.Series) and len(answer) > 1):
            given = as_mapping(answer, ["cagr", "baseline"], value_columns=["value", "amount"])
            value = as_number(given.get("baseline"), "baseline")
            user_rate = as_number(given["cagr"], "cagr") if "cagr" in given else None
        else:
            value, user_rate = as_number(answer, "baseline"), None
    except (AnswerError, KeyError) as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    organic = float(steps["last_year"] + steps["cagr_growth"])
    price_pct = float(co.increments.get("price_change_pct", 0.0))
    mistakes = [
        Mistake("rounded", {"baseline": round(float(steps["baseline"]) / 1e6) * 1e6}, "rounded to whole millions, which is coarser than the tolerance: keep at least one decimal in millions (0.1 M)"),
        Mistake("no increments", {"baseline": organic}, "that is last year grown by the CAGR only: add the stated increments (price change, new products, new regions)"),
        Mistake("stretch", {"baseline": float(steps["stretch"])}, "that is the stretch value (baseline x (1 + stretch_pct)); the base value comes first"),
        Mistake("price on last year", {"baseline": float(steps["baseline"]) - float(steps["last_year"]) * float(rate) * price_pct}, "apply the price change to last year grown by the CAGR, not to last year"),
    ]  # fmt: skip
    for r, hint in wrong_rates:
        mistakes.append(
            Mistake(
                "rate",
                {"baseline": float(steps["baseline"]) + float(steps["last_year"]) * (r - rate) * (1 + price_pct)},
                hint,
            )
        )
    fb = compare(check, {"baseline": value}, {"baseline": float(steps["baseline"])}, MONEY_TOLERANCE, mistakes,
                 label=lambda _k: "the baseline", tolerance_text="50 K",
                 general_hint="baseline = LY x (1 + CAGR) x (1 + price change) + new products + new regions")  # fmt: skip
    extra = []
    if user_rate is not None and (line := _rate_fb(check, user_rate, rate, wrong_rates)) is not None:
        extra.append(line)
    return _merge(fb, extra)


def check_top_down(answer: Any) -> Feedback:
    """Exercise 1b. ``answer``: HQ's number by industry growth x multiplier (a number).

    Expected: :func:`salesplan.targets.top_down` — ``LY x (1 + industry growth x multiplier)``. Tolerance 50 K.
    """
    check, example = "1b top-down (industry growth)", "one number in currency units"
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    try:
        value = as_number(answer, "top-down")
    except AnswerError as exc:
        return invalid(check, str(exc), example)
    co, ly = _co(), last_year()
    g, k = co.market["industry_growth"], co.market["multiplier"]
    base = float(expected_baseline().set_index("step").loc["baseline", "amount"])
    mistakes = [
        Mistake("LY x k", {"v": ly * k}, f"that multiplies last year by the multiplier {k}: the multiplier scales the industry growth rate, then the result is added to last year: LY x (1 + g x k)"),
        Mistake("whole x k", {"v": ly * (1 + g) * k}, "the multiplier scales the growth rate, not the whole number: LY x (1 + g x k)"),
        Mistake("no k", {"v": expected_top_down(multiplier=1.0)}, f"that is the market's own growth; the method aims to outgrow it: multiply the growth rate by {k}"),
        Mistake("growth only", {"v": ly * g * k}, "that is only the increment: add it to last year's sales"),
        Mistake("baseline", {"v": expected_top_down(last=base)}, "start from last year's actual sales (LY), not from the baseline"),
    ]  # fmt: skip
    return compare(check, {"v": value}, {"v": expected_top_down()}, MONEY_TOLERANCE, mistakes,
                   label=lambda _k: "the top-down number", tolerance_text="50 K",
                   general_hint="top-down = LY x (1 + industry growth x multiplier)")  # fmt: skip


def check_market_share(answer: Any) -> Feedback:
    """Exercise 1c. ``answer``: HQ's number by target market share x market size (a number).

    Expected: :func:`salesplan.targets.top_down` with ``method: market_share``. Tolerance 50 K.
    """
    check, example = "1c top-down (market share)", "one number in currency units"
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    try:
        value = as_number(answer, "market-share number")
    except AnswerError as exc:
        return invalid(check, str(exc), example)
    m = _co().market
    mistakes = [
        Mistake("percent", {"v": m["market_size"] * m["market_share"] * 100}, "the share is a fraction (13.5 % = 0.135), not a percentage number"),
        Mistake("current share", {"v": last_year()}, "that is last year's sales: the method multiplies the *target* share by the market size"),
        Mistake("plus", {"v": m["market_size"] * (1 + m["market_share"])}, "multiply the market size by the share; do not add the share to 1"),
    ]  # fmt: skip
    return compare(check, {"v": value}, {"v": expected_market_share()}, MONEY_TOLERANCE, mistakes,
                   label=lambda _k: "the market-share number", tolerance_text="50 K",
                   general_hint="top-down = market size x target market share")  # fmt: skip


def check_bottom_up_regions(answer: Any) -> Feedback:
    """Exercise 1d. ``answer``: each region's bottom-up number (dict region -> amount, a Series or a
    DataFrame with ``region`` and ``bottom_up``).

    Expected: :func:`salesplan.targets.bottom_up_regions` —
    ``LY_r x (1 + CAGR_r) x resource factor_r x potential index_r``. Tolerance 50 K per region.
    """
    check, example = "1d bottom-up by region", '{"North": ..., "East": ..., "South": ..., "West": ...}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    exp = expected_regions().set_index("region")
    try:
        given = as_mapping(answer, co.regions, ["region"], ["bottom_up", "amount", "value"],
                           orders=[list(co.sales_by_year("region").index)], expected=exp["bottom_up"].to_dict())  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    company_rate = expected_baseline(increments={}).attrs["cagr"]
    mistakes = [
        Mistake("no potential", expected_regions(potential_index={})["bottom_up"].set_axis(co.regions).to_dict(),
                "you left out the potential index: multiply by the region's market-potential index (0.8-1.2)"),
        Mistake("no resource", expected_regions(resource_factor={})["bottom_up"].set_axis(co.regions).to_dict(),
                "you left out the resource-input factor (South gets 1.1 for its new hire)"),
        Mistake("company cagr", (exp["bottom_up"] / (1 + exp["cagr"]) * (1 + company_rate)).to_dict(),
                "that uses the company's CAGR; each region grows at its own CAGR"),
        Mistake("years", expected_regions(cagr_years=_cagr_years() - 1)["bottom_up"].set_axis(co.regions).to_dict(),
                f"that region CAGR spans {_cagr_years() - 1} years; use the same {_cagr_years()} years as the company baseline"),
        Mistake("no growth", (exp["bottom_up"] / (1 + exp["cagr"])).to_dict(),
                "the region's CAGR is missing: LY x (1 + CAGR) first, then the factors"),
    ]  # fmt: skip
    return compare(check, given, exp["bottom_up"].to_dict(), MONEY_TOLERANCE, mistakes, tolerance_text="50 K per region",
                   general_hint="region = LY(region) x (1 + CAGR(region)) x resource factor x potential index")  # fmt: skip


def check_bottom_up_reps(answer: Any) -> Feedback:
    """Exercise 1e. ``answer``: each rep's bottom-up number (dict rep -> amount, Series or DataFrame with
    ``rep_id`` and ``bottom_up``).

    Expected: :func:`salesplan.targets.bottom_up_reps` — ``LY annualised x (1 + personal growth) x level
    coefficient x availability`` (a rep without last-year sales takes the region's average). Tolerance 50 K.
    """
    check, example = "1e bottom-up by rep", '{"N1": ..., "N2": ..., ...} (every rep on board in the plan year)'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    exp = expected_reps().set_index("rep_id")
    reps = list(exp.index)
    shown = [r for r in _co().sales_by_year("rep_id").index if r in reps] + [
        r for r in reps if r not in _co().sales_by_year("rep_id").index
    ]
    try:
        given = as_mapping(answer, reps, ["rep_id", "rep"], ["bottom_up", "amount", "value"],
                           orders=[shown, list(_co().team()["rep_id"])], expected=exp["bottom_up"].to_dict())  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)

    def values(frame: pd.DataFrame) -> dict[str, float]:
        return frame.set_index("rep_id")["bottom_up"].to_dict()

    not_annualised = (exp["bottom_up"] * exp["last_year"] / exp["annualised"]).where(exp["last_year"] > 0)
    full_year = (exp["bottom_up"] / exp["availability"]).where((exp["availability"] < 1) & (exp["availability"] > 0))
    mistakes = [
        Mistake("levels", values(expected_reps(flat_levels=True)), "you left out the level coefficient (junior 0.7 ... lead 1.2): multiply the rep's own base by it"),
        Mistake("ramp", values(expected_reps(ramp=[1.0])), "a new hire ramps up (25 / 50 / 75 / 100 % in the first months): use the availability, not a full year"),
        Mistake("leaver", values(expected_reps(keep_leavers=True)), "this rep leaves during the year: nothing after the leave date, so the availability is lower"),
        Mistake("full year", full_year.dropna().to_dict(), "this rep is not on board all year: multiply by their availability (the mean of their monthly shares)"),
        Mistake("annualise", not_annualised.dropna().to_dict(), "this rep joined during last year: scale their sales to a full year (LY x 12 / months employed) first"),
        Mistake("no base", {r: 0.0 for r in exp.index[exp["last_year"] <= 0]}, "a rep without last-year sales takes the average annualised base of their region's reps"),
    ]  # fmt: skip
    return compare(check, given, exp["bottom_up"].to_dict(), MONEY_TOLERANCE, mistakes, tolerance_text="50 K per rep",
                   general_hint="rep = LY annualised x (1 + personal growth) x level coefficient x availability")  # fmt: skip


# --------------------------------------------------------------------------------------
# exercise 2: top-down vs bottom-up


def check_reconciliation(answer: Any) -> Feedback:
    """Exercise 2a. ``answer``: ``{"gap": top-down - bottom-up, "final": the reconciled target}``.

    Expected: :func:`salesplan.targets.reconcile` with the exercise's rule (blend, top-down weight from
    ``targets.reconcile.top_down_weight``), bottom-up = the sum of the regions. Tolerance 50 K.
    """
    check, example = "2a gap and reconciled target", '{"gap": ..., "final": ...}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    try:
        given = as_mapping(answer, ["gap", "final"], value_columns=["value", "amount"])
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    rec = expected_reconciliation()
    w = float(rec["weight"])
    mistakes = [
        Mistake("sign", {"gap": -float(rec["gap"])}, "the gap is top-down minus bottom-up (positive: HQ asks for more than the parts offer)"),
        Mistake("swapped", {"final": float(expected_reconciliation(top_down_weight=1 - w)["final"])}, f"the weight {w:g} belongs to the top-down number: final = w x top-down + (1 - w) x bottom-up"),
        Mistake("scale", {"final": float(expected_reconciliation(rule="scale_to_top_down")["final"])}, "that is the scale-to-top-down rule; this exercise's rule is the blend"),
        Mistake("bottom-up", {"final": float(rec["bottom_up"])}, "that is the bottom-up sum as it stands; the rule blends it with the top-down number"),
        Mistake("reps", {"gap": float(rec["top_down"]) - float(expected_reps()["bottom_up"].sum())}, "the bottom-up side here is the sum of the regions, not of the reps"),
    ]  # fmt: skip
    return compare(check, given, {"gap": float(rec["gap"]), "final": float(rec["final"])}, MONEY_TOLERANCE, mistakes,
                   tolerance_text="50 K", general_hint="gap = top-down - bottom-up; final = w x top-down + (1 - w) x bottom-up")  # fmt: skip


def _whole_units(given: Mapping[str, Any], keys: list[str]) -> list[str]:
    out = []
    for k in keys:
        if k in given:
            try:
                v = as_number(given[k], k)
            except AnswerError:
                continue
            if not float(v).is_integer():
                out.append(f"{k} is {v:,.2f}: targets are whole currency units")
    return out


def _sum_line(given: Mapping[str, Any], keys: list[str], total: int, what: str) -> list[str]:
    try:
        s = sum(as_number(given[k], k) for k in keys if k in given)
    except AnswerError:
        return []
    if all(k in given for k in keys) and s != total:
        return [
            f"your {what} add up to {s:,.0f}, {abs(s - total):,.0f} {'over' if s > total else 'short of'} {total:,}: "
            "round with the largest remainder (floor every part, give the spare units to the largest remainders) "
            "so the parts add up exactly"
        ]
    return []


def check_reconciled_regions(answer: Any) -> Feedback:
    """Exercise 2b. ``answer``: each region's share of the reconciled target in whole units (dict, Series
    or DataFrame), adding up exactly to it.

    Expected: ``largest_remainder(bottom-up of each region, final)`` (:func:`salesplan.targets.largest_remainder`):
    each region keeps its share of the bottom-up sum. Tolerance: 1 unit per region; the sum must be exact.
    """
    check, example = "2b reconciled regions", '{"North": ..., "East": ..., ...} in whole units'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    try:
        given = as_mapping(answer, co.regions, ["region"], ["reconciled", "target", "amount", "value"],
                           orders=[sorted(co.regions)], expected=expected_reconciled_regions())  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    rec = expected_reconciliation()
    last = history()[history()["month"].dt.year == co.plan_year - 1].groupby("region")["net_amount"].sum()
    mistakes = [
        Mistake("top-down total", expected_reconciled_regions(total=int(np.floor(float(rec["top_down"]) + 0.5))), "those shares scale to the top-down number; scale to the reconciled target (final)"),
        Mistake("last-year shares", expected_reconciled_regions(weights=last), "those are last year's shares; keep each region's share of the bottom-up sum"),
        Mistake("unscaled", expected_regions().set_index("region")["bottom_up"].to_dict(), "those are the bottom-up numbers before reconciliation: scale them by final / bottom-up sum"),
    ]  # fmt: skip
    fb = compare(check, given, expected_reconciled_regions(), 1.0, mistakes, tolerance_text="1 unit per region",
                 general_hint="region = final x region bottom-up / sum of the regions' bottom-up, in whole units")  # fmt: skip
    return _merge(fb, _sum_line(given, co.regions, annual_target(), "regions") + _whole_units(given, co.regions))


def _stretch_pct() -> float:
    return float(_targets().stretch_pct)


def expected_target_levels(on: float | None = None, stretch_pct: float | None = None) -> dict[str, float]:
    """Exercise 2c: the three target levels of the agreed target (the method's "base + elastic space"):
    ``base`` = the agreed target (2a); ``challenge`` = base x (1 + targets.stretch_pct), the stretch
    target with its own reward; ``flexible`` = challenge - base, the elastic space between them.
    ``on`` replaces the agreed target (the typical mistake: the coefficient applied to last year)."""
    base = float(annual_target()) if on is None else float(on)
    s = _stretch_pct() if stretch_pct is None else float(stretch_pct)
    challenge = base * (1 + s)
    return {"base": base, "challenge": challenge, "flexible": challenge - base}


LEVEL_ALIASES = {
    "base_target": "base", "基础目标": "base", "基础": "base", "stretch": "challenge", "stretch_target": "challenge",
    "challenge_target": "challenge", "挑战目标": "challenge", "挑战": "challenge", "elastic": "flexible",
    "elastic_space": "flexible", "flexible_target": "flexible", "弹性目标": "flexible", "弹性": "flexible",
}  # fmt: skip


def check_target_levels(answer: Any) -> Feedback:
    """Exercise 2c. ``answer``: ``{"base": ..., "challenge": ..., "flexible": ...}`` for the agreed target
    (a dict, Series or DataFrame; also stretch / elastic and 基础 / 挑战 / 弹性).

    Expected: :func:`expected_target_levels`, ``challenge = base x (1 + targets.stretch_pct)``, ``flexible =
    challenge - base``, on the agreed target of 2a. Tolerance 50 K.
    """
    check, example = "2c base / challenge / flexible", '{"base": ..., "challenge": ..., "flexible": ...}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    exp = expected_target_levels()
    try:
        given = as_mapping(answer, list(exp), ["level", "target"], ["amount", "value", "target_amount"],
                           aliases=LEVEL_ALIASES, expected=exp)  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    s = _stretch_pct()
    ly = expected_target_levels(on=last_year())
    stretch_1a = float(expected_baseline().set_index("step").loc["stretch", "amount"])
    mistakes = [
        Mistake("last year", {**ly, "base": exp["base"]}, f"that applies the stretch coefficient to last year's sales; the levels sit on the agreed target (2a): challenge = agreed target x (1 + {s:g})"),
        Mistake("base last year", {"base": last_year()}, "the base target is the agreed target of 2a, the number everyone must reach, not last year's sales"),
        Mistake("swap", {"challenge": exp["flexible"], "flexible": exp["challenge"]}, "challenge and flexible are swapped: the challenge target is the higher number (base x (1 + stretch)); the flexible target is the elastic space between base and challenge"),
        Mistake("1a stretch", {"challenge": stretch_1a}, "that is the stretch value of 1a's historical baseline; after the reconciliation the levels sit on the agreed target (2a)"),
        Mistake("space on top", {"flexible": exp["challenge"] + exp["flexible"]}, "the flexible target is the space between base and challenge (challenge - base), not a level above the challenge"),
    ]  # fmt: skip
    fb = compare(check, given, exp, MONEY_TOLERANCE, mistakes, tolerance_text="50 K",
                 general_hint=f"base = agreed target (2a); challenge = base x (1 + targets.stretch_pct = {s:g}); flexible = challenge - base")  # fmt: skip
    if fb.ok:
        return Feedback(check, "correct", "correct (within 50 K). Everyone must reach the base; the challenge "
                        "target earns its own reward; the flexible space is where the team stretches.")  # fmt: skip
    return fb


def funnel() -> dict[str, float]:
    """The funnel rates exercise 2d uses: ``pipeline_share`` and ``avg_deal`` (the company's last year),
    ``win_rate`` (targets.process.fallback_win_rate) and ``visits_per_lead`` (targets.process.visits_per_lead)."""
    return dict(_co().funnel)


def expected_process_targets(
    revenue: float | None = None, share: float | None = None, win_rate: float | None = None
) -> dict[str, int]:
    """Exercise 2d: the process targets behind the agreed revenue target, by the library's funnel steps
    (:mod:`salesplan.targets.process`): ``deals = won_deals_needed(revenue, pipeline share, average deal)``
    (ceil of revenue x share / average deal), ``leads = leads_needed(deals, win rate)`` (ceil of deals / win
    rate; every opportunity enters as a lead), ``visits = visits_needed(deals, visits per lead / win rate)``
    (= leads x visits per lead, the library's rule without activity data). Counts are whole: each step
    rounds up."""
    f = funnel()
    rate = f["win_rate"] if win_rate is None else float(win_rate)
    deals = won_deals_needed(
        float(annual_target()) if revenue is None else float(revenue),
        f["pipeline_share"] if share is None else float(share),
        f["avg_deal"],
    )
    return {
        "deals": deals,
        "leads": leads_needed(deals, rate),
        "visits": visits_needed(deals, f["visits_per_lead"] / rate),
    }


PROCESS_ALIASES = {
    "won_deals": "deals", "won deals": "deals", "deal": "deals", "成交": "deals", "成交数": "deals",
    "opportunities": "leads", "lead": "leads", "线索": "leads", "线索数": "leads", "visit": "visits",
    "拜访": "visits", "拜访数": "visits",
}  # fmt: skip


def check_process_targets(answer: Any) -> Feedback:
    """Exercise 2d. ``answer``: the process targets behind the agreed revenue target, ``{"deals": won deals,
    "leads": leads, "visits": visits}`` (a dict, Series or DataFrame; ``won_deals`` and ``opportunities`` too).

    Expected: :func:`expected_process_targets` (the library's :func:`~salesplan.targets.process.won_deals_needed`,
    :func:`~salesplan.targets.process.leads_needed`, :func:`~salesplan.targets.process.visits_needed`).
    Exact whole counts; a count that is not whole is named (counts round up).
    """
    check, example = "2d process targets (funnel)", '{"deals": ..., "leads": ..., "visits": ...} whole counts'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    exp = {k: float(v) for k, v in expected_process_targets().items()}
    try:
        given = as_mapping(answer, list(exp), ["step", "stage", "target"], ["count", "value", "amount"],
                           aliases=PROCESS_ALIASES, expected=exp)  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    f = funnel()
    revenue = float(annual_target())
    raw_deals = revenue * f["pipeline_share"] / f["avg_deal"]
    per_lead = f["visits_per_lead"]

    def chain(deals: float) -> dict[str, float]:
        # What an answer carries downstream from its own number of deals (leads and visits follow it).
        return {"deals": deals, "leads": deals / f["win_rate"], "visits": deals / f["win_rate"] * per_lead}

    no_deal = {k: float(np.ceil(v)) for k, v in chain(revenue * f["pipeline_share"]).items()}
    no_share = {k: float(v) for k, v in expected_process_targets(share=1.0).items()}
    mistakes = [
        Mistake("times rate", {"leads": float(np.ceil(exp["deals"] * f["win_rate"])), "visits": float(np.ceil(exp["deals"] * f["win_rate"])) * per_lead},
                f"that multiplies by the win rate; it takes more leads than deals: leads = deals / win rate ({f['win_rate']:g})"),
        Mistake("no average deal", no_deal, "that counts currency units, not deals: divide the pipeline's revenue by the average won deal"),
        Mistake("no pipeline share", no_share, f"not all revenue comes through the pipeline (repeat orders do not): deals = revenue x pipeline share ({f['pipeline_share']:g}) / average deal"),
        Mistake("rounded down", {k: float(np.floor(v)) for k, v in chain(raw_deals).items()}, "rounded down: the plan falls short by part of a deal; counts round up (ceil)"),
        Mistake("unrounded", chain(raw_deals), "counts are whole: round each step up (ceil), then take the next step from the whole number"),
        Mistake("visits per deal", {"visits": exp["deals"] * per_lead}, f"visits per lead ({per_lead:g}) apply to the leads, not to the deals: visits = leads x visits per lead"),
    ]  # fmt: skip
    fb = compare(check, given, exp, 0.01, mistakes, fmt=lambda v: f"{v:,.2f}".rstrip("0").rstrip("."),
                 general_hint="deals = ceil(revenue x pipeline share / average deal); leads = ceil(deals / win rate); visits = leads x visits per lead")  # fmt: skip
    fractional = []
    for k in exp:
        try:
            v = as_number(given[k], k) if k in given else None
        except AnswerError:
            continue
        if v is not None and not float(v).is_integer():
            fractional.append(f"{k} is {v:,.2f}: a count is whole; round up (no one wins 0.3 of a deal)")
    if fb.ok:
        return Feedback(check, "correct", "correct. These are process targets: what the funnel must do so the result "
                        "target (revenue) can happen; they are tracked month by month beside it.")  # fmt: skip
    return _merge(fb, fractional)


# --------------------------------------------------------------------------------------
# exercise 3: phasing


def _month_values(answer: Any) -> dict[int, float]:
    # A Series or dict numbered 0-11 (what a plain list or np.arange gives) holds January to December.
    if isinstance(answer, pd.Series) and list(answer.index) == list(range(12)):
        answer = answer.set_axis(MONTHS)
    elif isinstance(answer, Mapping) and sorted(answer, key=str) == sorted(range(12), key=str):
        answer = {int(k) + 1: v for k, v in answer.items()}
    given = as_mapping(answer, [str(m) for m in MONTHS], ["month", "month_of_year"], ["target_amount", "target", "amount", "share", "value"],
                       aliases={k: str(v) for k, v in MONTH_ALIASES.items()})  # fmt: skip
    out = {}
    for k, v in given.items():
        key = k
        if isinstance(k, str) and k not in {str(m) for m in MONTHS}:
            ts = pd.to_datetime(k, errors="coerce")
            key = str(ts.month) if pd.notna(ts) else k
        out[key] = v
    return out


def check_phasing(answer: Any, template: str = "seasonality") -> Feedback:
    """Exercise 3a-3c. ``answer``: the twelve monthly targets of the annual target (a list Jan-Dec, a dict or
    Series by month 1-12 or month name, or a DataFrame with ``month`` and ``target_amount``), or the
    twelve monthly shares (fractions adding up to 1).

    Expected: :func:`salesplan.targets.phase_total` of :func:`salesplan.targets.monthly_shares` —
    ``share_m = index_m / 12`` (seasonality) or ``share_m = q_share x index_m / sum of the quarter's
    indices`` (a quarterly template; a seasonal template likewise over its campaign seasons). Amounts: whole units, 1 unit per month, the sum exact; shares: 0.01
    points per month.
    """
    seasonal = _targets().phasing.seasonal_templates
    key = "3a" if template == "seasonality" else "3c" if template in seasonal else "3b"
    check = f"{key} phasing ({template.replace('_', ' ')}{' seasons' if template in seasonal else ''})"
    example = "a list of 12 amounts Jan-Dec, or {1: ..., 2: ..., ...}, or 12 shares adding up to 1"
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    try:
        given = _month_values(answer)
        values = {k: as_number(v, k) for k, v in given.items()}
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    co = _co()
    total = annual_target()
    exp = expected_phasing(template)
    # Shares add up to 1 (or to 100 when given in %, which the unit-slip line then names).
    is_share = sum(values.values()) < 1.5 or abs(sum(values.values()) - 100) <= 1
    col = "share" if is_share else "target_amount"

    def as_dict(frame: pd.DataFrame) -> dict[str, float]:
        return {str(m): float(v) for m, v in zip(frame["month_of_year"], frame[col], strict=True)}

    templates = _targets().phasing.quarterly_templates
    mistakes = []
    if template != "seasonality":
        mistakes.append(Mistake("even", as_dict(expected_phasing(template, even_within=True)),
                                f"within a {'season' if template in seasonal else 'quarter'} the months follow the seasonality index, not a third each"))  # fmt: skip
    if template in seasonal:
        mistakes.append(Mistake("calendar quarters", as_dict(phase_total(total, monthly_shares("quarterly_template", history(), template=[s.share for s in seasonal[template]]), co.plan_year)),
                                "those shares sit on calendar quarters; the campaign seasons run March-May, June-August, September-November and December-February"))  # fmt: skip
    for other in ["seasonality", *templates, *seasonal]:
        if other != template:
            mistakes.append(Mistake(other, as_dict(expected_phasing(other)), f"that month follows the {other.replace('_', ' ')} phasing; this task asks for {template.replace('_', ' ')}"))  # fmt: skip
    monthly = co.monthly_sales()
    days = pd.Series([pd.Period(f"{co.plan_year}-{m:02d}").days_in_month for m in MONTHS], index=MONTHS, dtype=float)
    mistakes += [
        Mistake("calendar days", as_dict(_profile_phasing(days, total)), "that spreads the year by calendar days; sales do not follow the calendar: use the seasonality index (each month against its year's monthly mean)"),
        Mistake("even", as_dict(_profile_phasing(pd.Series(1.0, index=MONTHS), total)), "that gives every month a twelfth; the months differ: use the seasonality index"),
        Mistake("pooled", as_dict(_profile_phasing(monthly.mean(axis=1), total)), "that index pools all years, so their growth leaks into the later months: divide each month by its own year's monthly mean, then average over the years"),
        Mistake("last year", as_dict(_profile_phasing(monthly[co.plan_year - 1], total)), "that follows last year alone; the index averages every complete year"),
    ]  # fmt: skip
    label = {str(m): MONTH_NAMES[m - 1] for m in MONTHS}.get
    if is_share:
        fb = compare(check, values, as_dict(exp), SHARE_TOLERANCE, mistakes, label=label, fmt=lambda v: pct(v, 2),
                     tolerance_text="0.01 points per month")  # fmt: skip
        s = sum(values.values())
        extra = [] if abs(s - 1) < 1e-9 else [f"your shares add up to {pct(s, 4)}; they must make exactly 100 %"]
    else:
        fb = compare(check, values, as_dict(exp), 1.0, mistakes, label=label, tolerance_text="1 unit per month",
                     general_hint="month = annual target x share; shares from the index (or the template) add up to 100 %")  # fmt: skip
        keys = [str(m) for m in MONTHS]
        extra = _sum_line(values, keys, total, "months") + _whole_units(values, keys)
    return _merge(fb, extra)


def expected_season_months(template: str = "campaign") -> list[int]:
    """Exercise 3d: the months the seasonal template plans above the seasonality index (month numbers)."""
    a = expected_phasing(template)["target_amount"].to_numpy()
    b = expected_phasing("seasonality")["target_amount"].to_numpy()
    return [m for m, x, y in zip(MONTHS, a, b, strict=True) if x > y]


def check_season_question(answer: Any, template: str = "campaign") -> Feedback:
    """Exercise 3d. ``answer``: the months in which the campaign-season plan (3c) asks more than the
    seasonality index (3a): a list of month numbers (1-12) or names (``"Mar"``), in any order.

    Expected: :func:`expected_season_months`. Exact.
    """
    check, example = "3d seasons against seasonality", '[month, month, ...] as numbers 1-12 or names "Jan" ... "Dec"'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    if isinstance(answer, pd.Series | pd.Index | np.ndarray | set | tuple):
        answer = list(answer)
    if not isinstance(answer, list):
        return invalid(check, f"a {type(answer).__name__}; expected a list of months", example)
    months: set[int] = set()
    for m in answer:
        key = str(m).strip()[:3].title() if not str(m).strip().isdigit() else str(int(str(m).strip()))
        month = MONTH_ALIASES.get(key)
        if month is None:
            ts = pd.to_datetime(str(m), errors="coerce")
            month = int(ts.month) if pd.notna(ts) else None
        if month is None:
            return invalid(check, f"{m!r} is not a month", example)
        months.add(int(month))
    exp = set(expected_season_months(template))
    extra, missed = sorted(months - exp), sorted(exp - months)
    if not extra and not missed:
        december = expected_phasing(template)["target_amount"].iloc[11] / expected_phasing()["target_amount"].iloc[11]
        return Feedback(
            check,
            "correct",
            f"correct. The campaign plan asks more of the selling seasons and plans December at about "
            f"{december:.0%} of its seasonal weight: agree that with the team, or the year's close starts behind.",
        )
    details = []
    if extra:
        details.append(f"{', '.join(MONTH_NAMES[m - 1] for m in extra)}: not above the seasonality plan")
    if missed:
        details.append(f"{len(missed)} month{'s' if len(missed) != 1 else ''} above the seasonality plan missing")
    if months == set(MONTHS) - exp:
        details.append("that is the other way round: the months the seasons plan *below* the seasonality index")
    return Feedback(check, "wrong", "not right yet.", details,
                    ["put your 3c months next to your 3a months, month by month: where is 3c higher?"])  # fmt: skip


# --------------------------------------------------------------------------------------
# exercise 4: allocation


def check_region_split(answer: Any) -> Feedback:
    """Exercise 4b, capacity as a check on the split. ``answer``: each region's load index, its share of the
    agreed target (exercise 2b) over its share of capacity (dict region -> number, Series or DataFrame with
    ``region``).

    Expected: :func:`expected_region_load` with ``capacity_r = sum over the region's reps of level coefficient
    x mean availability`` (:func:`salesplan.targets.cell_bases`, the capacity basis the monthly targets use).
    Tolerance :data:`LOAD_TOLERANCE` per region.
    """
    check, example = (
        "4b load against capacity",
        '{"North": ..., "East": ..., ...} (1 = the region carries its share of capacity)',
    )
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    exp = expected_region_load()
    try:
        given = as_mapping(answer, co.regions, ["region"], ["load", "load_index", "index", "value"],
                           orders=[sorted(co.regions)], expected=exp)  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    heads = _team().groupby("region")["rep_id"].count().reindex(co.regions).astype(float)
    bu = expected_regions().set_index("region")["bottom_up"]
    mistakes = [
        Mistake("capacity split", expected_region_load(region_targets=expected_region_split()), "that splits the target by capacity first, so every region gets the same load; the split is 2b's (by potential), capacity only checks it"),
        Mistake("literal head count", expected_region_load(capacity=heads), "that divides by the head count (every rep as 1, all year): weight each rep by level coefficient x mean availability"),
        Mistake("head count", expected_region_load(capacity=expected_capacity(flat_levels=True, ramp=[1.0], keep_leavers=True)), "that counts every rep as a full rep all year: weight each by level coefficient x mean availability"),
        Mistake("levels", expected_region_load(capacity=expected_capacity(flat_levels=True)), "the availability is right, but apply the level coefficient to each rep before adding up the region"),
        Mistake("ramp", expected_region_load(capacity=expected_capacity(ramp=[1.0])), "the new hire ramps up 25 / 50 / 75 / 100 %: their first months count less"),
        Mistake("leaver", expected_region_load(capacity=expected_capacity(keep_leavers=True)), "the leaver carries nothing after the leave date: count their months up to it only"),
        Mistake("bottom-up", expected_region_load(region_targets=bu.to_dict()), "that divides the bottom-up numbers of 1d; the agreed split is 2b's (reconciled to the target)"),
    ]  # fmt: skip
    fb = compare(check, given, exp, LOAD_TOLERANCE, mistakes, fmt=lambda v: f"{v:.2f}", tolerance_text="0.01 per region",
                 general_hint="load = (region target / total) / (region capacity / total capacity); capacity = sum over the region's reps of level coefficient x mean availability")  # fmt: skip
    if fb.ok:
        heavy = max(exp, key=exp.get)
        return Feedback(check, "correct", f"correct (within 0.01 per region). {heavy} asks the most of its team: "
                        "a reason to check its hiring or support, not to move its target away from its potential.")  # fmt: skip
    return fb


def check_availability(answer: Any) -> Feedback:
    """Exercise 4a. ``answer``: each rep's availability in each month of the plan year: a DataFrame rep x
    month (1-12), or a dict rep -> 12 values.

    Expected: :func:`salesplan.targets.rep_availability` — the k-th month on board gets ``ramp[k-1]``
    (25 / 50 / 75 / 100 %), nothing before the hire month and after the leave date. Tolerance 0.001.
    """
    check = "4a availability"
    example = '{"N1": [12 values Jan-Dec], ...} or a DataFrame rep x month (1-12)'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    exp = expected_availability()
    reps = list(exp.index)
    try:
        frame = answer
        if isinstance(answer, Mapping):
            frame = pd.DataFrame({k: list(v) for k, v in answer.items()}).T
        if not isinstance(frame, pd.DataFrame):
            raise AnswerError(f"a {type(answer).__name__}; expected a DataFrame rep x month or a dict rep -> 12 values")
        if "rep_id" in frame.columns and "month" in frame.columns and "availability" in frame.columns:
            m = frame["month"]
            m = as_dates(m).dt.month if not pd.api.types.is_integer_dtype(m) else m
            frame = frame.assign(month=m).pivot(index="rep_id", columns="month", values="availability")
        if frame.shape[1] != 12:
            raise AnswerError(f"{frame.shape[1]} columns; expected 12 months")
        frame = frame.set_axis(MONTHS, axis=1)
    except (AnswerError, ValueError, TypeError) as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    given = {f"{rep} {MONTH_NAMES[m - 1]}": frame.loc[rep, m] for rep in frame.index for m in MONTHS}
    expected = {f"{rep} {MONTH_NAMES[m - 1]}": float(exp.loc[rep, m]) for rep in reps for m in MONTHS}

    def flat(frame: pd.DataFrame) -> dict[str, float]:
        return {f"{rep} {MONTH_NAMES[m - 1]}": float(frame.loc[rep, m]) for rep in frame.index for m in MONTHS}

    mistakes = [
        Mistake("ramp", flat(expected_availability(ramp=[1.0])), "a new hire ramps up: 25 % in the hire month, then 50 %, 75 %, 100 %"),
        Mistake("late", flat(expected_availability(ramp=[0.0, *_ramp(None)])), "the hire month is the first month on board (25 %), not month zero"),
        Mistake("leaver", flat(expected_availability(keep_leavers=True)), "nothing after the leave date: the months after it are 0"),
    ]  # fmt: skip
    unknown = sorted(set(map(str, frame.index)) - set(reps))
    fb = compare(check, given, expected, 0.001, mistakes, fmt=lambda v: f"{v:.2f}", tolerance_text="0.001")
    return _merge(fb, [f"not on board in {_co().plan_year}: {', '.join(unknown)}"] if unknown else [])


def check_rep_targets(answer: Any) -> Feedback:
    """Exercise 4c. ``answer``: each rep's annual target in whole units (dict rep -> amount, Series, or a
    DataFrame with ``rep_id`` and ``target_amount``), each region's reps adding up exactly to the region.

    Expected: :func:`expected_rep_targets`, each rep's bottom-up number (1e) reconciled to the region's agreed
    year (2b): ``rep = region target x rep bottom-up / sum of the region's reps' bottom-up``, largest
    remainder. Tolerance: 1 unit per rep; each region's sum must be exact.
    """
    check, example = "4c rep targets", '{"N1": ..., "N2": ..., ...} in whole units'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    exp = expected_rep_targets()
    reps = list(exp)
    try:
        given = as_mapping(answer, reps, ["rep_id", "rep"], ["target_amount", "target", "amount", "value"],
                           orders=[sorted(reps)], expected=exp)  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    team = _team()
    avail = rep_availability(team, co.plan_year, _ramp(None)).groupby("rep_id")["availability"].mean()
    capacity_w = (team.set_index("rep_id")["level"].map(_levels()) * avail).to_dict()
    last = history()[history()["month"].dt.year == co.plan_year - 1].groupby("rep_id")["net_amount"].sum().to_dict()
    mistakes = [
        Mistake("unscaled", {r: float(v) for r, v in expected_reps().set_index("rep_id")["bottom_up"].items()}, "those are the bottom-up numbers of 1e as they stand: scale each region's reps to the region's agreed year (2b)"),
        Mistake("capacity", expected_rep_targets(weights=capacity_w), "that splits by capacity (level x availability); the method keeps each rep's own bottom-up number (1e) and only scales it to the region"),
        Mistake("last year", expected_rep_targets(weights=last), "that splits by last year's sales; use the bottom-up numbers of 1e (growth, level, availability)"),
        Mistake("levels", expected_rep_targets(flat_levels=True), "the bottom-up numbers lack the level coefficient (1e: junior 0.7 ... lead 1.2)"),
        Mistake("ramp", expected_rep_targets(ramp=[1.0]), "the new hire ramps up 25 / 50 / 75 / 100 %: their bottom-up number uses their availability"),
        Mistake("leaver", expected_rep_targets(keep_leavers=True), "the leaver carries nothing after the leave date: their bottom-up number uses their months on board only"),
        Mistake("company", expected_rep_targets(region_targets=_split_by(pd.Series(expected_regions().set_index("region")["bottom_up"]) * 0 + 1)), "that splits the company target evenly over regions; each region keeps its agreed year (2b)"),
    ]  # fmt: skip
    fb = compare(check, given, exp, 1.0, mistakes, tolerance_text="1 unit per rep",
                 general_hint="rep = region target (2b) x rep bottom-up (1e) / sum of the region's reps' bottom-up, in whole units")  # fmt: skip
    region_of = team.set_index("rep_id")["region"]
    totals = expected_reconciled_regions()
    extra: list[str] = _whole_units(given, reps)
    for region in co.regions:
        members = [r for r in reps if region_of[r] == region]
        extra += _sum_line(given, members, int(totals[region]), f"{region} reps")
    return _merge(fb, extra)


# --------------------------------------------------------------------------------------
# exercise 5: the retrospective


def _status(value: Any) -> str:
    s = str(value).strip().casefold()
    s = STATUS_ALIASES.get(s, s)
    return s.replace(" ", "_").replace("-", "_")


def check_statuses(answer: Any) -> Feedback:
    """Exercise 5a. ``answer``: each item's status (dict item -> ``green``, ``yellow``, ``red``, ``dark_red``
    or ``ahead``; also 绿 / 黄 / 红 / 深红 / 领先), a Series or a DataFrame with ``item`` and ``status``.

    Expected: :func:`salesplan.retro.flags.classify_deviation` with ``retro.thresholds`` — behind by up to
    5 % green, 5-10 % yellow, 10-15 % red, more than 15 % dark red, more than 5 % ahead "ahead"; exactly on
    a boundary counts as the milder status.
    """
    check, example = (
        "5a red / yellow / green",
        '{"North": "...", "East": "...", ...} (green, yellow, red, dark_red or ahead)',
    )
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    co = _co()
    items = list(co.retro["item"])
    try:
        given = as_mapping(answer, items, ["item"], ["status", "flag", "colour", "color"])
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    given = {k: _status(v) for k, v in given.items()}
    exp = expected_statuses()
    t = co.settings.retro.thresholds
    r = co.retro.set_index("item")
    d = pd.Series(deviation(r["actual"].to_numpy(), r["target"].to_numpy()), index=r.index)
    against_actual = dict(
        zip(items, classify_deviation(2 - r["target"] / r["actual"], 1.0, t.model_dump()), strict=True)
    )
    # On a band edge (within EDGE_TOLERANCE) both neighbouring statuses are accepted: the stricter one is
    # what floating point gives a plain `<=`, not a misreading of the rule.
    stricter = {k: _edge_neighbour(float(d[k]), t) for k in items}
    missing = [k for k in items if k not in given]
    unknown = [k for k in given if k not in exp]
    details, hints, notes = [], [], []
    if missing:
        details.append(f"missing: {', '.join(missing)}")
    if unknown:
        details.append(f"not expected here: {', '.join(unknown)} (items: {', '.join(items)})")
    known = {"green", "yellow", "red", "dark_red", "ahead", "no_target"}
    # An answer measured against the actual (off the edges) explains its edge items too: no edge allowance then.
    uses_actual = any(k in given and given[k] == against_actual[k] != exp[k] and stricter[k] is None for k in items)
    off = []
    for k in items:
        if k not in given or given[k] == exp[k]:
            continue
        if stricter[k] is not None and given[k] == stricter[k] and not (uses_actual and given[k] == against_actual[k]):
            notes.append(
                f"{k} sits exactly on a band edge ({d[k]:+.1%}): the rule gives the milder status; a plain `<=` on "
                f"actual / plan - 1 lands on the other side by floating point, so round the deviation (e.g. to 9 "
                f"decimals) or compare with a small tolerance"
            )
            continue
        off.append(k)
    against_all = off and all(against_actual[k] == given[k] for k in off)
    for k in off:
        line = f"{k} is not {given[k]!r} ({d[k]:+.1%} against plan)"
        if reveal():
            line += f"; expected {exp[k]!r}"
        if given[k] not in known:
            line += ": use green, yellow, red, dark_red or ahead"
        elif against_actual[k] == given[k] and given[k] != exp[k]:
            line += ": measure the deviation against the plan (actual / plan - 1), not against the actual (1 - plan / actual)"
        elif d[k] > t.ahead + EDGE_TOLERANCE:
            line += f": this item is ahead of plan, not behind: more than {pct(t.ahead, 0)} ahead is 'ahead'"
        elif given[k] == "ahead":
            line += f": 'ahead' is for more than {pct(t.ahead, 0)} above plan; this item is behind or close to plan"
        else:
            line += f": the bands are {pct(t.yellow, 0)} / {pct(t.red, 0)} / {pct(t.dark_red, 0)} behind plan"
        details.append(line)
    if not details:
        return Feedback(check, "correct", f"correct ({len(items)} items).", notes)
    if against_all and len(off) > 1:
        hints.append("every item that is off was measured against the actual: the deviation is actual / plan - 1")
    hints.append("deviation = actual / plan - 1; behind by <= 5 % green, <= 10 % yellow, <= 15 % red, more dark red")
    n = len(off) + len(missing)
    return Feedback(
        check, "wrong", f"{n} of {len(items)} {'item is' if n == 1 else 'items are'} off.", details + notes, hints
    )


def _edge_neighbour(dev: float, t: Thresholds) -> str | None:
    """The stricter status next to a band edge the deviation ``dev`` sits on (within :data:`EDGE_TOLERANCE`),
    or None off the edges: on the 5 % behind edge ``yellow``, on 10 % ``red``, on 15 % ``dark_red``, on 5 %
    ahead ``ahead``."""
    for edge, status in (
        (-t.yellow, "yellow"),
        (-t.red, "red"),
        (-t.dark_red, "dark_red"),
        (t.ahead, "ahead"),
    ):
        if abs(dev - edge) <= EDGE_TOLERANCE:
            return status
    return None


def check_pvm(answer: Any) -> Feedback:
    """Exercise 5b. ``answer``: the variance of actual against plan split into ``{"volume": ..., "price": ...,
    "mix": ...}`` (a dict, Series or DataFrame with those labels).

    Expected: :func:`salesplan.metrics.price_volume_mix` with the plan as base and the actual as current —
    ``volume = (Q1 - Q0) x plan average price``, ``price = sum (P1 - P0) x Q1``, ``mix = the rest``. Tolerance 1 K.
    """
    check, example = "5b price / volume / mix", '{"volume": ..., "price": ..., "mix": ...}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    try:
        given = as_mapping(answer, ["volume", "price", "mix"], ["label", "effect", "step"], ["value", "amount", "effect"],
                           aliases={"volume_effect": "volume", "price_effect": "price", "mix_effect": "mix"})  # fmt: skip
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    given = {k: v for k, v in given.items() if k in ("volume", "price", "mix")}
    co = _co()
    exp = expected_pvm()
    keys = ["volume", "price", "mix"]
    expected = {k: float(exp[k]) for k in keys}
    # Price at planned units: the library's price effect with plan and actual swapped, sign turned back.
    swapped = metrics.pvm_summary(metrics.price_volume_mix(co.pvm_actual, co.pvm_plan, key=["product_line"]))
    price_q0 = -float(swapped["price"])
    # Each line on its own (no mix): the library run line by line.
    per_line = [
        metrics.pvm_summary(metrics.price_volume_mix(co.pvm_plan[co.pvm_plan["product_line"] == line],
                                                     co.pvm_actual[co.pvm_actual["product_line"] == line], key=["product_line"]))
        for line in co.pvm_plan["product_line"]
    ]  # fmt: skip
    volume_lines = float(sum(p["volume"] for p in per_line))
    change = float(exp["change"])
    mistakes = [
        Mistake("price at plan units", {"price": price_q0, "mix": change - expected["volume"] - price_q0}, "price effect = (actual price - plan price) x *actual* units"),
        Mistake("no mix", {"volume": volume_lines, "mix": 0.0}, "that is each line's own volume change; the volume effect is the change in *total* units at the plan's average price and mix, and the shift between lines is the mix"),
        Mistake("sign", {k: -v for k, v in expected.items()}, "effects are actual minus plan: a shortfall is negative"),
        Mistake("swap", {"volume": expected["price"], "price": expected["volume"]}, "price and volume are swapped"),
    ]  # fmt: skip
    fb = compare(check, given, expected, 1_000.0, mistakes, tolerance_text="1 K",
                 general_hint="volume = (Q1 - Q0) x plan avg price; price = sum (P1 - P0) x Q1; mix = variance - volume - price")  # fmt: skip
    extra = []
    try:
        total = sum(as_number(given[k], k) for k in keys if k in given)
        if all(k in given for k in keys) and abs(total - change) > 1_000:
            extra.append(f"your effects add up to {money(total)}; they must add up to the variance {money(change)}")
    except AnswerError:
        pass
    return _merge(fb, extra)


GROUP_WORDS = re.compile(
    r"\b(all|every|everyone|everybody|team|teams|reps|staff|we|us|they|management|tbd|n/?a|somebody|someone)\b|"
    r"团队|大家|所有|全体|我们|销售部",
    re.IGNORECASE,
)
"""Words that make an owner a group: a group owns nothing, one person or role acts."""
OWNER_ROLES = (
    "region lead", "regional lead", "regional manager", "region manager", "sales director", "head of sales",
    "department head", "head of department", "general manager", "sales manager", "product manager",
    "区域经理", "区域负责人", "大区经理", "销售总监", "部门负责人", "总经理", "销售经理", "产品经理",
)  # fmt: skip
"""Roles a 5-Why owner may name (besides a rep by id): the leads of the company's structure and the
escalation levels' roles."""
WHY_MIN_WORDS = 4
"""A why is a causal statement: at least four words (or six characters of Chinese)."""
WHY_MIN_CJK = 6
WHY_SIMILARITY = 0.9
"""Two whys at least 90 % alike (difflib's ratio, after case and punctuation are dropped) are the same why."""
COUNT_UNITS = (
    r"customers?|accounts?|clients?|visits?|calls?|meetings?|orders?|leads?|deals?|quotes?|proposals?|demos?|"
    r"reps?|people|dealers?|distributors?|contracts?|opportunit(?:y|ies)|workshops?|trainings?|"
    r"家|个|次|位|单|场|名"
)
"""Units that count things: their number must be whole (no one calls 1.5 customers)."""
MEASURE_UNITS = r"%|percent|k\b|m\b|units?|days?|weeks?|hours?|yuan|rmb|cny|eur|usd|元|万|天|周|小时"
NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|hundred"
QUANTITY = re.compile(
    rf"(?P<n>\d+(?:[.,]\d+)?|{NUMBER_WORDS})\s*(?:[\w'-]+\s+){{0,2}}?(?P<unit>{COUNT_UNITS}|{MEASURE_UNITS})",
    re.IGNORECASE,
)
MONTH_WORDS = {m.casefold(): i for i, m in enumerate(MONTH_NAMES, start=1)}
DATES = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?\b"),
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月(?:\s*(?P<d>\d{1,2})\s*[日号])?"),
    re.compile(r"\b(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{4})\b"),
    re.compile(r"\b(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\b"),
)
"""Dates a next step may carry: 2026-07-15, 2026-07, 2026年7月15日, 15 July 2026, July 15(, 2026), 15/07/2026.
A month name without a year means the plan year."""


def _why_text(value: Any) -> str:
    return re.sub(r"[\W_]+", " ", str(value).casefold()).strip()


def _is_statement(why: str) -> bool:
    cjk = len(re.findall(r"[\u3400-\u9fff]", why))
    return len(re.findall(r"[^\W\d_]{2,}", why)) >= WHY_MIN_WORDS or cjk >= WHY_MIN_CJK


def _step_dates(step: str, year: int) -> tuple[list[pd.Timestamp], str]:
    """The dates in a next step and the step with them taken out (so their digits are no quantity)."""
    found: list[pd.Timestamp] = []
    rest = step
    for pattern in DATES:
        for m in pattern.finditer(step):
            g = m.groupdict()
            month = int(g["m"]) if g.get("m") else MONTH_WORDS.get(str(g.get("mon", ""))[:3].casefold())
            if month is None or not 1 <= month <= 12:
                continue
            y = int(g["y"]) if g.get("y") else year
            day = int(g["d"]) if g.get("d") else pd.Period(f"{y}-{month:02d}").days_in_month
            try:
                found.append(pd.Timestamp(y, month, day))
            except ValueError:
                continue
            rest = rest.replace(m.group(0), " ")
    return found, rest


def _owner_ok(owner: str, reps: list[str]) -> str | None:
    """None when ``owner`` names one person or role: a rep of the company by id or a lead's role
    (:data:`OWNER_ROLES`), and no group word; otherwise what is wrong with it."""
    if not owner:
        return "no owner named: name one person or role who acts"
    if GROUP_WORDS.search(owner):
        return f"owner {owner!r} is a group: a group owns nothing; name one person or role (a rep or a lead)"
    tokens = set(re.findall(r"[A-Za-z]\d+", owner.upper()))
    if tokens & {r.upper() for r in reps}:
        return None
    if tokens:
        return f"owner {owner!r}: {', '.join(sorted(tokens))} is no rep of the company after the month reviewed (reps: {', '.join(reps)})"
    if any(role in owner.casefold() for role in OWNER_ROLES):
        return None
    return (
        f"owner {owner!r} is not a rep or a role of the company: name a rep by id ({', '.join(reps)}) or a lead "
        "(e.g. 'West region lead', 'sales director')"
    )


def check_five_why(answer: Any) -> Feedback:
    """Exercise 5c. ``answer``: a 5-Why for one flagged item: ``{"item": ..., "whys": [five answers],
    "owner": a person or role, "next_step": what happens, how much, by when}``.

    Checked: the item is red or dark red (by :func:`salesplan.retro.flags.classify_deviation`); five whys,
    each a causal statement (at least :data:`WHY_MIN_WORDS` words or :data:`WHY_MIN_CJK` Chinese characters),
    no two alike (:data:`WHY_SIMILARITY`); one owner: a rep on board after the month reviewed (by id) or a
    lead's role (:data:`OWNER_ROLES`), never a group; a measurable next step (a number with a unit or a count,
    counts whole) with a date in the plan year after the month reviewed.
    """
    check = "5c 5-Why"
    example = '{"item": ..., "whys": [five causal statements], "owner": one rep or role, "next_step": "what, how many, by YYYY-MM-DD"}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    if not isinstance(answer, Mapping):
        return invalid(check, f"a {type(answer).__name__}; expected a dict with item, whys, owner, next_step", example)
    import difflib

    co = _co()
    a = {str(k).strip().casefold(): v for k, v in answer.items()}
    exp = expected_statuses()
    lookup = {k.casefold(): k for k in exp}
    details: list[str] = []
    item = lookup.get(str(a.get("item", "")).strip().casefold())
    flagged = [k for k, s in exp.items() if s in ("red", "dark_red")]
    if item is None:
        details.append(f"item {a.get('item')!r} is not in the retrospective (items: {', '.join(exp)})")
    elif item not in flagged:
        details.append(f"{item} is not red or dark red: a 5-Why is for a flagged item (see 5a)")
    raw = a.get("whys") or []
    whys = [str(w).strip() for w in (raw if isinstance(raw, list | tuple) else [raw]) if str(w).strip()]
    if len(whys) < 5:
        details.append(f"{len(whys)} why{'s' if len(whys) != 1 else ''}: ask 'why?' again until you reach a cause the team can act on (five times)")  # fmt: skip
    short = [i + 1 for i, w in enumerate(whys) if not _is_statement(w)]
    if short:
        details.append(f"why {', '.join(map(str, short))}: not a causal statement; write what happened and why (a short sentence, e.g. 'key accounts ordered less because ...')")  # fmt: skip
    texts = [_why_text(w) for w in whys]
    same = [(i + 1, j + 1) for i in range(len(texts)) for j in range(i + 1, len(texts))
            if difflib.SequenceMatcher(None, texts[i], texts[j]).ratio() >= WHY_SIMILARITY]  # fmt: skip
    if same:
        details.append(f"why {same[0][0]} and why {same[0][1]} say the same thing: each why goes one level deeper")
    closed = pd.Period(RETRO_MONTH).end_time.normalize()
    reps = [
        r for r, leave in zip(co.reps["rep_id"], co.reps["leave_date"], strict=True) if pd.isna(leave) or leave > closed
    ]
    if (problem := _owner_ok(str(a.get("owner") or "").strip(), reps)) is not None:
        details.append(problem)
    step = str(a.get("next_step") or "").strip()
    dates, rest = _step_dates(step, co.plan_year)
    quantities = list(QUANTITY.finditer(rest))
    if len(re.findall(r"[^\W\d_]{2,}", rest)) < 2 and len(re.findall(r"[\u3400-\u9fff]", rest)) < 4:
        details.append("the next step is missing or too short: say what will be done, how much and by when")
    elif not quantities:
        details.append("the next step is not measurable: say how much or how many (e.g. '8 customer visits', '5 %', '200 K')")  # fmt: skip
    else:
        for q in quantities:
            n = q.group("n").replace(",", ".")
            if re.fullmatch(COUNT_UNITS, q.group("unit"), re.IGNORECASE) and n.replace(".", "").isdigit() and not float(n).is_integer():  # fmt: skip
                details.append(f"'{q.group(0)}': counts are whole (customers, visits, calls come one at a time)")
                break
    if not dates:
        details.append("the next step has no date: say by when (a date such as 2026-07-15)")
    elif not any(d.year == co.plan_year and d > closed for d in dates):
        details.append(f"the next step's date is not in the plan year {co.plan_year} after the month reviewed ({RETRO_MONTH}): the step comes after the review")  # fmt: skip
    if details:
        return Feedback(check, "wrong", f"{len(details)} thing{'s' if len(details) != 1 else ''} to fix.", details,
                        ["a 5-Why ends at a cause the team controls, with one owner and a measurable, dated next step"])  # fmt: skip
    # Only the three warning statuses have a response; green and ahead escalate to nobody.
    escalation = co.settings.retro.escalation.model_dump().get(exp[item], "")
    owner = str(a.get("owner")).strip()
    return Feedback(check, "correct", f"complete: {item}, {len(whys)} whys, owner {owner}. Escalation: {escalation}.")


def revision_proposal() -> pd.DataFrame:
    """Exercise 5d's proposal: the region's agreed quarters (2b phased by seasonality) and the proposed
    new targets (``REVISION_STORY``), whole units: ``quarter, plan, proposed``."""
    months = region_month_targets().loc[REVISION_REGION]
    quarters = months.groupby((months.index - 1) // 3 + 1).sum()
    rows = [
        (q, int(quarters[int(q[1])]), int(round(quarters[int(q[1])] * (1 + change))))
        for q, change in REVISION_STORY.items()
    ]
    return pd.DataFrame(rows, columns=["quarter", "plan", "proposed"])


def expected_revision(limit: float | None = None, against: str = "plan", cuts_only: bool = False) -> dict[str, str]:
    """Exercise 5d: each proposed quarter ``within`` the revision rule or needing the ``exception`` procedure:
    ``|proposed / plan - 1| <= targets.revision_flag_share`` (10 %) is within; more needs the exception.
    ``against`` / ``cuts_only`` give the typical mistakes."""
    share = float(_targets().revision_flag_share) if limit is None else limit
    out = {}
    for row in revision_proposal().itertuples():
        base = row.plan if against == "plan" else row.proposed
        change = (row.proposed - row.plan) / base
        moved = -change if cuts_only else abs(change)
        out[row.quarter] = "within" if moved <= share + EDGE_TOLERANCE else "exception"
    return out


REVISION_ALIASES = {
    "within": "within", "ok": "within", "allowed": "within", "yes": "within", "true": "within", "fine": "within",
    "允许": "within", "exception": "exception", "flag": "exception", "flagged": "exception", "no": "exception",
    "false": "exception", "escalate": "exception", "例外": "exception",
}  # fmt: skip


def check_revision(answer: Any) -> Feedback:
    """Exercise 5d. ``answer``: for each proposed quarter, ``"within"`` the quarterly revision rule or
    ``"exception"`` (dict quarter -> word, or True for within / False for exception).

    Expected: :func:`expected_revision`, ``|proposed / plan - 1| <= targets.revision_flag_share`` (10 %,
    the method: a quarterly revision stays within 10 %; a larger one, up or down, only through the explicit
    exception procedure). Exact, with :data:`EDGE_TOLERANCE` on the edge.
    """
    check, example = "5d quarterly revision", '{"Q3": "within" or "exception", "Q4": ...}'
    if (fb := _guard(check, answer, example)) is not None:
        return fb
    exp = expected_revision()
    try:
        given = as_mapping(answer, list(exp), ["quarter"], ["decision", "status", "value"])
    except AnswerError as exc:
        return invalid(check, f"cannot read the answer: {exc}", example)
    words = {k: REVISION_ALIASES.get(str(v).strip().casefold(), str(v)) for k, v in given.items()}
    details = [f"missing: {k}" for k in exp if k not in words]
    details += [f"not a quarter of the proposal: {k}" for k in words if k not in exp]
    against_new, cuts = expected_revision(against="proposed"), expected_revision(cuts_only=True)
    for k, e in exp.items():
        w = words.get(k)
        if w is None or w == e:
            continue
        line = f"{k} is not {w!r}"
        if w not in ("within", "exception"):
            line += ": say 'within' or 'exception'"
        elif against_new[k] == w != e:
            line += ": measure the change against the plan in force (proposed / plan - 1), not against the proposal"
        elif cuts[k] == w != e:
            line += ": the rule limits the size of the change either way: raising a quarter by more than 10 % needs the exception too"
        else:
            line += ": compare |proposed / plan - 1| with targets.revision_flag_share (10 %)"
        details.append(line)
    if not details:
        return Feedback(check, "correct", "correct: within the rule the lead may revise at the quarterly review; "
                        "beyond it the exception procedure decides, and approved changes apply going forward.")  # fmt: skip
    return Feedback(check, "wrong", "not right yet.", details,
                    ["a quarterly revision moves a quarter by at most 10 %, up or down; more needs the exception procedure"])  # fmt: skip


def givens(number: int) -> dict[str, Any]:
    """What exercise ``number`` starts from (the agreed results of the exercises before it, from the library;
    never a result of its own parts):

    * 2: ``top_down`` (1b), ``bottom_up_regions`` (1d, Series by region), ``rule``, ``top_down_weight``,
      ``stretch_pct`` (2c) and ``funnel`` (2d: pipeline share, average deal, win rate, visits per lead);
      2b-2d start from the final number the trainee's 2a found;
    * 3: ``annual_target``, ``monthly_sales`` (month x year), ``templates`` (``targets.phasing.quarterly_templates``),
      ``seasons`` (the campaign seasons of ``targets.phasing.seasonal_templates``: name, months, share);
    * 4: ``annual_target``, ``team`` (reps on board with level coefficient), ``ramp``, ``region_targets``
      (2b: the regions' agreed years, the split by potential exercise 4 builds on) and ``rep_bottom_up``
      (1e: each rep's bottom-up number, for 4c);
    * 5: ``retro`` (item, level, target, actual), ``thresholds``, ``plan`` and ``actual`` by product line,
      ``revision`` (5d: the region's proposed new quarters beside the plan).
    """
    co = _co()
    if number == 2:
        rec = expected_reconciliation()
        return {
            "top_down": float(rec["top_down"]),
            "bottom_up_regions": expected_regions().set_index("region")["bottom_up"],
            "rule": co.reconcile_rule,
            "top_down_weight": float(rec["weight"]),
            "stretch_pct": _stretch_pct(),
            "funnel": pd.Series(funnel(), name="value").rename_axis("rate"),
        }
    if number == 3:
        phasing = _targets().phasing
        return {
            "annual_target": annual_target(),
            "monthly_sales": co.monthly_sales(),
            "templates": dict(phasing.quarterly_templates),
            "seasons": pd.DataFrame([s.model_dump() for s in phasing.seasonal_templates["campaign"]]),
        }
    if number == 4:
        return {
            "annual_target": annual_target(),
            "team": co.team(),
            "ramp": list(_targets().ramp),
            "region_targets": pd.Series(expected_reconciled_regions(), name="target_amount").rename_axis("region"),
            "rep_bottom_up": expected_reps().set_index("rep_id")["bottom_up"],
        }
    if number == 5:
        return {
            "retro": co.retro.copy(),
            "thresholds": co.thresholds,
            "plan": co.pvm_plan.copy(),
            "actual": co.pvm_actual.copy(),
            "revision": revision_proposal(),
        }
    raise KeyError(f"exercise {number} has no givens beyond ws.company(); givens exist for exercises 2-5")
