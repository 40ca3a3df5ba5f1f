"""The workshop company: a small, fixed company small enough to reason about by hand.

It is derived deterministically from the constants of the sample company
(:mod:`salesplan.sample`), without reading any data file:

* the four regions with their growth story (``REGION_GROWTH``) and sizes from their share of
  customers (``REGION_CUSTOMER_SHARE`` x 120 M, rounded to 10 M): North 30, East 40, South 30,
  West 20 M last year; the years do not grow alike (``YEAR_FACTOR``: a slow 2023, a strong 2024),
  so averaging the yearly growth rates gives a visibly different rate from the compound one, while
  every region's 3-year CAGR stays its growth story;
* one product line of each tier (core, emerging, long tail) with a 50 / 30 / 20 % mix (the sample's
  starting shares, rounded to 10 %) and round unit prices;
* nine reps over the four levels, with one rep hired half-way through last year, one new hire
  in the plan year and one leaver, split from the region's sales by the sample's level weights;
* the sample's monthly season (January and February averaged over the two Chinese-New-Year
  cases).

Four complete years of history (2022-2025) feed a plan for 2026. Amounts are whole thousands of
currency units; the library's formulas work on them unchanged. Everything the exercises give the
trainees as input (increments, market figures, potential indices, the reconciliation rule, the
retrospective month) lives in :class:`WorkshopCompany` as well, so every exercise starts from the
same numbers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from salesplan import sample
from salesplan.config import load_settings
from salesplan.dates import as_dates
from salesplan.settings import Settings
from salesplan.targets import largest_remainder, rep_availability

PLAN_YEAR = 2026
HISTORY_YEARS = (2022, 2023, 2024, 2025)
# Each year's growth factor on top of the regions' own growth. The factors multiply to 1, so the
# 3-year CAGRs stay the growth story, but the yearly rates swing (about 2 %, 16 %, 4 %): their plain
# average is not the compound rate, and a check can tell the two apart.
YEAR_FACTOR = {2023: 0.95, 2024: 1.08, 2025: 1 / (0.95 * 1.08)}
COMPANY_LAST_YEAR = 120_000_000
# One product line per tier, in the sample's order.
LINE_TIERS = ("core", "emerging", "long_tail")
# Unit prices: the sample's list-price midpoints rounded to a number you can multiply in your head.
LINE_PRICES = {"Industrial Pumps": 4_000.0, "智能传感器": 1_500.0, "Spare Parts": 100.0}
# rep_id, region, level, hire date, leave date (None: stays). Levels follow the sample's mix.
REPS = (
    ("N1", "North", "lead", "2016-03-01", None),
    ("N2", "North", "junior", "2021-09-01", None),
    ("E1", "East", "senior", "2017-05-01", None),
    ("E2", "East", "mid", "2019-02-01", None),
    ("E3", "East", "junior", "2025-07-01", None),
    ("S1", "South", "senior", "2015-10-01", None),
    ("S2", "South", "mid", "2020-06-01", None),
    ("S3", "South", "junior", "2026-04-01", None),
    ("W1", "West", "mid", "2018-08-01", None),
    ("W2", "West", "senior", "2014-01-01", "2026-06-30"),
)
# The retrospective month of exercise 5 and each item's story (deviation from plan).
RETRO_MONTH = "2026-06"
RETRO_STORY = {
    "North": -0.03,
    "East": 0.08,
    "South": -0.10,
    "West": -0.20,
    # Measured against the actual (1 - plan / actual) E2 would cross into red: that mistake shows.
    "E2": -0.095,
    "S1": -0.05,
    "S2": -0.12,
    "W1": -0.16,
}
# After the June review West's lead proposes new targets for the second half: quarter -> change. Q3 is
# cut just under the 10 % a quarterly revision may move (but more than 10 % when measured against the
# proposal), Q4 raised beyond it: raising needs the exception as much as cutting.
REVISION_REGION = "West"
REVISION_STORY = {"Q3": -0.095, "Q4": 0.12}
# Plan and actual of the retrospective month by product line: units and unit prices. The core line
# raised its price (as in the sample), volume fell, the mix moved away from cheap spare parts.
PVM_PLAN = {"Industrial Pumps": (1_000, 4_000.0), "智能传感器": (2_000, 1_500.0), "Spare Parts": (10_000, 100.0)}
PVM_ACTUAL = {"Industrial Pumps": (950, 4_200.0), "智能传感器": (2_400, 1_450.0), "Spare Parts": (8_000, 100.0)}
# The funnel as observed last year (what salesplan.targets.process.observed_funnel measures from a pipeline
# export): the part of revenue won through the pipeline and the average won deal. The win rate and the
# visits per lead are the method's settings (targets.process), as the library uses them without data.
FUNNEL = {"pipeline_share": 0.6, "avg_deal": 400_000.0}


def _season() -> np.ndarray:
    """Monthly season of the sample, January and February averaged over the two Chinese-New-Year cases;
    normalised so the twelve months average 1."""
    season = sample.SEASON.astype(float).copy()
    season[0] = (sample.CNY_IN_JANUARY[0] + sample.CNY_IN_FEBRUARY[0]) / 2
    season[1] = (sample.CNY_IN_JANUARY[1] + sample.CNY_IN_FEBRUARY[1]) / 2
    return season / season.mean()


def _lines() -> list[str]:
    return [next(p[0] for p in sample.PRODUCT_LINES if p[1] == tier) for tier in LINE_TIERS]


@dataclass(frozen=True)
class WorkshopCompany:
    """The workshop company: history, reps and every input the exercises give.

    ``cube`` is a monthly cube (``month, region, product_line, rep_id, net_amount, quantity``) like the
    one the workbook builds from real exports; ``reps`` the reps table the target functions take;
    ``settings`` the method's validated settings (:func:`salesplan.config.load_settings`), read once.
    """

    plan_year: int
    regions: list[str]
    product_lines: list[str]
    reps: pd.DataFrame
    cube: pd.DataFrame
    settings: Settings
    increments: dict[str, float]
    market: dict[str, float]
    resource_factor: dict[str, float]
    potential_index: dict[str, float]
    reconcile_rule: str
    retro: pd.DataFrame
    pvm_plan: pd.DataFrame
    pvm_actual: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    funnel: dict[str, float] = field(default_factory=dict)

    @property
    def level_coefficient(self) -> dict[str, float]:
        """Level -> coefficient, from ``targets.bottom_up.level_coefficient``."""
        return {str(k): float(v) for k, v in self.settings.targets.bottom_up.level_coefficient.items()}

    @property
    def thresholds(self) -> dict[str, float]:
        """The deviation bands of ``retro.thresholds`` (5 / 10 / 15 % behind, 5 % ahead) as a plain dict,
        the form the trainees are given (``t["yellow"]``)."""
        return {k: float(v) for k, v in self.settings.retro.thresholds.model_dump().items()}

    def sales_by_year(self, by: str | None = None) -> pd.DataFrame:
        """Net sales per calendar year (columns), in total or per ``by`` (``region``, ``rep_id``,
        ``product_line``) as rows."""
        c = self.cube.assign(year=self.cube["month"].dt.year)
        if by is None:
            return c.groupby("year")["net_amount"].sum().to_frame("net_amount").T.rename(index={"net_amount": "total"})
        return c.pivot_table(index=by, columns="year", values="net_amount", aggfunc="sum", fill_value=0.0)

    def monthly_sales(self) -> pd.DataFrame:
        """Net sales by month of year (rows 1-12) and year (columns)."""
        c = self.cube.assign(year=self.cube["month"].dt.year, month_of_year=self.cube["month"].dt.month)
        return c.pivot_table(index="month_of_year", columns="year", values="net_amount", aggfunc="sum")

    def team(self) -> pd.DataFrame:
        """The reps on board at some point in the plan year with their level coefficient."""
        from salesplan.targets import active_reps

        team = active_reps(self.reps, self.plan_year)
        return team.assign(level_coefficient=team["level"].map(self.level_coefficient))

    def mean_availability(self) -> pd.Series:
        """Each rep's share of a full year in the plan year: the mean of their monthly shares (``targets.ramp``
        for a new hire, nothing after a leave date). Exercise 1e uses it; exercise 4a asks for the months
        behind it, so the month-by-month table is not given."""
        avail = rep_availability(self.team(), self.plan_year, self.settings.targets.ramp)
        return avail.groupby("rep_id")["availability"].mean().rename("availability")


def _rep_year_amounts(region_total: float, reps: list[tuple[str, str, float]]) -> dict[str, float]:
    """Split a region's year over its reps by level weight x months on board, in whole thousands."""
    weights = np.array([sample.LEVEL_WEIGHT[level] * months for _, level, months in reps])
    parts = largest_remainder(weights, round(region_total / 1000))
    return {rep: float(p) * 1000 for (rep, _, _), p in zip(reps, parts, strict=True)}


@cache
def _build() -> WorkshopCompany:
    settings = load_settings()
    targets = settings.targets
    regions = list(sample.REGIONS)
    lines = _lines()
    sizes = {r: round(sample.REGION_CUSTOMER_SHARE[r] * COMPANY_LAST_YEAR / 10e6) * 10e6 for r in regions}
    shares = np.array([next(p[2] for p in sample.PRODUCT_LINES if p[0] == line) for line in lines])
    mix = np.round(shares / shares.sum(), 1)  # 50 / 30 / 20 %
    season = _season()
    reps = pd.DataFrame(REPS, columns=["rep_id", "region", "level", "hire_date", "leave_date"])
    reps["hire_date"] = as_dates(reps["hire_date"])
    reps["leave_date"] = as_dates(reps["leave_date"])
    rows = []
    last = HISTORY_YEARS[-1]
    for region in regions:
        growth = sample.REGION_GROWTH[region]
        for year in HISTORY_YEARS:
            # Earlier years are last year's size taken back at the region's growth rate and the year factors.
            total = sizes[region] / (1 + growth) ** (last - year)
            total /= float(np.prod([YEAR_FACTOR[y] for y in HISTORY_YEARS if year < y <= last]))
            months = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
            team = [
                (r.rep_id, r.level, months[months >= r.hire_date.to_period("M").to_timestamp()])
                for r in reps[reps["region"] == region].itertuples()
            ]
            on_board = [(rep, level, len(m)) for rep, level, m in team if len(m)]
            per_rep = _rep_year_amounts(total, on_board)
            for rep, _level, rep_months in team:
                if not len(rep_months):
                    continue
                idx = rep_months.month.to_numpy() - 1
                weights = np.outer(season[idx], mix).reshape(-1)
                amounts = largest_remainder(weights, round(per_rep[rep] / 1000)) * 1000.0
                for k, (m, line) in enumerate((m, line) for m in rep_months for line in lines):
                    rows.append((m, region, line, rep, amounts[k]))
    cube = pd.DataFrame(rows, columns=["month", "region", "product_line", "rep_id", "net_amount"])
    cube["quantity"] = cube["net_amount"] / cube["product_line"].map(LINE_PRICES)

    retro_rows = []
    june = pd.Period(RETRO_MONTH).month - 1
    for item, dev in RETRO_STORY.items():
        level = "region" if item in regions else "rep"
        if level == "region":
            base = sizes[item] * (1 + sample.REGION_GROWTH[item])
        else:
            rep_region = reps.set_index("rep_id").loc[item, "region"]
            base = cube[(cube["rep_id"] == item) & (cube["month"].dt.year == last)]["net_amount"].sum()
            base *= 1 + sample.REGION_GROWTH[rep_region]
        # A round plan (whole 100 K) so the story's deviations land exactly on the band edges.
        plan = round(base * season[june] / 12 / 1e5) * 1e5
        retro_rows.append((level, item, plan, round(plan * (1 + dev))))
    retro = pd.DataFrame(retro_rows, columns=["level", "item", "target", "actual"])

    def pvm_table(spec: dict[str, tuple[int, float]]) -> pd.DataFrame:
        return pd.DataFrame(
            [(line, q, p, q * p) for line, (q, p) in spec.items()],
            columns=["product_line", "quantity", "price", "net_amount"],
        )

    team_size = int((reps["hire_date"] < f"{PLAN_YEAR + 1}-01-01").sum())
    return WorkshopCompany(
        plan_year=PLAN_YEAR,
        regions=regions,
        product_lines=lines,
        reps=reps,
        cube=cube,
        settings=settings,
        # Stated increments the history cannot know: a price rise and a new product line.
        increments={"new_products": 3_000_000.0, "new_regions": 0.0, "price_change_pct": 0.02},
        # Market figures for the top-down methods (industry growth and multiplier are the method's defaults).
        market={
            "industry_growth": float(targets.top_down.industry_growth),
            "multiplier": float(targets.top_down.multiplier),
            "market_size": 1_000_000_000.0,
            "market_share": 0.135,
        },
        resource_factor={"South": 1.1},
        potential_index={"North": 0.9, "East": 1.2, "South": 1.1, "West": 0.8},
        reconcile_rule="blend",
        retro=retro,
        pvm_plan=pvm_table(PVM_PLAN),
        pvm_actual=pvm_table(PVM_ACTUAL),
        notes=[
            f"{len(regions)} regions, {len(lines)} product lines, {team_size} reps; history {HISTORY_YEARS[0]}-{last}"
        ],
        funnel={
            **FUNNEL,
            "win_rate": float(targets.process.fallback_win_rate),
            "visits_per_lead": float(targets.process.visits_per_lead),
        },
    )


def company() -> WorkshopCompany:
    """The workshop company: always the same numbers. A fresh copy each call, so a trainee who changes a
    table in their notebook does not change what the checks expect."""
    return copy.deepcopy(_build())
