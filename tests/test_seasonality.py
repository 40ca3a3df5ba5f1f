"""Seasonality from STL: components, the index against a known pattern, the stability test, the chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from salesplan.plots.seasonality import stl_decomposition
from salesplan.seasonality import (
    SeasonalityInputError,
    monthly_series,
    seasonal_indices,
    seasonal_stability,
    seasonality_review,
    stl_components,
)

# A known multiplicative pattern (averages 1): quiet February and summer, a strong December.
PATTERN = np.array([0.85, 0.75, 1.05, 0.95, 1.00, 1.05, 0.90, 0.90, 1.05, 1.00, 1.10, 1.40])
PATTERN = PATTERN / PATTERN.mean()
# A different pattern of the same average: the peak moves from December to June.
SHIFTED = np.array([0.85, 0.75, 1.05, 0.95, 1.00, 1.40, 0.90, 0.90, 1.05, 1.00, 1.10, 1.05])
SHIFTED = SHIFTED / SHIFTED.mean()


def series(patterns: list[np.ndarray], seed: int = 0, noise: float = 0.02, growth: float = 0.01) -> pd.Series:
    """Monthly sales: a trend growing ``growth`` a month, times each year's pattern, times noise."""
    rng = np.random.default_rng(seed)
    shape = np.concatenate(patterns)
    t = np.arange(len(shape))
    values = 1e6 * (1 + growth) ** t * shape * (1 + noise * rng.standard_normal(len(t)))
    return pd.Series(values, index=pd.date_range("2021-01-01", periods=len(t), freq="MS"), name="net_amount")


def test_components_add_up_to_the_observed_series() -> None:
    monthly = series([PATTERN] * 4)
    parts = stl_components(monthly)
    assert list(parts.columns) == ["month", "observed", "trend", "seasonal", "remainder"]
    assert len(parts) == 48
    np.testing.assert_allclose(parts["observed"], monthly.to_numpy())
    np.testing.assert_allclose(parts[["trend", "seasonal", "remainder"]].sum(axis=1), parts["observed"], rtol=1e-9)
    # Growth goes to the trend, not to the seasonal part.
    assert parts["trend"].iloc[-1] > 1.5 * parts["trend"].iloc[0]


def test_stl_index_recovers_a_known_pattern() -> None:
    table = seasonal_indices(series([PATTERN] * 5))
    assert table["month_of_year"].tolist() == list(range(1, 13))
    assert table["stl_index"].mean() == pytest.approx(1.0)
    np.testing.assert_allclose(table["stl_index"], PATTERN, atol=0.03)
    np.testing.assert_allclose(table["difference"], table["stl_index"] - table["method_index"])
    assert table.loc[table["stl_index"].idxmax(), "month_of_year"] == 12


def test_without_growth_both_indices_read_the_pattern() -> None:
    table = seasonal_indices(series([PATTERN] * 5, growth=0.0))
    np.testing.assert_allclose(table["stl_index"], PATTERN, atol=0.03)
    np.testing.assert_allclose(table["method_index"], PATTERN, atol=0.03)


def test_with_growth_the_method_index_mixes_growth_into_the_months() -> None:
    # 1 % a month: January sits below its year's mean and December above it by growth alone,
    # which the year-mean ratio counts as seasonality and the STL trend takes out.
    table = seasonal_indices(series([PATTERN] * 5, growth=0.01))
    stl_error = (table["stl_index"] - PATTERN).abs()
    method_error = (table["method_index"] - PATTERN).abs()
    assert stl_error.max() < 0.03
    assert method_error.iloc[[0, 11]].min() > 0.04
    assert stl_error.iloc[[0, 11]].max() < method_error.iloc[[0, 11]].min()


def test_a_one_off_month_goes_to_the_remainder_not_the_index() -> None:
    monthly = series([PATTERN] * 5)
    spiked = monthly.copy()
    spiked.iloc[27] *= 3  # April of the third year: one exceptional deal
    parts = stl_components(spiked)
    assert parts["remainder"].abs().idxmax() == 27
    np.testing.assert_allclose(seasonal_indices(spiked, parts)["stl_index"], PATTERN, atol=0.04)


def test_stability_test_keeps_a_fixed_pattern() -> None:
    results = [seasonal_stability(stl_components(series([PATTERN] * 5, seed=seed))) for seed in range(100)]
    assert all(r.df_num == 11 and r.df_denom == 60 - 12 - 4 - 11 and r.years == 5 for r in results)
    # Under the null the test rejects about alpha (5 %) of the series; 200 series measured 7.5 %.
    assert sum(not r.stable for r in results) <= 12


def test_stability_test_rejects_a_pattern_that_changes_between_years() -> None:
    for seed in range(5):
        changing = series([PATTERN, PATTERN, SHIFTED, SHIFTED, SHIFTED], seed=seed)
        result = seasonal_stability(stl_components(changing))
        assert not result.stable
        assert result.p_value < 0.01


def test_stability_result_reads_as_one_row() -> None:
    result = seasonal_stability(stl_components(series([PATTERN] * 4)), alpha=0.01)
    row = result.as_frame()
    assert len(row) == 1
    assert row.loc[0, "alpha"] == 0.01
    assert row.loc[0, "verdict"] == f"seasonal pattern {'stable' if result.p_value >= 0.01 else 'changing'}"


def test_short_series_are_refused() -> None:
    with pytest.raises(SeasonalityInputError, match="24 months"):
        stl_components(series([PATTERN]))
    with pytest.raises(SeasonalityInputError, match="3 calendar years"):
        seasonal_stability(stl_components(series([PATTERN] * 2)))


def test_monthly_series_sums_rows_and_fills_empty_months() -> None:
    rows = pd.DataFrame(
        {
            "month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"]),
            "net_amount": [10.0, 5.0, 7.0],
            "region": ["N", "S", "N"],
        }
    )
    got = monthly_series(rows)
    assert got.index.tolist() == list(pd.date_range("2024-01-01", periods=3, freq="MS"))
    assert got.tolist() == [15.0, 0.0, 7.0]


def test_review_from_cube_rows() -> None:
    monthly = series([PATTERN] * 4)
    # Two regions splitting every month: the review sums them back to the company's series.
    cube = pd.concat(
        [
            pd.DataFrame({"month": monthly.index, "region": "N", "net_amount": 0.6 * monthly.to_numpy()}),
            pd.DataFrame({"month": monthly.index, "region": "S", "net_amount": 0.4 * monthly.to_numpy()}),
        ]
    )
    review = seasonality_review(cube)
    np.testing.assert_allclose(review.components["observed"], monthly.to_numpy())
    np.testing.assert_allclose(review.indices["stl_index"], seasonal_indices(monthly)["stl_index"])
    assert review.stability.years == 4
    # Up to the end of the third year: the fourth is left out, the rest unchanged.
    shorter = seasonality_review(cube, until="2023-12-31")
    assert shorter.components["month"].max() == pd.Timestamp("2023-12-01")
    np.testing.assert_allclose(shorter.components["observed"], monthly.iloc[:36].to_numpy())
    assert shorter.stability.years == 3


def test_chart_has_four_labelled_money_panels() -> None:
    fig = stl_decomposition(
        stl_components(series([PATTERN] * 3)), title="Net sales 2021-2023", unit="M", currency="CNY"
    )
    try:
        axes = fig.axes
        assert len(axes) == 4
        assert fig._suptitle.get_text() == "Net sales 2021-2023"
        labels = [ax.get_ylabel() for ax in axes]
        assert labels == ["Net sales (M CNY)", "Trend (M CNY)", "Seasonal (M CNY)", "Remainder (M CNY)"]
        assert axes[-1].get_xlabel() == "Month"
        # Money ticks in millions: a 1,000,000 tick reads "1".
        assert axes[0].yaxis.get_major_formatter()(1e6, 0) == "1"
    finally:
        plt.close(fig)


def test_page_views_name_the_months_and_say_the_verdict() -> None:
    frame = lambda s: pd.DataFrame({"month": s.index, "net_amount": s.to_numpy()})  # noqa: E731
    fixed = seasonality_review(frame(series([PATTERN] * 4, noise=0.005)))
    table = fixed.index_table()
    assert list(table.index) == ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert table.loc["Dec", "stl_index"] == pytest.approx(PATTERN[11], abs=0.03)
    assert "Jan 2021 - Dec 2024" in fixed.title()
    assert "4 years" in fixed.verdict() and "the same every year" in fixed.verdict()
    moving = seasonality_review(frame(series([PATTERN, PATTERN, SHIFTED, SHIFTED], noise=0.005)))
    assert "changes between years" in moving.verdict()
    # Two years: STL and the indices, but no stability test (it needs three calendar years).
    short = seasonality_review(frame(series([PATTERN] * 2)))
    assert short.stability is None and "needs data in 3 calendar years; 2 are available" in short.verdict()
