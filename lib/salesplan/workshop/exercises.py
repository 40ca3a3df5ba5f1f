"""The exercises' statements: one source for the notebooks, the handouts and the facilitator's kit.

Each part has a task, the formula, the form of the answer, the tolerance and the terms it practises;
:func:`task` shows one part in a notebook (Markdown), :mod:`salesplan.workshop.handouts` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from IPython.display import Markdown

from salesplan.workshop.glossary import glossary_table, term


@dataclass(frozen=True)
class Part:
    """One exercise part: what to compute, by which formula, in which form, checked by which function."""

    key: str
    title: str
    task: str
    formula: str
    answer_form: str
    tolerance: str
    check: str
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exercise:
    """One exercise notebook: its number, title, what it teaches and its parts."""

    number: int
    slug: str
    title: str
    teaches: str
    minutes: int
    parts: tuple[Part, ...]


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        1,
        "annual_number",
        "The annual number three ways",
        "Where an annual target comes from: the history (CAGR plus named increments), HQ's ambition (outgrow "
        "the market, or win a share of it) and the sum of what regions and reps can do.",
        60,
        (
            Part(
                "1a",
                "Historical baseline plus increments",
                "From the yearly sales 2022-2025, compute the 3-year CAGR and the baseline for 2026 with the stated increments.",
                "CAGR = (LY / sales 3 years earlier) ^ (1/3) - 1\nbaseline = LY x (1 + CAGR) x (1 + price change) + new products + new regions",
                '{"cagr": 0.07, "baseline": 135_000_000} or just the baseline',
                "50 K (CAGR 0.05 points)",
                "check_baseline",
                ("baseline", "CAGR", "increment"),
            ),
            Part(
                "1b",
                "Top-down by industry growth",
                "HQ wants to outgrow the market. Compute HQ's number from last year's sales, the industry growth rate and the multiplier.",
                "top-down = LY x (1 + industry growth x multiplier)",
                "one number",
                "50 K",
                "check_top_down",
                ("top-down", "industry growth rate", "multiplier"),
            ),
            Part(
                "1c",
                "Top-down by market share",
                "The alternative: the share of the market the company aims for, times the market size.",
                "top-down = market size x target market share",
                "one number",
                "50 K",
                "check_market_share",
                ("market share", "market size"),
            ),
            Part(
                "1d",
                "Bottom-up by region",
                "Each region grows at its own CAGR (same 3 years), times its resource factor and potential index.",
                "region = LY(region) x (1 + CAGR(region)) x resource factor x potential index",
                '{"North": ..., "East": ..., "South": ..., "West": ...}',
                "50 K per region",
                "check_bottom_up_regions",
                ("bottom-up", "resource-input factor", "potential index"),
            ),
            Part(
                "1e",
                "Bottom-up by rep",
                "Each rep's last-year base (scaled to a full year if they joined during it; the region's average if they have none), "
                "grown by the personal growth rate, weighted by level and by the share of the plan year they are available.",
                "rep = LY annualised x (1 + personal growth) x level coefficient x availability\n"
                "LY annualised = LY x 12 / months employed;  availability = mean of the monthly ramp / leave shares",
                '{"N1": ..., "N2": ..., ...} (every rep on board in 2026)',
                "50 K per rep",
                "check_bottom_up_reps",
                ("level coefficient", "personal growth rate", "ramp", "leaver"),
            ),
        ),
    ),  # fmt: skip
    Exercise(
        2,
        "gap",
        "Top-down vs bottom-up: the gap and the rule that closes it",
        "The two views never agree. Measure the gap, close it by a rule stated in advance, carry the agreed "
        "number down so the parts add up exactly, give it its base, challenge and flexible levels and the funnel "
        "it takes.",
        60,
        (
            Part(
                "2a",
                "The gap and the reconciled target",
                "Compare HQ's top-down number (1b) with the sum of the regions (1d). Close the gap with the blend rule: "
                "the top-down number gets the weight w, the bottom-up sum 1 - w. Round the result to whole units.",
                "gap = top-down - bottom-up\nfinal = w x top-down + (1 - w) x bottom-up   (w = targets.reconcile.top_down_weight)",
                '{"gap": ..., "final": ...}',
                "50 K",
                "check_reconciliation",
                ("gap", "reconciliation"),
            ),
            Part(
                "2b",
                "The regions' share of the agreed number",
                "Scale the regions' bottom-up numbers to the agreed target, in whole units that add up exactly to it.",
                "region = final x region bottom-up / sum of bottom-up, rounded by the largest remainder",
                '{"North": ..., ...} whole numbers',
                "1 unit per region; the sum exact",
                "check_reconciled_regions",
                ("largest remainder", "whole units"),
            ),
            Part(
                "2c",
                "Base, challenge and flexible targets",
                "The agreed number is the base everyone must reach. Give the three target levels: the base, the "
                "challenge target with its own reward (the stretch coefficient targets.stretch_pct on the agreed "
                "target) and the flexible space between them.",
                "base = final (2a)\nchallenge = base x (1 + stretch_pct)\nflexible = challenge - base",
                '{"base": ..., "challenge": ..., "flexible": ...}',
                "50 K",
                "check_target_levels",
                ("base target", "stretch target", "flexible target"),
            ),
            Part(
                "2d",
                "Result and process targets: the funnel",
                "Revenue is a result target; the funnel behind it sets the process targets. From the agreed "
                "target, how many deals must be won, how many leads must enter the funnel (every opportunity "
                "enters as a lead) and how many visits does that take? Use the funnel rates given.",
                "deals = revenue x pipeline share / average deal\nleads = deals / win rate\n"
                "visits = leads x visits per lead\nevery count whole: round each step up before the next",
                '{"deals": ..., "leads": ..., "visits": ...} whole counts',
                "exact",
                "check_process_targets",
                ("result target", "process target", "funnel"),
            ),
        ),
    ),  # fmt: skip
    Exercise(
        3,
        "phasing",
        "Phasing: from the year to the months",
        "How the year is spread over months: the data's own seasonality against the quarterly templates and the "
        "campaign seasons the method offers, and why the months must add up to exactly 100 %.",
        40,
        (
            Part(
                "3a",
                "Phasing by the seasonality index",
                "Compute the seasonality index from the complete years of history and phase the annual target (exercise 2) into months.",
                "index_m = mean over years of (month sales / that year's monthly mean)\nshare_m = index_m / 12;  month = target x share_m, in whole units adding up to the target",
                "12 amounts Jan-Dec (or 12 shares adding up to 1)",
                "1 unit per month; the sum exact",
                "check_phasing",
                ("phasing", "seasonality index", "largest remainder"),
            ),
            Part(
                "3b",
                "Phasing by the front-loaded template 28 / 32 / 27 / 13 %",
                "Give each quarter its template share and split it over its three months by the seasonality index.",
                "month = target x q_share x index_m / sum of the quarter's indices",
                "12 amounts Jan-Dec (or 12 shares)",
                "1 unit per month; the sum exact",
                "check_phasing",
                ("quarterly template",),
            ),
            Part(
                "3c",
                "Phasing by campaign season",
                "The method's sources tie 28 / 32 / 27 % to campaign seasons, not calendar quarters: spring push "
                "March-May 28 %, summer June-August 32 %, autumn sprint September-November 27 %, and the December close "
                "with the January-February preparation the remaining 13 % (targets.phasing.seasonal_templates.campaign). "
                "Give each season its share and split it over its months by the seasonality index.",
                "month = target x season_share x index_m / sum of the season's indices   (December-February is one season)",
                "12 amounts Jan-Dec (or 12 shares)",
                "1 unit per month; the sum exact",
                "check_phasing",
                ("quarterly template", "phasing"),
            ),
            Part(
                "3d",
                "Campaign seasons against the seasonality",
                "Put your 3c months next to your 3a months. In which months does the campaign plan ask more than the "
                "data's own seasonality? What does that mean for December, and would you agree it with the team?",
                "month above: 3c month > 3a month",
                "a list of months (numbers 1-12 or names)",
                "exact",
                "check_season_question",
                ("seasonality index",),
            ),
        ),
    ),  # fmt: skip
    Exercise(
        4,
        "allocation",
        "Allocation to regions and reps",
        "Everyone carries a target: who is available when (a new hire's ramp, a leaver), whether the split by potential of "
        "exercise 2 asks more of a team than it can carry, and every rep's bottom-up number of exercise 1 reconciled to their region.",
        60,
        (
            Part(
                "4a",
                "Availability month by month",
                "For every rep on board in 2026, the share of a full quota in each month: the ramp for the new hire, nothing after the leave date.",
                "k-th month on board: ramp[k] = 25 / 50 / 75 / 100 %;  0 before the hire month and after the leave date",
                "a table rep x month (1-12) or {rep: [12 values]}",
                "0.001",
                "check_availability",
                ("availability", "ramp", "leaver"),
            ),
            Part(
                "4b",
                "Capacity as a check on the split",
                "Exercise 2 split the year by potential (the regions' bottom-up numbers reconciled to the target). "
                "Check that split against what each team can carry: each region's share of the target over its "
                "share of the company's capacity. Which region asks the most of its team, and what would you do "
                "about it without moving its target away from its potential?",
                "capacity_r = sum over the region's reps of level coefficient x mean availability\n"
                "load_r = (region target_r / annual target) / (capacity_r / sum of capacities)   (1 = as much as the team's weight)",
                '{"North": ..., ...} one load index per region',
                "0.01 per region",
                "check_region_split",
                ("capacity", "level coefficient", "allocation"),
            ),
            Part(
                "4c",
                "Rep targets reconciled to the region",
                "Every rep's bottom-up number (exercise 1e, given) scaled to their region's agreed year (exercise 2b, "
                "given), in whole units that add up exactly to the region.",
                "rep = region target x rep bottom-up / sum of the region's reps' bottom-up\n"
                "whole units by the largest remainder within each region",
                '{"N1": ..., ...} whole numbers',
                "1 unit per rep; each region's sum exact",
                "check_rep_targets",
                ("bottom-up", "reconciliation", "whole units"),
            ),
        ),
    ),  # fmt: skip
    Exercise(
        5,
        "retrospective",
        "Reading a retrospective",
        "Reading the month against plan: which items need attention and at which escalation level, how much "
        "of the variance is price, volume and mix, and how a flagged item gets a cause, an owner and a next step.",
        60,
        (
            Part(
                "5a",
                "Red, yellow, green",
                "Classify every item of June 2026 by its deviation from plan.",
                "deviation = actual / plan - 1\nbehind <= 5 %: green;  5-10 %: yellow (level 1);  10-15 %: red (level 2);  > 15 %: dark red (level 3)\n"
                "more than 5 % ahead: ahead;  exactly on a band edge: the milder status",
                '{"North": "green", ...}',
                "exact",
                "check_statuses",
                ("deviation", "red / yellow / green", "escalation level"),
            ),
            Part(
                "5b",
                "Price, volume and mix",
                "Split June's variance (actual - plan) by product line units and prices into volume, price and mix.",
                "volume = (total units actual - plan) x plan average price\nprice = sum over lines of (actual price - plan price) x actual units\nmix = variance - volume - price",
                '{"volume": ..., "price": ..., "mix": ...}',
                "1 K",
                "check_pvm",
                ("price effect", "volume effect", "mix effect"),
            ),
            Part(
                "5c",
                "5-Why with owner and next step",
                "Pick a red or dark-red item, ask why five times, name one owner and a dated next step.",
                "why? -> why? -> why? -> why? -> why? -> a cause the team controls -> owner -> next step by a date",
                '{"item": ..., "whys": [5 answers], "owner": ..., "next_step": "... by 2026-07-15"}',
                "complete",
                "check_five_why",
                ("5-Why", "owner", "next step"),
            ),
            Part(
                "5d",
                "The quarterly revision rule",
                "After the June review West's lead proposes new targets for Q3 and Q4 (the table given). For each "
                "quarter: may the quarterly review make the change, or does it need the exception procedure?",
                "change = proposed / plan - 1;  |change| <= 10 % (targets.revision_flag_share): within;  more: exception",
                '{"Q3": "within" or "exception", "Q4": ...}',
                "exact",
                "check_revision",
                ("deviation",),
            ),
        ),
    ),  # fmt: skip
)


def exercise(number: int) -> Exercise:
    """Exercise ``number`` (1-5)."""
    for ex in EXERCISES:
        if ex.number == int(number):
            return ex
    raise KeyError(f"no exercise {number}; exercises are 1-{len(EXERCISES)}")


def part(key: str) -> Part:
    """Exercise part ``key`` (``"1a"`` ... ``"5c"``)."""
    for ex in EXERCISES:
        for p in ex.parts:
            if p.key == key:
                return p
    raise KeyError(f"no exercise part {key!r}")


def task_markdown(key: str) -> str:
    """One part as Markdown: task, formula, answer form, tolerance and the terms it practises."""
    p = part(key)
    terms = ", ".join(term(t) for t in p.terms)
    return (
        f"### {p.key} {p.title}\n\n**Task.** {p.task}\n\n```\n{p.formula}\n```\n\n"
        f"**Answer:** {p.answer_form} &nbsp; **Tolerance:** {p.tolerance} &nbsp; **Checked by:** `ws.{p.check}`"
        + (f"\n\n**Terms:** {terms}" if terms else "")
    )


def task(key: str) -> Markdown:
    """Show part ``key`` in a notebook (rendered Markdown; the text form is the same Markdown)."""
    return Markdown(task_markdown(key))


def vocabulary(number: int) -> pd.DataFrame:
    """The glossary entries exercise ``number`` practises, in the order its parts use them."""
    terms = dict.fromkeys(t for p in exercise(number).parts for t in p.terms)
    return glossary_table(list(terms))
