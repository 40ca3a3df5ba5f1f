"""Phasing: the share of the annual target that falls in each month (shares total exactly 100 %)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from salesplan import metrics
from salesplan.dates import as_dates
from salesplan.settings import Phasing
from salesplan.targets.rounding import TargetInputError, largest_remainder

MONTHS = list(range(1, 13))


def _seasonality(history: pd.DataFrame | None, value: str) -> pd.Series | None:
    """Seasonality index by month of year, or None when history holds no complete year with sales."""
    if history is None or history.empty:
        return None
    try:
        idx = metrics.seasonality_index(history, value=value, month_col="month")
    except metrics.MetricInputError:
        return None
    # A month whose returns exceeded its sales cannot carry a negative share of the plan.
    return idx.set_index("month_of_year")["index"].reindex(MONTHS).fillna(0.0).clip(lower=0.0)


def monthly_shares(
    method: str,
    history: pd.DataFrame | None = None,
    template: Sequence[float] | None = None,
    profile: Sequence[float] | None = None,
    value: str = "net_amount",
    seasons: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Monthly shares of the year, summing to 1.

    * ``seasonality``: ``share_m = index_m / 12`` with ``index_m`` the historical seasonality index
      (:func:`salesplan.metrics.seasonality_index`: month value / that year's monthly mean, averaged over
      complete years; the indices average 1; a negative month counts as 0 and the rest are renormalised).
      Without a complete year of history the months are even.
    * ``quarterly_template``: four quarter shares (normalised to 1), each split over its three months by
      the seasonality index within the quarter (evenly without history):
      ``share_m = q_share * index_m / sum(index over the quarter)``.
    * ``season_template``: campaign seasons instead of calendar quarters (the method's sources: spring push
      March-May 28 %, summer June-August 32 %, autumn sprint September-November 27 %, December close and
      January-February preparation the rest). ``seasons`` lists each season's ``months`` (together every
      month exactly once) and ``share`` (normalised to 1); each season is split over its months by the
      seasonality index within the season (evenly without history):
      ``share_m = season_share * index_m / sum(index over the season's months)``.
    * ``monthly_profile``: twelve non-negative weights, normalised: ``share_m = w_m / sum(w)``.

    Returns ``month_of_year, share, source`` (``source`` says what the shares came from).
    """
    season = _seasonality(history, value)
    if method == "seasonality":
        if season is None or season.sum() <= 0:
            shares, source = np.full(12, 1 / 12), "even months (no complete year of history)"
        else:
            shares, source = (season / season.sum()).to_numpy(), "historical seasonality index"
    elif method == "quarterly_template":
        q = _weights(template, 4, "targets.phasing template")
        within = season if season is not None and season.sum() > 0 else pd.Series(1.0, index=MONTHS)
        shares = np.zeros(12)
        for i in range(4):
            months = within.iloc[3 * i : 3 * i + 3].to_numpy()
            split = months / months.sum() if months.sum() > 0 else np.full(3, 1 / 3)
            shares[3 * i : 3 * i + 3] = q[i] * split
        source = "quarterly template" + (", months by seasonality" if season is not None else ", months even")
    elif method == "season_template":
        groups, weights = _seasons(seasons)
        within = season if season is not None and season.sum() > 0 else pd.Series(1.0, index=MONTHS)
        shares = np.zeros(12)
        for months, w in zip(groups, weights, strict=True):
            idx = np.asarray(months) - 1
            values = within.iloc[idx].to_numpy()
            shares[idx] = w * (values / values.sum() if values.sum() > 0 else np.full(len(idx), 1 / len(idx)))
        source = "campaign seasons" + (", months by seasonality" if season is not None else ", months even")
    elif method == "monthly_profile":
        shares, source = _weights(profile, 12, "targets.phasing.monthly_profile"), "monthly profile"
    else:
        raise TargetInputError(
            "targets.phasing.method: expected seasonality, quarterly_template, season_template or monthly_profile, "
            f"got {method!r}"
        )
    return pd.DataFrame({"month_of_year": MONTHS, "share": shares, "source": source})


def _weights(values: Sequence[float] | None, n: int, name: str) -> np.ndarray:
    if values is None:
        raise TargetInputError(f"{name}: not set; give {n} non-negative numbers")
    try:
        arr = np.asarray([float(v) for v in values], dtype="float64")
    except (TypeError, ValueError):
        raise TargetInputError(f"{name}: expected {n} numbers, got {values!r}") from None
    if arr.size != n:
        raise TargetInputError(f"{name}: expected {n} numbers, got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise TargetInputError(f"{name}: numbers must be non-negative with a positive total, got {values!r}")
    return arr / arr.sum()


def _seasons(seasons: Sequence[Any] | None) -> tuple[list[list[int]], np.ndarray]:
    """Each season's months and its normalised share; the seasons must cover every month exactly once."""
    name = "targets.phasing.seasonal_templates"
    if not seasons:
        raise TargetInputError(f"{name}: not set; give seasons with months and share")
    groups, shares = [], []
    for i, s in enumerate(seasons):
        months = s["months"] if isinstance(s, dict) else getattr(s, "months", None)
        share = s["share"] if isinstance(s, dict) else getattr(s, "share", None)
        try:
            groups.append([int(m) for m in months])
            shares.append(float(share))
        except (TypeError, ValueError):
            raise TargetInputError(f"{name}: season {i + 1} needs months (1-12) and a share, got {s!r}") from None
    flat = sorted(m for g in groups for m in g)
    if flat != MONTHS:
        raise TargetInputError(f"{name}: the seasons must cover every month 1-12 exactly once, got months {flat}")
    return groups, _weights(shares, len(shares), name)


def phasing_from_config(
    phasing: Phasing | Mapping[str, Any], history: pd.DataFrame | None, value: str = "net_amount"
) -> pd.DataFrame:
    """:func:`monthly_shares` with the ``targets.phasing`` settings section: its ``method``, the
    quarterly template named by ``template``, the seasons of the seasonal template named by
    ``season`` and the ``monthly_profile``. A mapping is validated into the section first
    (:class:`~salesplan.settings.Phasing`), its problems raised as :class:`TargetInputError`."""
    section = _phasing_section(phasing)
    return monthly_shares(
        section.method,
        history,
        template=section.quarterly_templates[section.template] if section.method == "quarterly_template" else None,
        profile=section.monthly_profile,
        value=value,
        seasons=section.seasonal_templates[section.season] if section.method == "season_template" else None,
    )


def _phasing_section(phasing: Phasing | Mapping[str, Any]) -> Phasing:
    """The typed phasing section; the model checks that the named template and season exist."""
    if isinstance(phasing, Phasing):
        return phasing
    try:
        return Phasing.model_validate(dict(phasing))
    except ValidationError as exc:
        problems = "; ".join(
            f"targets.phasing{''.join(f'.{p}' for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise TargetInputError(problems) from None


def phase_total(total: int, shares: pd.DataFrame, year: int) -> pd.DataFrame:
    """Whole-unit monthly targets: ``largest_remainder(share_m, total)``, so the months sum exactly to ``total``.

    Returns ``month`` (first of month), ``month_of_year``, ``share``, ``target_amount``, ``source``.
    """
    amounts = largest_remainder(shares["share"].to_numpy(), int(total))
    return pd.DataFrame(
        {
            "month": as_dates([f"{int(year)}-{m:02d}-01" for m in shares["month_of_year"]]),
            "month_of_year": shares["month_of_year"].to_numpy(),
            "share": shares["share"].to_numpy(),
            "target_amount": amounts,
            "source": shares["source"].to_numpy() if "source" in shares.columns else "given shares",
        }
    )
