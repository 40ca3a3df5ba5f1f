"""Workshop edition: every check accepts right and equivalent answers and names typical mistakes."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import salesplan.workshop as ws  # noqa: E402
from salesplan.workshop import checks, whatif  # noqa: E402
from salesplan.workshop.handouts import build_handouts  # noqa: E402


def expect(fb: ws.Feedback, status: str, *fragments: str) -> None:
    text = fb.text()
    assert fb.status == status, text
    for f in fragments:
        assert f in text, f"{f!r} not in:\n{text}"


# --------------------------------------------------------------------------------------
# the company


def test_company_is_small_round_and_the_same_every_time() -> None:
    a, b = ws.company(), ws.company()
    pd.testing.assert_frame_equal(a.cube, b.cube)
    last = a.sales_by_year("region")[2025]
    assert last.to_dict() == {"East": 40e6, "North": 30e6, "South": 30e6, "West": 20e6}
    assert (a.cube["net_amount"] % 1000 == 0).all()  # whole thousands
    assert set(a.team()["rep_id"]) == {"N1", "N2", "E1", "E2", "E3", "S1", "S2", "S3", "W1", "W2"}


def test_company_copies_are_independent_of_what_the_checks_use() -> None:
    co = ws.company()
    co.cube["net_amount"] = 0.0
    assert ws.company().cube["net_amount"].sum() > 0
    assert checks.last_year() == 120e6


def test_settings_come_from_the_library_defaults() -> None:
    table = ws.settings_table("retro.thresholds", "targets.top_down.multiplier")
    assert table.loc["retro.thresholds.yellow", "value"] == "0.05"
    assert table.loc["targets.top_down.multiplier", "value"] == "1.4"


# --------------------------------------------------------------------------------------
# every check: not answered, unreadable


CHECKS = [
    ws.check_baseline, ws.check_top_down, ws.check_market_share, ws.check_bottom_up_regions, ws.check_bottom_up_reps,
    ws.check_reconciliation, ws.check_reconciled_regions, ws.check_phasing, ws.check_availability,
    ws.check_region_split, ws.check_rep_targets, ws.check_statuses, ws.check_pvm, ws.check_five_why,
]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_none_is_not_answered_yet_not_an_error(check) -> None:
    fb = check(None)
    expect(fb, "not_answered", "not answered yet", "expected form:")
    assert not fb.ok
    assert "not answered yet" in fb._repr_html_()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_an_unreadable_answer_says_what_form_is_expected(check) -> None:
    fb = check("twelve")
    assert fb.status in ("invalid", "wrong"), fb.text()
    assert "expected" in fb.text()


# --------------------------------------------------------------------------------------
# exercise 1


def test_baseline() -> None:
    b = checks.expected_baseline().set_index("step")["amount"]
    rate = checks.expected_baseline().attrs["cagr"]
    expect(ws.check_baseline(float(b["baseline"])), "correct")
    # Equivalent: a dict with the rate, rounded to 0.1 M; a Series in another order.
    expect(ws.check_baseline({"baseline": round(b["baseline"], -5), "cagr": round(rate, 4)}), "correct")
    expect(ws.check_baseline(pd.Series({"baseline": b["baseline"], "cagr": rate})), "correct")
    # Wrong: increments forgotten.
    organic = 120e6 * (1 + rate)
    expect(ws.check_baseline(organic), "wrong", "too low", "add the stated increments")
    # Wrong: exponent 1/4 for four yearly values.
    sales = ws.company().sales_by_year().loc["total"]
    r4 = (sales[2025] / sales[2022]) ** (1 / 4) - 1
    wrong = 120e6 * (1 + r4) * 1.02 + 3e6
    expect(ws.check_baseline({"cagr": r4, "baseline": wrong}), "wrong", "you divided by 4 years", "the CAGR")
    # Wrong: the stretch value.
    expect(ws.check_baseline(float(b["stretch"])), "wrong", "too high", "stretch value")


def test_top_down_and_market_share() -> None:
    expect(ws.check_top_down(120e6 * (1 + 0.08 * 1.4)), "correct")
    expect(ws.check_top_down("133,440,000"), "correct")  # a string with separators is the same number
    expect(ws.check_top_down(120e6 * 1.08 * 1.4), "wrong", "too high", "scales the growth rate, not the whole number")
    expect(ws.check_top_down(120e6 * 1.08), "wrong", "too low", "multiply the growth rate by 1.4")
    expect(ws.check_market_share(1e9 * 0.135), "correct")
    expect(ws.check_market_share(135.02e6), "correct")
    expect(ws.check_market_share(1e9 * 13.5), "wrong", "fraction")
    expect(ws.check_market_share(1e9 * 1.135), "wrong", "do not add the share to 1")


def test_bottom_up_regions() -> None:
    exp = checks.expected_regions()
    right = dict(zip(exp["region"], exp["bottom_up"], strict=True))
    expect(ws.check_bottom_up_regions(right), "correct")
    # Equivalent: a DataFrame in another order, rounded to 0.1 M, lower-case names.
    frame = pd.DataFrame(
        {"region": [r.lower() for r in right][::-1], "bottom_up": [round(v, -5) for v in right.values()][::-1]}
    )
    expect(ws.check_bottom_up_regions(frame), "correct")
    # Wrong: potential index left out (every region but the ones at 1.0 is off).
    no_pi = {r: v / ws.company().potential_index[r] for r, v in right.items()}
    fb = ws.check_bottom_up_regions(no_pi)
    expect(fb, "wrong", "4 of 4 items are off", "off: North, East, South, West", "left out the potential index")
    assert "M" not in fb.text().split("Hint")[0], "the feedback names no amount"
    # Wrong: East forgot its growth.
    east = dict(right, East=40e6 * 1.2)
    expect(ws.check_bottom_up_regions(east), "wrong", "1 of 4", "East is", "CAGR is missing")
    # Missing a region.
    expect(ws.check_bottom_up_regions({k: v for k, v in right.items() if k != "West"}), "wrong", "missing: West")


def test_bottom_up_reps() -> None:
    exp = checks.expected_reps().set_index("rep_id")["bottom_up"]
    expect(ws.check_bottom_up_reps(exp.to_dict()), "correct")
    expect(ws.check_bottom_up_reps(exp.sample(frac=1, random_state=1).round(-4)), "correct")
    # Wrong: the new hire S3 and the leaver W2 for a full year.
    full = exp.copy()
    full["S3"] = exp["S3"] / 0.625  # on board from January at 100 %
    full["W2"] = exp["W2"] / 0.5
    fb = ws.check_bottom_up_reps(full.to_dict())
    expect(fb, "wrong", "2 of 10", "off: S3, W2", "not on board all year")
    # Wrong: the new hire without the ramp (April to December at 100 %).
    no_ramp = dict(exp, S3=exp["S3"] / 0.625 * 0.75)
    expect(ws.check_bottom_up_reps(no_ramp), "wrong", "1 of 10", "S3 is", "ramps up")
    # Wrong: no level coefficients at all.
    flat = checks.expected_reps(flat_levels=True).set_index("rep_id")["bottom_up"]
    expect(ws.check_bottom_up_reps(flat.to_dict()), "wrong", "level coefficient")
    # Wrong: E3's half year not annualised.
    half = exp.copy()
    half["E3"] = exp["E3"] / 2
    expect(ws.check_bottom_up_reps(half.to_dict()), "wrong", "E3 is", "scale their sales to a full year")


# --------------------------------------------------------------------------------------
# exercise 2


def test_reconciliation() -> None:
    g = ws.givens(2)
    bu = g["bottom_up_regions"].sum()
    right = {"gap": g["top_down"] - bu, "final": 0.5 * g["top_down"] + 0.5 * bu}
    expect(ws.check_reconciliation(right), "correct")
    expect(
        ws.check_reconciliation(pd.Series({"final": round(right["final"], -5), "gap": round(right["gap"], -5)})),
        "correct",
    )
    expect(
        ws.check_reconciliation({"gap": -right["gap"], "final": right["final"]}),
        "wrong",
        "gap is",
        "top-down minus bottom-up",
    )
    expect(ws.check_reconciliation({"gap": right["gap"], "final": g["top_down"]}), "wrong", "scale-to-top-down rule")
    expect(ws.check_reconciliation({"gap": right["gap"], "final": bu}), "wrong", "bottom-up sum as it stands")


def test_reconciled_regions() -> None:
    exp = checks.expected_reconciled_regions()
    expect(ws.check_reconciled_regions(exp), "correct")
    expect(
        ws.check_reconciled_regions(pd.DataFrame({"region": list(exp)[::-1], "reconciled": list(exp.values())[::-1]})),
        "correct",
    )
    # Wrong: each region rounded to 0.1 M on its own, so the sum misses the target.
    rounded = {k: round(v, -5) for k, v in exp.items()}
    fb = ws.check_reconciled_regions(rounded)
    expect(fb, "wrong", "largest remainder", f"{ws.annual_target():,}")
    # Wrong: unscaled bottom-up numbers (not whole either).
    unscaled = ws.givens(2)["bottom_up_regions"].to_dict()
    expect(ws.check_reconciled_regions(unscaled), "wrong", "before reconciliation", "whole currency units")


# --------------------------------------------------------------------------------------
# exercise 3


def test_phasing_seasonality() -> None:
    exp = checks.expected_phasing()
    amounts = exp["target_amount"].tolist()
    expect(ws.check_phasing(amounts), "correct")
    # Equivalent: by month name, shuffled; shares instead of amounts; a DataFrame.
    named = dict(zip(checks.MONTH_NAMES, amounts, strict=True))
    expect(ws.check_phasing(dict(reversed(list(named.items())))), "correct")
    expect(ws.check_phasing(exp["share"].tolist()), "correct")
    expect(
        ws.check_phasing(exp[["month_of_year", "target_amount"]].rename(columns={"month_of_year": "month"})), "correct"
    )
    # Wrong: months rounded one by one to 1 K, so they do not add up.
    rounded = [round(a, -3) for a in amounts]
    expect(ws.check_phasing(rounded), "wrong", "your months add up to", "largest remainder")
    # Wrong: even months.
    even = checks.largest_remainder(np.ones(12), ws.annual_target()).tolist()
    expect(ws.check_phasing(even), "wrong", "off:", "Jan", "every month a twelfth")
    # Wrong: pooled index (growth leaks into the later months).
    pooled = checks._profile_phasing(ws.company().monthly_sales().mean(axis=1), ws.annual_target())["target_amount"]
    expect(ws.check_phasing(pooled.tolist()), "wrong", "growth leaks")


def test_phasing_template() -> None:
    exp = checks.expected_phasing("front_loaded")["target_amount"]
    expect(ws.check_phasing(exp.tolist(), "front_loaded"), "correct")
    expect(ws.check_phasing(pd.Series(exp.to_numpy(), index=range(1, 13)), "front_loaded"), "correct")
    even = checks.expected_phasing("front_loaded", even_within=True)["target_amount"]
    expect(ws.check_phasing(even.tolist(), "front_loaded"), "wrong", "not a third each")
    q4 = checks.expected_phasing("q4_heavy")["target_amount"]
    expect(ws.check_phasing(q4.tolist(), "front_loaded"), "wrong", "q4 heavy phasing")
    shares = checks.expected_phasing("front_loaded")["share"] * 1.01
    expect(ws.check_phasing(shares.tolist(), "front_loaded"), "wrong", "must make exactly 100 %")


# --------------------------------------------------------------------------------------
# exercise 4


def test_availability() -> None:
    exp = checks.expected_availability()
    expect(ws.check_availability(exp), "correct")
    expect(ws.check_availability({r: list(exp.loc[r]) for r in exp.index[::-1]}), "correct")
    no_ramp = checks.expected_availability(ramp=[1.0])
    expect(ws.check_availability(no_ramp), "wrong", "off: S3 Apr", "25 % in the hire month")
    kept = exp.copy()
    kept.loc["W2", 7:] = 1.0
    expect(ws.check_availability(kept), "wrong", "6 of 120", "W2 Jul", "nothing after the leave date")
    assert len(ws.check_availability(kept).text().splitlines()) <= 3, "one mistake, one line"
    late = exp.copy()
    late.loc["S3"] = [0, 0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1]
    expect(ws.check_availability(late), "wrong", "not month zero")


def test_region_split_is_a_capacity_check_on_the_split_by_potential() -> None:
    exp = checks.expected_region_load()
    # The load compares the split of exercise 2 (by potential) with capacity: 1 where they agree.
    regions = checks.expected_reconciled_regions()
    cap = checks.expected_capacity()
    share = {r: regions[r] / sum(regions.values()) / (cap[r] / cap.sum()) for r in regions}
    assert exp == pytest.approx(share)
    expect(ws.check_region_split(exp), "correct", "asks the most of its team")
    expect(ws.check_region_split(pd.Series(exp).iloc[::-1].round(3)), "correct")
    expect(ws.check_region_split(pd.Series(exp).rename("load").rename_axis("region").reset_index()), "correct")
    heads = ws.company().team().groupby("region")["rep_id"].count().reindex(ws.company().regions).astype(float)
    expect(ws.check_region_split(checks.expected_region_load(capacity=heads)), "wrong", "head count")
    by_capacity = checks.expected_region_load(region_targets=checks.expected_region_split())
    assert by_capacity == pytest.approx(dict.fromkeys(exp, 1.0))
    expect(ws.check_region_split(by_capacity), "wrong", "capacity only checks it")
    expect(ws.check_region_split({k: v * 100 for k, v in exp.items()}), "wrong", "percentages")


def test_rep_targets_reconcile_exercise_1e_to_the_regions_of_exercise_2() -> None:
    exp = checks.expected_rep_targets()
    regions = checks.expected_reconciled_regions()
    team = ws.company().team().set_index("rep_id")["region"]
    bu = checks.expected_reps().set_index("rep_id")["bottom_up"]
    for region, total in regions.items():  # every region's reps add up exactly to its agreed year (2b)
        members = [r for r in exp if team[r] == region]
        assert sum(exp[r] for r in members) == total
        for r in members:  # each rep's bottom-up (1e) scaled to the region, within a unit
            assert abs(exp[r] - total * bu[r] / bu[members].sum()) < 1
    expect(ws.check_rep_targets(exp), "correct")
    frame = pd.DataFrame({"rep_id": list(exp)[::-1], "target_amount": list(exp.values())[::-1]})
    expect(ws.check_rep_targets(frame), "correct")
    flat = checks.expected_rep_targets(flat_levels=True)
    expect(ws.check_rep_targets(flat), "wrong", "level coefficient")
    expect(ws.check_rep_targets(checks.expected_rep_targets(keep_leavers=True)), "wrong", "leave date")
    unscaled = {r: round(v) for r, v in bu.items()}
    expect(ws.check_rep_targets(unscaled), "wrong", "scale each region's reps")
    broken = dict(exp, N1=exp["N1"] + 1, N2=exp["N2"] + 1)  # within tolerance per rep, but North no longer adds up
    expect(ws.check_rep_targets(broken), "wrong", "North reps add up to", "2 over")


# --------------------------------------------------------------------------------------
# exercise 5


def test_statuses() -> None:
    exp = checks.expected_statuses()
    assert exp == {"North": "green", "East": "ahead", "South": "yellow", "West": "dark_red",
                   "E2": "yellow", "S1": "green", "S2": "red", "W1": "dark_red"}  # fmt: skip
    expect(ws.check_statuses(exp), "correct")
    chinese = {
        "North": "绿",
        "East": "领先",
        "South": "黄",
        "West": "深红",
        "E2": "Yellow",
        "S1": "GREEN",
        "S2": "红",
        "W1": "dark red",
    }
    expect(ws.check_statuses(pd.Series(chinese)), "correct")
    # The band edges taken as the stricter status (what a plain `<=` gives in floating point): accepted, noted.
    strict = dict(exp, South="red", S1="yellow")
    expect(ws.check_statuses(strict), "correct", "exactly on a band edge", "floating point")
    # Wrong: East's 8 % ahead read as 8 % behind.
    expect(ws.check_statuses(dict(exp, East="yellow")), "wrong", "East is not 'yellow'", "ahead of plan, not behind")
    expect(ws.check_statuses(dict(exp, West="purple")), "wrong", "use green, yellow, red, dark_red or ahead")


def test_pvm() -> None:
    s = checks.expected_pvm()
    right = {"volume": s["volume"], "price": s["price"], "mix": s["mix"]}
    assert right["price"] == pytest.approx(70_000)
    expect(ws.check_pvm(right), "correct")
    steps = pd.DataFrame(
        {"label": ["Mix", "Price", "Volume"], "value": [round(right["mix"], -2), 70_000, round(right["volume"], -2)]}
    )
    expect(ws.check_pvm(steps), "correct")
    # Wrong: price effect at planned units (200 x 1,000 - 50 x 2,000 = 100 K).
    expect(ws.check_pvm(dict(right, price=100_000, mix=right["mix"] - 30_000)), "wrong", "*actual* units")
    # Wrong: each line's own volume change (200 K), no mix.
    expect(ws.check_pvm({"volume": 200_000, "price": 70_000, "mix": 0}), "wrong", "each line's own volume change")
    expect(ws.check_pvm({k: -v for k, v in right.items()}), "wrong", "actual minus plan")
    expect(ws.check_pvm(dict(right, mix=0.0)), "wrong", "must add up to the variance")


def test_five_why() -> None:
    good = {
        "item": "west",
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
    expect(ws.check_five_why(good), "correct", "West", "Level 3")
    expect(ws.check_five_why({k.upper(): v for k, v in good.items()}), "correct")
    expect(ws.check_five_why(dict(good, item="North")), "wrong", "North is not red or dark red")
    expect(ws.check_five_why(dict(good, whys=good["whys"][:3])), "wrong", "3 whys")
    expect(ws.check_five_why(dict(good, owner="the team")), "wrong", "is a group")
    expect(ws.check_five_why(dict(good, next_step="visit the 10 largest accounts")), "wrong", "no date")


# --------------------------------------------------------------------------------------
# feedback, glossary, exercises


def test_feedback_shows_as_text_and_html() -> None:
    fb = ws.check_top_down(1.0)
    assert fb.text().startswith("✗ 1b top-down")
    assert repr(fb) == fb.text()
    assert "<div" in fb._repr_html_() and "Hint" in fb._repr_html_()


def test_glossary_terms_in_both_languages() -> None:
    assert ws.term("annual target") == "annual target (年度目标)"
    assert ws.term("Level Coefficient") == "level coefficient (职级系数)"
    table = ws.vocabulary(1)
    assert "baseline" in table.index and table.loc["CAGR", "术语"] == "复合年增长率"
    with pytest.raises(KeyError, match="not in the glossary"):
        ws.term("synergy")


def test_every_part_names_an_existing_check_and_known_terms() -> None:
    for ex in ws.EXERCISES:
        for p in ex.parts:
            assert callable(getattr(ws, p.check))
            for t in p.terms:
                ws.term(t)
    assert [ex.number for ex in ws.EXERCISES] == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------------------
# what-ifs


WHATIFS = [
    ws.whatif_multiplier,
    ws.whatif_potential_index,
    ws.whatif_level_coefficients,
    ws.whatif_phasing,
    ws.whatif_commission,
]


@pytest.mark.parametrize("make", WHATIFS, ids=lambda f: f.__name__)
def test_whatif_static_without_frontend(make, monkeypatch, capsys) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not whatif.frontend_present()
    w = make()
    shown = []
    monkeypatch.setattr(whatif, "display", shown.append)
    w._ipython_display_()
    kinds = [type(x).__name__ for x in shown]
    assert "Figure" in kinds and "DataFrame" in kinds, kinds
    fig = next(x for x in shown if type(x).__name__ == "Figure")
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize("make", WHATIFS, ids=lambda f: f.__name__)
def test_whatif_widgets_build_and_redraw(make, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr(whatif, "display", shown.append)
    w = make(interactive=True)
    w._ipython_display_()
    box = shown[-1]
    assert type(box).__name__ == "VBox"
    control = box.children[0].children[0]
    options = getattr(control, "options", None)
    control.value = options[-1] if options else control.max  # a change re-computes without error
    assert w.values[w.controls[0].name] == control.value


def test_whatifs_recompute() -> None:
    m = ws.whatif_multiplier(interactive=False)
    low, high = m.table(multiplier=1.3), m.table(multiplier=1.5)
    td = lambda t: float(t.set_index("method").loc["Top-down", "amount"])  # noqa: E731
    assert td(high) - td(low) == pytest.approx(120e6 * 0.08 * 0.2)
    lv = ws.whatif_level_coefficients()
    flat = lv.table(junior=1.0, mid=1.0, senior=1.0, lead=1.0)
    assert flat.loc["E1", "annual_target"] < lv.table().loc["E1", "annual_target"]
    assert flat["annual_target"].sum() == lv.table()["annual_target"].sum() == ws.annual_target()
    ph = ws.whatif_phasing()
    fl = ph.table(method="front_loaded")
    assert fl["target_amount"].sum() == ws.annual_target()
    assert fl["share"].iloc[:3].sum() == pytest.approx(0.28)
    cm = ws.whatif_commission()
    t = cm.table().set_index("attainment")
    assert t.loc[0.75, "commission"] == 0 and t.loc[1.1, "commission"] == pytest.approx(1.1e6 * 0.015)
    pi = ws.whatif_potential_index()
    assert (
        pi.table(East=1.0).set_index("region").loc["East", "bottom_up"]
        < pi.table().set_index("region").loc["East", "bottom_up"]
    )


def test_whatifs_never_write_a_plan_version(monkeypatch, tmp_path) -> None:
    import salesplan.targets as targets
    import salesplan.targets.versions as versions

    def forbidden(*args, **kwargs):
        raise AssertionError("a what-if tried to save a plan version")

    monkeypatch.setattr(versions, "save_plan", forbidden)
    monkeypatch.setattr(targets, "save_plan", forbidden)
    monkeypatch.chdir(tmp_path)
    for make in WHATIFS:
        w = make(interactive=False)
        w.table()
        w.figure()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------
# handouts and trainee copies


def test_handouts_are_self_contained_html(tmp_path) -> None:
    paths = build_handouts(tmp_path / "handouts")
    assert [p.name for p in paths] == [
        "01_annual_number.html", "02_gap.html", "03_phasing.html", "04_allocation.html", "05_retrospective.html",
        "glossary.html",
    ]  # fmt: skip
    for p in paths:
        text = p.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and "<style>" in text
        assert "<script" not in text.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.IGNORECASE)
        assert "<link" not in text.lower()
    first = paths[0].read_text(encoding="utf-8")
    assert "1a Historical baseline plus increments" in first
    assert "复合年增长率" in first  # the terms in both languages
    assert "职级系数" in paths[-1].read_text(encoding="utf-8")


def test_copy_exercises_resets_a_trainee_folder(tmp_path) -> None:
    dest = tmp_path / "trainee"
    written = ws.copy_exercises(dest)
    assert [p.name for p in written] == [f"{n:02d}_{s}.ipynb" for n, s in
                                         [(1, "annual_number"), (2, "gap"), (3, "phasing"), (4, "allocation"), (5, "retrospective")]]  # fmt: skip
    written[0].write_text("scribbles", encoding="utf-8")
    ws.copy_exercises(dest)
    assert "answer = None  # your answer here" in written[0].read_text(encoding="utf-8")
    assert not (dest / "solutions").exists()
