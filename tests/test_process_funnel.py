"""Process targets that follow the funnel: each step's formula and the derivation, hand-computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesplan.config import load_settings
from salesplan.targets import process as funnel

PROCESS = load_settings().targets.process.model_copy(update={"min_won_deals": 2})
BEFORE = pd.Timestamp("2026-01-01")


def _history() -> pd.DataFrame:
    """2025: East sells 100 a month, West 50."""
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    rows = [(m, r, f"C-{r}", amount) for m in months for r, amount in (("East", 100.0), ("West", 50.0))]
    return pd.DataFrame(rows, columns=["month", "region", "customer_id", "net_amount"])


def _pipeline() -> pd.DataFrame:
    """Snapshots from October 2025 (the window is October to December). East: 3 won of 20 each and
    3 lost; West: 1 won of 30 and 1 lost; a deal won in January 2026 is after the history."""
    rows = [
        ("E1", "2025-10-31", "East", "open", 20.0), ("E1", "2025-11-30", "East", "won", 20.0),
        ("E1", "2025-12-31", "East", "won", 20.0),  # still won: counted once, in November
        ("E2", "2025-11-30", "East", "won", 20.0), ("E3", "2025-12-31", "East", "won", 20.0),
        ("E4", "2025-10-31", "East", "lost", 5.0), ("E5", "2025-11-30", "East", "lost", 5.0),
        ("E6", "2025-12-31", "East", "lost", 5.0),
        ("W1", "2025-11-30", "West", "won", 30.0), ("W2", "2025-12-31", "West", "lost", 9.0),
        ("W3", "2025-12-31", "West", "open", 9.0), ("W3", "2026-01-31", "West", "won", 999.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["opportunity_id", "snapshot_date", "region", "status", "amount"])
    return frame.assign(snapshot_date=pd.to_datetime(frame["snapshot_date"]))


def _activities() -> pd.DataFrame:
    """East's rep made 12 visits in the window, West's 3; a call, a visit before the window and one
    in the plan year do not count."""
    dates = ["2025-11-10"] * 12 + ["2025-12-10"] * 3 + ["2025-11-11", "2025-09-10", "2026-01-10"]
    reps = ["RE"] * 12 + ["RW"] * 3 + ["RE", "RE", "RE"]
    types = ["visit"] * 15 + ["call", "visit", "visit"]
    return pd.DataFrame(
        {"activity_date": pd.to_datetime(dates), "rep_id": reps, "customer_id": "C", "activity_type": types}
    )


REPS = pd.DataFrame({"rep_id": ["RE", "RW"], "region": ["East", "West"]})


def _plan() -> pd.DataFrame:
    return pd.DataFrame(
        {"year": 2026, "month": [1, 1], "region": ["East", "West"], "product_line": "P", "rep_id": ["RE", "RW"],
         "target_amount": [1000.0, 500.0]}
    )  # fmt: skip


def test_each_step_by_its_formula() -> None:
    assert funnel.pipeline_share(200.0, 1000.0) == pytest.approx(0.2)
    assert np.isnan(funnel.pipeline_share(200.0, 0.0))  # no sales: no share
    assert funnel.won_deals_needed(1000.0, 0.2, 30.0) == 7  # ceil(200 / 30) = ceil(6.67)
    assert funnel.won_deals_needed(1000.0, 0.2, 0.0) == 0
    assert funnel.won_deals_needed(900.0, 0.2, 30.0) == 6  # exactly 6 stays 6
    assert funnel.leads_needed(7, 0.25) == 28
    assert funnel.leads_needed(7, 0.0) == 0 and funnel.leads_needed(7, np.nan) == 0
    assert funnel.visits_needed(7, 2.5) == 18  # ceil(17.5)


def test_rate_window_starts_with_the_pipeline_and_spans_at_most_a_year() -> None:
    assert funnel.rate_window(_pipeline(), BEFORE) == (pd.Timestamp("2025-10-01"), BEFORE)
    long = _pipeline().assign(snapshot_date=lambda p: p["snapshot_date"] - pd.DateOffset(years=3))
    assert funnel.rate_window(long, BEFORE)[0] == pd.Timestamp("2025-01-01")
    assert funnel.rate_window(None, BEFORE) is None
    assert funnel.rate_window(_pipeline(), pd.Timestamp("2025-10-01")) is None  # nothing before


def test_closed_opportunities_count_each_deal_once_when_it_first_closed() -> None:
    closed = funnel.closed_opportunities(_pipeline(), BEFORE).set_index("opportunity_id")
    assert closed.loc["E1", "closed"] == pd.Timestamp("2025-11-30")
    assert "W3" not in closed.index  # won only in the plan year
    assert sorted(closed.index) == ["E1", "E2", "E3", "E4", "E5", "E6", "W1", "W2"]
    later = funnel.closed_opportunities(_pipeline(), BEFORE, start=pd.Timestamp("2025-12-01"))
    assert sorted(later["opportunity_id"]) == ["E3", "E6", "W2"]


def test_observed_funnel_measures_every_factor_over_the_window() -> None:
    obs = funnel.observed_funnel(
        _history(), _pipeline(), BEFORE, activities=_activities(), reps=REPS, visit_types=["visit"]
    ).set_index("region")
    east, west, company = obs.loc["East"], obs.loc["West"], obs.loc["(all)"]
    # East: 60 won of 300 sold (October to December), 3 won of 6 closed, 12 visits for 3 deals.
    assert east[["won", "lost", "won_amount", "net_sales"]].tolist() == [3, 3, 60.0, 300.0]
    assert east["pipeline_share"] == pytest.approx(0.2)
    assert east["avg_deal"] == pytest.approx(20.0) and east["win_rate"] == pytest.approx(0.5)
    assert east["visits_per_won"] == pytest.approx(4.0)
    assert west["pipeline_share"] == pytest.approx(30 / 150) and west["visits_per_won"] == pytest.approx(3.0)
    assert company[["won", "lost", "won_amount", "net_sales", "visits"]].tolist() == [4, 4, 90.0, 450.0, 15.0]
    assert company["avg_deal"] == pytest.approx(22.5)
    without_reps = funnel.observed_funnel(
        _history(), _pipeline(), BEFORE, activities=_activities(), visit_types=["visit"]
    ).set_index("region")
    assert np.isnan(without_reps.loc["East", "visits"]) and without_reps.loc["(all)", "visits"] == 15.0


def test_process_targets_show_their_derivation() -> None:
    availability = pd.DataFrame({"rep_id": ["RE", "RE", "RW"], "region": ["East", "East", "West"],
                                 "availability": [12.0, 12.0, 6.0]})  # fmt: skip
    out = funnel.process_targets(
        _plan(), _history(), _pipeline(), PROCESS, availability,
        activities=_activities(), reps=REPS, visit_types=["visit"],
    ).set_index("region")  # fmt: skip
    assert list(out.reset_index().columns) == funnel.DERIVATION_COLUMNS
    east = out.loc["East"]
    # East has 3 won deals (>= min 2): its own rates. 1000 x 0.2 / 20 = 10 won, / 0.5 = 20 leads,
    # x 4 visits per won deal = 40 visits over 24 rep-months.
    assert east["source"] == "pipeline (region)" and east["visits_source"] == "activities (region)"
    assert east[["pipeline_revenue", "won_deals", "leads", "visits"]].tolist() == [200.0, 10, 20, 40]
    assert east["visits_per_rep_month"] == pytest.approx(40 / 24)
    assert east["leads_per_month"] == pytest.approx(20 / 12)
    # West won 1 deal: the company's rates. 500 x 0.2 / 22.5 -> 5 won, 10 leads, 5 x 3.75 -> 19 visits.
    west = out.loc["West"]
    assert west["source"] == "pipeline (company)" and west["visits_source"] == "activities (company)"
    assert west[["avg_deal", "win_rate", "visits_per_won"]].tolist() == pytest.approx([22.5, 0.5, 3.75])
    assert west[["won_deals", "leads", "visits"]].tolist() == [5, 10, 19]
    assert east["rates_from"] == pd.Timestamp("2025-10-01") and east["rates_to"] == pd.Timestamp("2025-12-01")


def test_without_activities_visits_follow_the_configured_visits_per_lead() -> None:
    out = funnel.process_targets(_plan(), _history(), _pipeline(), PROCESS).set_index("region")
    assert out.loc["East", "visits_source"].startswith("no activities")
    assert out.loc["East", "visits"] == int(np.ceil(20 * PROCESS.visits_per_lead))


def test_without_a_pipeline_all_revenue_goes_through_the_fallback_funnel() -> None:
    out = funnel.process_targets(_plan(), _history(), None, PROCESS).set_index("region")
    east = out.loc["East"]
    assert east["pipeline_share"] == 1.0 and east["win_rate"] == PROCESS.fallback_win_rate
    # Fallback deal: the average customer-month of the last 12 months (100 East, 50 West) = 75.
    assert east["avg_deal"] == pytest.approx(75.0) and east["won_deals"] == int(np.ceil(1000 / 75))
    assert east["source"].startswith("no pipeline")


def test_a_region_needs_enough_won_deals_for_its_own_rates() -> None:
    out = funnel.process_targets(_plan(), _history(), _pipeline(), PROCESS.model_copy(update={"min_won_deals": 4}))
    assert set(out["source"]) == {"pipeline (company)"}  # East's 3 won deals are now too few


def test_plan_year_data_do_not_move_the_targets() -> None:
    """The rates come from before the plan year: snapshots and visits dated in it change nothing."""
    base = funnel.process_targets(_plan(), _history(), _pipeline(), PROCESS, activities=_activities(),
                                  reps=REPS, visit_types=["visit"])  # fmt: skip
    extra_snap = pd.DataFrame({"opportunity_id": ["X"], "snapshot_date": [pd.Timestamp("2026-02-28")],
                               "region": ["East"], "status": ["won"], "amount": [1e6]})  # fmt: skip
    extra_visits = _activities().assign(activity_date=pd.Timestamp("2026-03-01"))
    later = funnel.process_targets(
        _plan(), _history(), pd.concat([_pipeline(), extra_snap]), PROCESS,
        activities=pd.concat([_activities(), extra_visits]), reps=REPS, visit_types=["visit"],
    )  # fmt: skip
    pd.testing.assert_frame_equal(base, later)
