"""Seasonality of monthly net sales from an STL decomposition, beside the method's index.

STL (Seasonal-Trend decomposition using LOESS, Cleveland et al. 1990; ``statsmodels``) splits the
monthly series additively, in currency units::

    observed[t] = trend[t] + seasonal[t] + remainder[t]

with period 12 and robust weights, so a single odd month (a one-off deal, a lost month) lands in
the remainder instead of bending the trend or the seasonal pattern. The review shows three things
built from it:

* :func:`stl_components`: the four series as one tidy frame (one row per month);
* :func:`seasonal_indices`: the STL index per month of the year beside the method's index
  (:func:`salesplan.metrics.seasonality_index`, month value over its year's monthly mean);
* :func:`seasonal_stability`: an F-test of whether the monthly pattern changes between years.

:func:`seasonality_review` builds all three from the month-end cube the month context holds
(``wb.closed_cube``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tsa.seasonal import STL

from salesplan import metrics as m
from salesplan.dates import as_dates

PERIOD = 12
"""Months in a seasonal cycle."""

MIN_YEARS_FOR_STABILITY = 3
"""The stability test's alternative adds one slope per month: with one value per month and year
it has residual degrees of freedom only from the third year on."""


class SeasonalityInputError(ValueError):
    """The series is too short (or not positive enough) for the decomposition or the test."""


def monthly_series(frame: pd.DataFrame, value: str = "net_amount", month_col: str = "month") -> pd.Series:
    """``value`` summed per month (rows of any granularity, e.g. the cube), every month from the
    first to the last present (a month without rows counts as 0), indexed by the first day of
    the month and named ``value``."""
    months = as_dates(frame[month_col]).dt.to_period("M")
    totals = pd.to_numeric(frame[value], errors="coerce").fillna(0.0).groupby(months).sum()
    if totals.empty:
        raise SeasonalityInputError(f"no rows to build a monthly {value} series from")
    full = pd.period_range(totals.index.min(), totals.index.max(), freq="M")
    return totals.reindex(full, fill_value=0.0).set_axis(full.to_timestamp(), axis=0).rename(value)


def stl_components(monthly: pd.Series, robust: bool = True) -> pd.DataFrame:
    """STL of a monthly series (period 12; ``robust`` down-weights outlying months): one row per
    month with ``month, observed, trend, seasonal, remainder``, where observed = trend + seasonal
    + remainder exactly. Needs at least two full cycles (24 months)."""
    if len(monthly) < 2 * PERIOD:
        raise SeasonalityInputError(
            f"an STL decomposition needs at least {2 * PERIOD} months of data, got {len(monthly)}"
        )
    fit = STL(monthly.astype("float64").to_numpy(), period=PERIOD, robust=robust).fit()
    return pd.DataFrame(
        {
            "month": pd.DatetimeIndex(monthly.index),
            "observed": fit.observed,
            "trend": fit.trend,
            "seasonal": fit.seasonal,
            "remainder": fit.resid,
        }
    )


def stl_index(components: pd.DataFrame) -> pd.DataFrame:
    """The STL seasonal index per month of the year (columns ``month_of_year, stl_index``).

    For each month ``t`` with a positive trend, ``ratio[t] = (trend[t] + seasonal[t]) / trend[t]``
    (the month's expected level against its trend, remainder left out); ``stl_index[m]`` is the
    mean of ``ratio`` over the months ``m`` of every year, rescaled so the 12 indices average
    exactly 1 (the convention of the method's index, so the two read side by side)."""
    usable = components[components["trend"] > 0]
    raw = (
        usable.assign(
            month_of_year=usable["month"].dt.month,
            ratio=(usable["trend"] + usable["seasonal"]) / usable["trend"],
        )
        .groupby("month_of_year")["ratio"]
        .mean()
        .reindex(range(1, PERIOD + 1))
    )
    if raw.isna().any():
        raise SeasonalityInputError("every month of the year needs a month with a positive trend")
    return (raw / raw.mean()).rename("stl_index").rename_axis("month_of_year").reset_index()


def seasonal_indices(monthly: pd.Series, components: pd.DataFrame | None = None) -> pd.DataFrame:
    """The STL index (:func:`stl_index`) beside the method's index
    (:func:`salesplan.metrics.seasonality_index`: month value / that year's monthly mean, averaged
    over complete calendar years), one row per month of the year: ``month_of_year, stl_index,
    method_index, method_std, difference`` (``stl_index - method_index``). Both average 1; a
    large difference marks a month whose level the year-mean ratio mixes with growth or a one-off."""
    components = stl_components(monthly) if components is None else components
    frame = pd.DataFrame({"month": monthly.index, "net_amount": monthly.to_numpy()})
    method = m.seasonality_index(frame, value="net_amount", month_col="month")
    return (
        stl_index(components)
        .merge(
            method[["month_of_year", "index", "std"]].rename(columns={"index": "method_index", "std": "method_std"}),
            on="month_of_year",
            how="left",
        )
        .assign(difference=lambda d: d["stl_index"] - d["method_index"])
    )


@dataclass(frozen=True)
class SeasonalStability:
    """The result of :func:`seasonal_stability`: the F statistic with its degrees of freedom, the
    p-value, the years tested, the significance level and whether the pattern counts as stable
    (the null hypothesis is not rejected at ``alpha``)."""

    f_statistic: float
    df_num: int
    df_denom: int
    p_value: float
    years: int
    alpha: float

    @property
    def stable(self) -> bool:
        return bool(self.p_value >= self.alpha)

    def as_frame(self) -> pd.DataFrame:
        """One row for a page: ``test, years, f_statistic, df_num, df_denom, p_value, alpha, verdict``."""
        verdict = "stable" if self.stable else "changing"
        return pd.DataFrame(
            [
                {
                    "test": "F-test, month x year interaction",
                    "years": self.years,
                    "f_statistic": self.f_statistic,
                    "df_num": self.df_num,
                    "df_denom": self.df_denom,
                    "p_value": self.p_value,
                    "alpha": self.alpha,
                    "verdict": f"seasonal pattern {verdict}",
                }
            ]
        )


def seasonal_stability(components: pd.DataFrame, alpha: float = 0.05) -> SeasonalStability:
    """Test whether the monthly pattern differs between years.

    Each month is detrended as a ratio, ``r[t] = observed[t] / trend[t]`` (STL trend; months
    with a non-positive trend are left out), so growth between years does not count as a change
    of pattern. Two OLS models of ``r`` (statsmodels) are compared by an F-test:

    * null (a fixed pattern): ``r ~ C(month_of_year) + C(year)``, one level per month of the
      year and a level per year;
    * alternative (the pattern drifts): the null plus a linear slope over the years for each
      month of the year (month x year interaction; 11 terms, the 12th is the year levels').

    H0: every month-by-year slope is 0, i.e. the seasonal pattern is the same in every year.
    A p-value below ``alpha`` rejects it: the months' shares move from year to year, and an
    index averaged over the years describes none of them well. One value per month and year
    leaves the alternative residual degrees of freedom only with data in
    :data:`MIN_YEARS_FOR_STABILITY` or more calendar years.
    """
    ratios = components[components["trend"] > 0].assign(
        r=lambda d: d["observed"] / d["trend"],
        month_of_year=lambda d: d["month"].dt.month,
        year=lambda d: d["month"].dt.year,
    )
    years = int(ratios["year"].nunique())
    if years < MIN_YEARS_FOR_STABILITY:
        raise SeasonalityInputError(
            f"the stability test needs data in at least {MIN_YEARS_FOR_STABILITY} calendar years, got {years}"
        )
    # One slope per month of the year but the first: the first month's slope is the common
    # linear year effect, which C(year) already holds. Centred years keep the columns well scaled.
    year_c = ratios["year"] - ratios["year"].mean()
    slopes = {f"slope_{k}": year_c.where(ratios["month_of_year"] == k, 0.0) for k in range(2, PERIOD + 1)}
    ratios = ratios.assign(**slopes)
    fixed = smf.ols("r ~ C(month_of_year) + C(year)", data=ratios).fit()
    drifting = smf.ols(f"r ~ C(month_of_year) + C(year) + {' + '.join(slopes)}", data=ratios).fit()
    f_value, p_value, df_diff = drifting.compare_f_test(fixed)
    return SeasonalStability(
        f_statistic=float(f_value),
        df_num=int(round(df_diff)),
        df_denom=int(round(drifting.df_resid)),
        p_value=float(p_value),
        years=years,
        alpha=alpha,
    )


@dataclass(frozen=True)
class SeasonalityReview:
    """What the review shows about seasonality: the monthly series' STL ``components``
    (:func:`stl_components`), the ``indices`` (:func:`seasonal_indices`) and the ``stability``
    test (:func:`seasonal_stability`)."""

    components: pd.DataFrame
    indices: pd.DataFrame
    stability: SeasonalStability | None
    """None when the series covers fewer than :data:`MIN_YEARS_FOR_STABILITY` calendar years."""

    def index_table(self) -> pd.DataFrame:
        """The two indices by month of the year for a page: rows named Jan..Dec, columns
        ``stl_index, method_index, method_std, difference``."""
        names = pd.to_datetime(self.indices["month_of_year"].astype(int).astype(str), format="%m").dt.strftime("%b")
        return self.indices.assign(month=names.to_numpy()).set_index("month").drop(columns="month_of_year")

    def title(self, what: str = "Monthly net sales") -> str:
        """The chart title, naming the months decomposed ("... Jan 2023 - Dec 2025")."""
        months = self.components["month"]
        return f"{what}: trend, seasonal pattern and remainder (STL), {months.min():%b %Y} - {months.max():%b %Y}"

    def verdict(self) -> str:
        """One sentence a page shows: the test, its figures and what they mean."""
        if self.stability is None:
            return (
                f"The stability test needs data in {MIN_YEARS_FOR_STABILITY} calendar years; "
                f"{self.components['month'].dt.year.nunique()} are available."
            )
        s = self.stability
        meaning = (
            "the monthly pattern is the same every year within noise, so one seasonality index describes the years"
            if s.stable
            else "the monthly pattern changes between years: weigh the recent years' shape when phasing"
        )
        return (
            f"F-test of a month x year drift over {s.years} years: F({s.df_num}, {s.df_denom}) = {s.f_statistic:.2f}, "
            f"p = {s.p_value:.3f} (significance level {s.alpha:g}): {meaning}."
        )


def seasonality_review(
    cube: pd.DataFrame,
    until: pd.Timestamp | str | None = None,
    value: str = "net_amount",
    month_col: str = "month",
    alpha: float = 0.05,
) -> SeasonalityReview:
    """The review's seasonality from rows with a month and an amount, e.g. the month context's
    ``wb.closed_cube`` (everything dated up to the report month's end): the monthly series
    (:func:`monthly_series`) of the months up to ``until`` (None: all of them; the review passes
    the end of the year it reviews), its STL decomposition, the two indices and the stability test."""
    if until is not None:
        cube = cube[as_dates(cube[month_col]) <= pd.Timestamp(until)]
    monthly = monthly_series(cube, value=value, month_col=month_col)
    components = stl_components(monthly)
    years = components["month"].dt.year.nunique()
    return SeasonalityReview(
        components=components,
        indices=seasonal_indices(monthly, components),
        stability=seasonal_stability(components, alpha=alpha) if years >= MIN_YEARS_FOR_STABILITY else None,
    )


__all__ = [
    "MIN_YEARS_FOR_STABILITY",
    "PERIOD",
    "SeasonalStability",
    "SeasonalityInputError",
    "SeasonalityReview",
    "monthly_series",
    "seasonal_indices",
    "seasonal_stability",
    "seasonality_review",
    "stl_components",
    "stl_index",
]
