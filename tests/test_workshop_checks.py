"""Workshop checks teach without telling: no answer leaks, every accepted shape is read, every typical
mistake gets its own hint, garbage is refused with a reason."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import salesplan.workshop as ws  # noqa: E402
from salesplan.workshop import checks  # noqa: E402
from salesplan.workshop.feedback import REVEAL_ENV  # noqa: E402

EXERCISES = sorted(ws.EXERCISE_DIR.glob("0*.ipynb"))


def expect(fb: ws.Feedback, status: str, *fragments: str) -> None:
    text = fb.text()
    assert fb.status == status, text
    for f in fragments:
        assert f in text, f"{f!r} not in:\n{text}"


@pytest.fixture(autouse=True)
def _no_reveal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(REVEAL_ENV, raising=False)
    ws.reveal(reset=True)
    yield
    ws.reveal(reset=True)


# --------------------------------------------------------------------------------------
# every part's answer, and the ways a page prints a number


def answers() -> dict[str, list[float]]:
    """Each part's answer values (the distinctive ones: amounts, rates, indices)."""
    base = checks.expected_baseline().set_index("step")["amount"]
    rec = checks.expected_reconciliation()
    pvm = checks.expected_pvm()
    return {
        "1a": [float(base["baseline"])],
        "1b": [checks.expected_top_down()],
        "1d": list(checks.expected_regions()["bottom_up"]),
        "1e": list(checks.expected_reps()["bottom_up"]),
        "2a": [float(rec["gap"]), float(rec["final"])],
        "2b": list(checks.expected_reconciled_regions().values()),
        "2c": [v for k, v in checks.expected_target_levels().items() if k != "base"],  # base is 2a's final
        "3a": list(checks.expected_phasing()["target_amount"]),
        "3b": list(checks.expected_phasing("front_loaded")["target_amount"]),
        "4b": list(checks.expected_region_load().values()),
        "4c": list(checks.expected_rep_targets().values()),
        "5b": [float(pvm[k]) for k in ("volume", "price", "mix")],
    }


def printed(value: float) -> set[str]:
    """The ways a notebook, a table or a feedback line prints ``value``."""
    v = float(value)
    if abs(v) >= 1e5:
        return {f"{v:,.0f}", f"{v:.0f}", f"{v:,.3f}", f"{v / 1e6:,.2f} M", f"{v / 1e6:.2f}M", f"{v / 1e3:,.1f} K"}
    return {f"{v:.3f}", f"{v:.4f}"}


def part_exercise(key: str) -> int:
    return int(key[0])


def notebook_text(path) -> str:
    nb = nbformat.read(path, 4)
    out = []
    for cell in nb.cells:
        out.append(cell.source)
        for o in cell.get("outputs", []):
            out.append(str(o.get("text", "")))
            out.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(out)


def test_no_exercise_notebook_shows_an_answer() -> None:
    """No source or committed output of an exercise notebook holds any part's answer."""
    values = answers()
    for path in EXERCISES:
        nb = nbformat.read(path, 4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has outputs"
        text = notebook_text(path)
        for key, vals in values.items():
            for v in vals:
                hits = [s for s in printed(v) if s in text]
                assert not hits, f"{path.name} shows the answer of {key}: {hits}"


def given_tables(number: int) -> list[pd.DataFrame | pd.Series | Any]:
    """What exercise ``number`` shows: the company's tables and its givens."""
    co = ws.company()
    shown: list[Any] = [co.sales_by_year(), co.sales_by_year("region"), co.sales_by_year("rep_id"), co.team(),
                        co.mean_availability(), co.monthly_sales(), co.retro, co.pvm_plan, co.pvm_actual,
                        pd.Series(co.market), pd.Series(co.increments)]  # fmt: skip
    if number >= 2:
        shown += list(ws.givens(number).values())
    return shown


def render(obj: Any) -> str:
    with pd.option_context("display.float_format", "{:,.3f}".format, "display.max_rows", 500):
        if isinstance(obj, pd.DataFrame | pd.Series):
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            return obj.to_string() + "\n" + frame.to_html()
        return str(obj)


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_no_given_table_shows_an_answer_of_its_exercise_or_a_later_one(number: int) -> None:
    """An exercise may start from an earlier exercise's agreed result (2b's split in exercise 4), never from
    an answer of its own parts or a later exercise's."""
    text = "\n".join(render(t) for t in given_tables(number))
    for key, vals in answers().items():
        if part_exercise(key) < number:
            continue
        for v in vals:
            hits = [s for s in printed(v) if s in text]
            assert not hits, f"exercise {number}'s givens show the answer of {key}: {hits}"
    # 4a's answer is a table: no given table holds it (month by month), only the mean 1e needs.
    avail = checks.expected_availability()
    for t in given_tables(number):
        if isinstance(t, pd.DataFrame) and t.shape == avail.shape:
            assert not np.allclose(t.to_numpy(dtype=float), avail.to_numpy(dtype=float)), "4a's table is given"


WRONG: dict[str, Callable[[], tuple[Callable[[Any], ws.Feedback], Any]]] = {
    "1a": lambda: (ws.check_baseline, checks.expected_baseline().set_index("step")["amount"]["baseline"] * 1.07),
    "1b": lambda: (ws.check_top_down, checks.expected_top_down() * 0.93),
    "1d": lambda: (ws.check_bottom_up_regions, checks.expected_regions().set_index("region")["bottom_up"] * 1.05),
    "2a": lambda: (ws.check_reconciliation, {"gap": 1.0, "final": 1.0}),
    "2b": lambda: (ws.check_reconciled_regions, {k: v + 10_000 for k, v in checks.expected_reconciled_regions().items()}),
    "2c": lambda: (ws.check_target_levels, {k: v * 1.03 for k, v in checks.expected_target_levels().items()}),
    "3a": lambda: (ws.check_phasing, list(checks.expected_phasing()["target_amount"] + 5_000)),
    "4b": lambda: (ws.check_region_split, {k: v + 0.2 for k, v in checks.expected_region_load().items()}),
    "4c": lambda: (ws.check_rep_targets, {k: v + 3_000 for k, v in checks.expected_rep_targets().items()}),
    "5b": lambda: (ws.check_pvm, {"volume": 1.0, "price": 2.0, "mix": 3.0}),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(WRONG))
def test_feedback_never_names_the_expected_value_unless_revealed(key: str) -> None:
    check, answer = WRONG[key]()
    values = answers()[key]
    text = check(answer).text()
    assert check(answer).status == "wrong", text
    for v in values:
        assert not [s for s in printed(v) if s in text], text
    ws.reveal(True)
    shown = check(answer).text()
    assert "expected" in shown, shown


def test_reveal_follows_the_environment_until_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not ws.reveal()
    monkeypatch.setenv(REVEAL_ENV, "1")
    assert ws.reveal()
    ws.reveal(False)
    assert not ws.reveal()
    ws.reveal(reset=True)
    assert ws.reveal()


def test_not_answered_examples_hold_no_amount() -> None:
    """The "expected form" shows the shape of an answer with ``...`` for the values, never a number near one."""
    for check in CHECKS:
        text = check(None).text()
        assert "expected form:" in text, text
        assert not re.search(r"\d[\d_,.]{3,}", text.replace("YYYY-MM-DD", "")), text


# --------------------------------------------------------------------------------------
# accepted shapes


def test_phasing_accepts_a_zero_based_series_and_a_numpy_array() -> None:
    amounts = checks.expected_phasing()["target_amount"].to_numpy()
    expect(ws.check_phasing(pd.Series(amounts)), "correct")
    expect(ws.check_phasing(amounts), "correct")
    expect(ws.check_phasing(dict(enumerate(amounts))), "correct")


def test_a_key_column_named_index_is_read() -> None:
    exp = checks.expected_regions().set_index("region")["bottom_up"]
    frame = exp.rename_axis(None).reset_index()  # columns: index, bottom_up
    assert list(frame.columns) == ["index", "bottom_up"]
    expect(ws.check_bottom_up_regions(frame), "correct")
    reps = pd.Series(checks.expected_rep_targets()).reset_index()  # columns: index, 0
    expect(ws.check_rep_targets(reps), "correct")


def test_a_list_in_the_order_the_notebook_shows_is_read() -> None:
    co = ws.company()
    exp = checks.expected_regions().set_index("region")["bottom_up"]
    shown = list(co.sales_by_year("region").index)
    assert shown != co.regions  # the table sorts the regions
    expect(ws.check_bottom_up_regions([exp[r] for r in shown]), "correct")
    expect(ws.check_bottom_up_regions([exp[r] for r in co.regions]), "correct")
    reps = checks.expected_reps().set_index("rep_id")["bottom_up"]
    expect(ws.check_bottom_up_reps([reps[r] for r in co.sales_by_year("rep_id").index] + [reps["S3"]]), "correct")


# --------------------------------------------------------------------------------------
# unit slips: one line


@pytest.mark.parametrize(("scale", "word"), [(1e-6, "millions"), (1e-3, "thousands")])
def test_amounts_in_k_or_m_get_one_line(scale: float, word: str) -> None:
    months = checks.expected_phasing()["target_amount"] * scale
    fb = ws.check_phasing(list(months))
    expect(fb, "wrong", word)
    assert len(fb.text().splitlines()) == 2, fb.text()
    reps = {k: v * scale for k, v in checks.expected_rep_targets().items()}
    fb = ws.check_rep_targets(reps)
    expect(fb, "wrong", word)
    assert len(fb.text().splitlines()) == 2, fb.text()
    expect(ws.check_baseline(checks.expected_baseline().set_index("step")["amount"]["baseline"] * scale), "wrong", word)


def test_shares_in_percent_get_one_line() -> None:
    shares = checks.expected_phasing()["share"] * 100
    fb = ws.check_phasing(list(shares))
    expect(fb, "wrong", "percentages")
    assert len(fb.text().splitlines()) == 2, fb.text()


# --------------------------------------------------------------------------------------
# the mistakes the README names, each with its own hint


def test_averaging_yearly_growth_is_named() -> None:
    co = ws.company()
    sales = co.sales_by_year().loc["total"]
    avg = sales.pct_change().dropna().mean()
    cagr = (sales[2025] / sales[2022]) ** (1 / 3) - 1
    assert abs(avg - cagr) > 0.001  # the company's years swing, so the two differ
    inc = co.increments
    base = sales[2025] * (1 + avg) * (1 + inc["price_change_pct"]) + inc["new_products"] + inc["new_regions"]
    expect(ws.check_baseline(base), "wrong", "averages the yearly growth rates")
    expect(ws.check_baseline({"cagr": avg, "baseline": base}), "wrong", "averages the yearly growth rates")


def test_baseline_rounded_to_whole_millions_is_named() -> None:
    exact = checks.expected_baseline().set_index("step")["amount"]["baseline"]
    expect(ws.check_baseline(round(exact / 1e6) * 1e6), "wrong", "rounded to whole millions")
    expect(ws.check_baseline(round(exact / 1e5) * 1e5), "correct")


def test_last_year_times_the_multiplier_is_named() -> None:
    k = ws.company().market["multiplier"]
    expect(ws.check_top_down(checks.last_year() * k), "wrong", "multiplies last year by the multiplier")


def test_calendar_day_phasing_is_named() -> None:
    days = pd.Series([pd.Period(f"2026-{m:02d}").days_in_month for m in range(1, 13)], index=range(1, 13))
    months = checks.largest_remainder(days.to_numpy(dtype=float), ws.annual_target())
    expect(ws.check_phasing(list(months)), "wrong", "calendar days")


def test_a_literal_head_count_is_named() -> None:
    co = ws.company()
    heads = co.team().groupby("region")["rep_id"].count().reindex(co.regions)
    regions = checks.expected_reconciled_regions()
    load = {r: (regions[r] / sum(regions.values())) / (heads[r] / heads.sum()) for r in co.regions}
    expect(ws.check_region_split(load), "wrong", "head count")


def test_deviation_against_the_actual_is_named() -> None:
    co = ws.company()
    r = co.retro.set_index("item")
    t = co.thresholds
    dev = (1 - r["target"] / r["actual"]).to_numpy()
    status = np.select([dev > t["ahead"], -dev <= t["yellow"], -dev <= t["red"], -dev <= t["dark_red"]],
                       ["ahead", "green", "yellow", "red"], "dark_red")  # fmt: skip
    expect(ws.check_statuses(dict(zip(r.index, status, strict=True))), "wrong", "not against the actual")


def test_band_edges_compare_with_a_tolerance() -> None:
    co = ws.company()
    r = co.retro.set_index("item")
    t = co.thresholds
    dev = (r["actual"] / r["target"] - 1).to_numpy()  # natural: -5 % computes as -0.050000000000000044
    status = np.select([dev > t["ahead"], -dev <= t["yellow"], -dev <= t["red"], -dev <= t["dark_red"]],
                       ["ahead", "green", "yellow", "red"], "dark_red")  # fmt: skip
    fb = ws.check_statuses(dict(zip(r.index, status, strict=True)))
    expect(fb, "correct")
    assert checks.EDGE_TOLERANCE < 1e-6


# --------------------------------------------------------------------------------------
# 5-Why: content, not form

GOOD_WHY = {
    "item": "West",
    "whys": [
        "West sold a fifth below plan in June",
        "the key accounts of W2 ordered less than planned",
        "the accounts were not handed over before W2 left",
        "nobody was named to take over a leaver's accounts",
        "the plan has no handover step for a leaver",
    ],
    "owner": "West region lead",
    "next_step": "visit the 10 largest accounts of W2 with W1 by 2026-07-15",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"whys": list("abcde")}, "not a causal statement"),
        ({"whys": ["no", "no", "no", "no", "no"]}, "not a causal statement"),
        ({"whys": [*GOOD_WHY["whys"][:4], GOOD_WHY["whys"][3].upper() + "."]}, "say the same thing"),
        ({"owner": "x"}, "not a rep or a role"),
        ({"owner": "all reps"}, "is a group"),
        ({"owner": "销售团队"}, "is a group"),
        ({"owner": "W2"}, "no rep of the company after the month reviewed"),
        ({"next_step": "do it by"}, "not measurable"),
        ({"next_step": "call 1.5 customers by 2026-07-15"}, "counts are whole"),
        ({"next_step": "call 12 customers by 2020-07-15"}, "not in the plan year"),
        ({"next_step": "call 12 customers by 2026-05-15"}, "after the month reviewed"),
        ({"next_step": "call 12 customers soon"}, "no date"),
        ({"item": "North"}, "not red or dark red"),
    ],
)
def test_five_why_refuses_garbage_with_a_reason(change: dict[str, Any], message: str) -> None:
    expect(ws.check_five_why(GOOD_WHY | change), "wrong", message)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"owner": "W1"},
        {"owner": "sales director"},
        {"owner": "区域经理"},
        {"next_step": "拜访8家客户，2026年7月15日前"},
        {"next_step": "call 12 customers by July 20"},
        {"next_step": "raise the West pipeline by 500 K by 15 August 2026"},
    ],
)
def test_five_why_accepts_real_answers(change: dict[str, Any]) -> None:
    expect(ws.check_five_why(GOOD_WHY | change), "correct")


# --------------------------------------------------------------------------------------
# garbage never raises


GARBAGE = [0, -1, "", "abc", [], [1, 2], {"x": 1}, {"a": None}, np.nan, pd.DataFrame(), pd.Series(dtype=float),
           pd.DataFrame({"a": ["x"], "b": ["y"]}), object()]  # fmt: skip
CHECKS = [ws.check_baseline, ws.check_top_down, ws.check_market_share, ws.check_bottom_up_regions,
          ws.check_bottom_up_reps, ws.check_reconciliation, ws.check_reconciled_regions, ws.check_phasing,
          ws.check_availability, ws.check_region_split, ws.check_rep_targets, ws.check_statuses, ws.check_pvm,
          ws.check_five_why, ws.check_revision, ws.check_season_question, ws.check_target_levels,
          ws.check_process_targets]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_garbage_is_refused_never_raised(check: Callable[[Any], ws.Feedback]) -> None:
    for g in GARBAGE:
        fb = check(g)
        assert fb.status in ("wrong", "invalid"), (g, fb.text())
        assert fb.text()


# --------------------------------------------------------------------------------------
# campaign seasons: in the targets engine and in exercise 3


def test_season_template_phasing_in_the_targets_engine() -> None:
    from salesplan.config import load_config
    from salesplan.settings import Phasing
    from salesplan.targets import TargetInputError, monthly_shares, phasing_from_config

    phasing = load_config()["targets"]["phasing"]
    Phasing(**dict(phasing, method="season_template"))  # the default validates
    season = [s["share"] for s in phasing["seasonal_templates"]["campaign"]]
    assert season == [0.28, 0.32, 0.27, 0.13]
    shares = phasing_from_config(dict(phasing, method="season_template"), None)["share"].to_numpy()
    assert shares.sum() == pytest.approx(1.0)
    # Without history the months of a season are even: March-May 28 % / 3 each, December-February 13 % / 3.
    assert shares[2:5] == pytest.approx([0.28 / 3] * 3)
    assert shares[[11, 0, 1]] == pytest.approx([0.13 / 3] * 3)
    with_history = monthly_shares(
        "season_template", checks.history(), seasons=phasing["seasonal_templates"]["campaign"]
    )
    assert with_history["share"].iloc[[2, 3, 4]].sum() == pytest.approx(0.28)
    assert with_history["share"].iloc[[11, 0, 1]].sum() == pytest.approx(0.13)
    with pytest.raises(TargetInputError, match="every month 1-12 exactly once"):
        monthly_shares("season_template", None, seasons=[{"months": [1, 2, 3], "share": 1.0}])
    with pytest.raises(TargetInputError, match="not one of the seasonal_templates"):
        phasing_from_config(dict(phasing, method="season_template", season="nope"), None)
    bad = dict(phasing, seasonal_templates={"x": [{"months": [1, 2], "share": 1.0}]})
    with pytest.raises(ValueError, match="cover months 1-12 exactly once"):
        Phasing(**bad)


def test_campaign_phasing_and_the_comparison_question() -> None:
    exp = checks.expected_phasing("campaign")["target_amount"]
    assert exp.sum() == ws.annual_target()
    expect(ws.check_phasing(exp.tolist(), "campaign"), "correct", "3c")
    quarters = checks.expected_phasing("front_loaded")["target_amount"]
    expect(ws.check_phasing(quarters.tolist(), "campaign"), "wrong", "calendar quarters")
    even = checks.expected_phasing("campaign", even_within=True)["target_amount"]
    expect(ws.check_phasing(even.tolist(), "campaign"), "wrong", "not a third each")
    seasonality = checks.expected_phasing()["target_amount"]
    above = [m for m in range(1, 13) if exp.iloc[m - 1] > seasonality.iloc[m - 1]]
    assert above == checks.expected_season_months()
    expect(ws.check_season_question(above), "correct", "December")
    expect(ws.check_season_question([checks.MONTH_NAMES[m - 1] for m in above][::-1]), "correct")
    below = [m for m in range(1, 13) if m not in above]
    expect(ws.check_season_question(below), "wrong", "the other way round")
    expect(ws.check_season_question(["Smarch"]), "invalid", "not a month")
    expect(ws.check_season_question(42), "invalid")


# --------------------------------------------------------------------------------------
# the quarterly revision rule (5d)


def test_revision_rule_within_ten_percent_either_way() -> None:
    rev = checks.revision_proposal().set_index("quarter")
    limit = ws.company().settings.targets.revision_flag_share
    assert limit == pytest.approx(0.10)
    change = rev["proposed"] / rev["plan"] - 1
    right = {q: "within" if abs(c) <= limit else "exception" for q, c in change.items()}
    assert right == checks.expected_revision()
    assert set(right.values()) == {"within", "exception"}  # the case teaches both outcomes
    expect(ws.check_revision(right), "correct")
    expect(ws.check_revision({q: v == "within" for q, v in right.items()}), "correct")
    expect(ws.check_revision(pd.Series(right).rename("decision").rename_axis("quarter").reset_index()), "correct")
    # Measured against the proposal, Q3's cut looks larger than 10 %.
    against_new = {
        q: "within" if abs(r.proposed - r.plan) / r.proposed <= limit else "exception" for q, r in rev.iterrows()
    }
    expect(ws.check_revision(against_new), "wrong", "not against the proposal")
    # Only cuts counted: Q4's raise beyond 10 % slips through.
    cuts_only = {q: "within" if -c <= limit else "exception" for q, c in change.items()}
    expect(ws.check_revision(cuts_only), "wrong", "either way")
    expect(ws.check_revision({"Q3": "maybe", "Q4": "exception"}), "wrong", "say 'within' or 'exception'")
    expect(ws.check_revision({"Q3": "within"}), "wrong", "missing: Q4")
    assert ws.check_revision("within").status == "invalid"


# --------------------------------------------------------------------------------------
# base / challenge / flexible targets (2c)


def test_target_levels_sit_on_the_agreed_target() -> None:
    target = ws.annual_target()
    s = ws.company().settings.targets.stretch_pct
    assert ws.givens(2)["stretch_pct"] == s
    right = {"base": target, "challenge": target * (1 + s), "flexible": target * s}
    assert right == pytest.approx(checks.expected_target_levels())
    assert right["challenge"] > right["base"] > right["flexible"] > 0
    expect(ws.check_target_levels(right), "correct")
    expect(ws.check_target_levels(pd.Series(right)), "correct")
    expect(ws.check_target_levels(pd.Series(right).rename("amount").rename_axis("level").reset_index()), "correct")
    expect(
        ws.check_target_levels({"基础目标": target, "挑战目标": right["challenge"], "弹性目标": right["flexible"]}),
        "correct",
    )
    expect(
        ws.check_target_levels({"base": target, "stretch": right["challenge"], "elastic": right["flexible"]}), "correct"
    )
    expect(ws.check_target_levels([target, right["challenge"], right["flexible"]]), "correct")
    # the coefficient applied to last year instead of the agreed target
    ly = checks.last_year()
    expect(
        ws.check_target_levels({"base": target, "challenge": ly * (1 + s), "flexible": ly * s}), "wrong", "to last year"
    )
    expect(ws.check_target_levels({**right, "base": ly}), "wrong", "not last year")
    # challenge and flexible swapped
    swapped = {"base": target, "challenge": right["flexible"], "flexible": right["challenge"]}
    expect(ws.check_target_levels(swapped), "wrong", "swapped")
    # exercise 1a's stretch value on the historical baseline
    stretch_1a = checks.expected_baseline().set_index("step")["amount"]["stretch"]
    expect(ws.check_target_levels({**right, "challenge": stretch_1a}), "wrong", "1a's historical baseline")
    expect(ws.check_target_levels({k: v / 1e6 for k, v in right.items()}), "wrong", "millions")
    expect(ws.check_target_levels({"base": target}), "wrong", "missing")


# --------------------------------------------------------------------------------------
# result vs process targets: the funnel (2d)


def test_process_targets_follow_the_librarys_funnel() -> None:
    import math

    from salesplan.targets.process import leads_needed, visits_needed, won_deals_needed

    f = ws.givens(2)["funnel"]
    cfg = ws.company().settings.targets.process
    assert f["win_rate"] == cfg.fallback_win_rate and f["visits_per_lead"] == cfg.visits_per_lead
    target = ws.annual_target()
    raw = target * f["pipeline_share"] / f["avg_deal"]
    assert not float(raw).is_integer()  # the case teaches rounding up
    deals = math.ceil(raw)
    leads = math.ceil(deals / f["win_rate"])
    right = {"deals": deals, "leads": leads, "visits": math.ceil(leads * f["visits_per_lead"])}
    assert right == checks.expected_process_targets()
    assert deals == won_deals_needed(target, f["pipeline_share"], f["avg_deal"])
    assert leads == leads_needed(deals, f["win_rate"])
    assert right["visits"] == visits_needed(deals, f["visits_per_lead"] / f["win_rate"])
    expect(ws.check_process_targets(right), "correct", "process targets")
    expect(ws.check_process_targets(pd.Series(right)), "correct")
    expect(ws.check_process_targets({"won_deals": deals, "opportunities": leads, "visits": right["visits"]}), "correct")
    expect(ws.check_process_targets(pd.DataFrame({"step": list(right), "count": list(right.values())})), "correct")
    expect(ws.check_process_targets(list(right.values())), "correct")
    # multiplying by the win rate instead of dividing
    times = math.ceil(deals * f["win_rate"])
    expect(
        ws.check_process_targets({**right, "leads": times, "visits": times * f["visits_per_lead"]}),
        "wrong",
        "multiplies by the win rate",
    )
    # the average deal size forgotten: currency units counted as deals
    no_deal = math.ceil(target * f["pipeline_share"])
    expect(ws.check_process_targets({"deals": no_deal, "leads": math.ceil(no_deal / f["win_rate"]),
                                     "visits": math.ceil(no_deal / f["win_rate"]) * f["visits_per_lead"]}),
           "wrong", "divide the pipeline's revenue by the average won deal")  # fmt: skip
    # fractional counts: named as such, and rounding down is named too
    fractional = {"deals": raw, "leads": raw / f["win_rate"], "visits": raw / f["win_rate"] * f["visits_per_lead"]}
    expect(ws.check_process_targets(fractional), "wrong", "round each step up", "a count is whole")
    down = {k: math.floor(v) for k, v in fractional.items()}
    expect(ws.check_process_targets(down), "wrong", "rounded down")
    expect(ws.check_process_targets({**right, "visits": deals * f["visits_per_lead"]}), "wrong", "apply to the leads")
    expect(ws.check_process_targets({"deals": deals}), "wrong", "missing")
    text = ws.check_process_targets({**right, "leads": leads + 7}).text()
    assert str(leads) not in text, text
