"""Tiered sales commission: rates, per-rep statements a rep can check by hand, payout simulation.

Rules come from the typed ``commission`` settings section
(:class:`~salesplan.settings.CommissionSettings`: tiers as ``[lower bound of attainment, rate]``
pairs, mode, high-margin multiplier, quarter-excess rate, team penalty/bonus).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
from salesplan.settings import CommissionSettings

Tiers = Sequence[Sequence[float]]


class CommissionRuleError(ValueError):
    """A commission rule or statement input breaks a rule (the message names what and where)."""


def _tier_arrays(tiers: Tiers) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = np.asarray([[float(lo), float(rate)] for lo, rate in tiers], dtype="float64")
    except (TypeError, ValueError):
        raise CommissionRuleError(
            f"commission.tiers: expected a list of [lower_bound, rate] pairs, got {tiers!r}"
        ) from None
    if table.size == 0:
        raise CommissionRuleError("commission.tiers: at least one [lower_bound, rate] pair is needed")
    lowers, rates = table[:, 0], table[:, 1]
    if not np.all(np.isfinite(table)):
        raise CommissionRuleError(f"commission.tiers: bounds and rates must be numbers, got {tiers!r}")
    if np.any(np.diff(lowers) <= 0):
        raise CommissionRuleError(f"commission.tiers: lower bounds must strictly increase, got {lowers.tolist()}")
    if np.any(rates < 0):
        raise CommissionRuleError(f"commission.tiers: rates must be >= 0, got {rates.tolist()}")
    return lowers, rates


def commission_rate(attainment: float | np.ndarray | pd.Series, tiers: Tiers) -> float | np.ndarray:
    """The tier rate for each attainment: the rate of the highest tier whose lower bound is <= attainment.

    With the default tiers: below 80 % -> 0; 80-100 % -> 1 %; 100-120 % -> 1.5 %; 120 % and above -> 2 %.
    Attainment below the first bound, or NaN (no target), earns 0.
    """
    lowers, rates = _tier_arrays(tiers)
    att = np.asarray(attainment, dtype="float64")
    idx = np.searchsorted(lowers, np.nan_to_num(att, nan=-np.inf), side="right") - 1
    out = np.where((idx >= 0) & ~np.isnan(att), rates[np.clip(idx, 0, None)], 0.0)
    return float(out) if out.ndim == 0 else out


def tier_label(attainment: float | np.ndarray | pd.Series, tiers: Tiers) -> np.ndarray:
    """A readable tier name per attainment, e.g. ``"80-100%"``, ``">=120%"``, ``"no target"``."""
    lowers, _ = _tier_arrays(tiers)
    names = [
        f">={lo:.0%}" if i == len(lowers) - 1 else f"{lo:.0%}-{lowers[i + 1]:.0%}".replace("%-", "-")
        for i, lo in enumerate(lowers)
    ]
    att = np.atleast_1d(np.asarray(attainment, dtype="float64"))
    idx = np.searchsorted(lowers, np.nan_to_num(att, nan=-np.inf), side="right") - 1
    below = f"<{lowers[0]:.0%}"
    return np.array(
        ["no target" if np.isnan(a) else below if i < 0 else names[i] for a, i in zip(att, idx, strict=True)],
        dtype=object,
    )


def commission_for(
    amount: float | np.ndarray | pd.Series,
    attainment: float | np.ndarray | pd.Series,
    tiers: Tiers,
    mode: str = "whole",
    high_margin_amount: float | np.ndarray | pd.Series = 0.0,
    high_margin_multiplier: float = 1.0,
) -> float | np.ndarray:
    """Commission on a month's sales ``amount`` at ``attainment`` (= amount / target).

    High-margin sales count ``high_margin_multiplier`` times (``commission.high_margin_multiplier``;
    1.0, the default, counts them once like any sale), so the commissionable base is
    ``base = amount + (multiplier - 1) * high_margin_amount``.

    * ``whole``: the whole base earns the rate of the tier reached: ``rate(attainment) * base``.
    * ``marginal``: each slice of sales earns its own tier's rate, like tax brackets. With
      ``target = amount / attainment`` and tier bounds ``l_k < l_{k+1}``::

          commission = base / amount * sum_k rate_k * clip(amount - l_k * target, 0, (l_{k+1} - l_k) * target)

    A month with no positive sales or no target (attainment NaN or <= 0) earns 0.
    """
    if mode not in ("whole", "marginal"):
        raise CommissionRuleError(f"commission.mode: expected 'whole' or 'marginal', got {mode!r}")
    lowers, rates = _tier_arrays(tiers)
    amt = np.asarray(amount, dtype="float64")
    att = np.asarray(attainment, dtype="float64")
    hm = np.asarray(high_margin_amount, dtype="float64")
    amt, att, hm = np.broadcast_arrays(amt, att, hm)
    valid = (amt > 0) & np.isfinite(att) & (att > 0)
    safe_amt = np.where(valid, amt, 1.0)
    base = safe_amt + (high_margin_multiplier - 1.0) * np.clip(np.nan_to_num(hm), 0, None)
    if mode == "whole":
        out = commission_rate(np.where(valid, att, np.nan), tiers) * base
    else:
        target = safe_amt / np.where(valid, att, 1.0)
        uppers = np.append(lowers[1:], np.inf)
        lo = target[..., None] * lowers
        width = target[..., None] * (uppers - lowers)
        slices = np.clip(safe_amt[..., None] - lo, 0, width)
        out = (slices * rates).sum(axis=-1) * base / safe_amt
    out = np.where(valid, out, 0.0)
    return float(out) if out.ndim == 0 else out


STATEMENT_COLUMNS = [
    "rep_id", "team", "month", "actual", "target", "attainment", "tier", "rate", "high_margin_actual",
    "base_amount", "commission", "quarter", "quarter_actual", "quarter_target", "quarter_excess_bonus",
    "team_attainment", "team_adjustment_pct", "team_adjustment", "total_payout",
]  # fmt: skip


def commission_statement(
    rep_month: pd.DataFrame, rules: CommissionSettings, scenario_col: str | None = None
) -> pd.DataFrame:
    """One line per rep and month that a rep can check by hand.

    ``rep_month`` columns: ``rep_id, month, actual, target`` and optionally ``high_margin_actual``
    (the part of ``actual`` from high-margin products, default 0) and ``team`` (default: one team of all
    reps). ``rules`` is the ``commission`` settings section. Per line:

    * ``attainment = actual / target`` (NaN when the target is 0), ``tier``, ``rate``;
    * ``base_amount = actual + (high_margin_multiplier - 1) * high_margin_actual``;
    * ``commission`` = :func:`commission_for` in the rules' mode;
    * ``quarter_excess_bonus = quarter_excess_rate * max(0, quarter_actual - quarter_target)``, paid on the
      quarter's last month (Mar, Jun, Sep, Dec) over the rep's months of that quarter in the input,
      and only when the quarter target is above 0;
    * ``team_attainment`` = team's summed actual / summed target for the month;
      ``team_adjustment = -team_penalty_pct * commission`` when it is below ``team_penalty_below``, or
      ``+team_bonus_pct * commission`` when it has been above ``team_bonus_above`` for ``team_bonus_months``
      consecutive months up to this one;
    * ``total_payout = commission + quarter_excess_bonus + team_adjustment``.

    ``scenario_col`` names a column that separates independent runs (e.g. simulation draws).
    """
    r = rules
    needed = {"rep_id", "month", "actual", "target"}
    missing = sorted(needed - set(rep_month.columns))
    if missing:
        raise CommissionRuleError(f"commission statement input: missing column(s) {', '.join(missing)}")
    df = rep_month.copy()
    for col in ("actual", "target"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
        if df[col].isna().any():
            row = int(np.flatnonzero(df[col].isna().to_numpy())[0])
            raise CommissionRuleError(f"commission statement input: {col} is blank or not a number in row {row}")
    if (df["target"] < 0).any():
        row = int(np.flatnonzero((df["target"] < 0).to_numpy())[0])
        raise CommissionRuleError(f"commission statement input: target is negative in row {row} (rule: target >= 0)")
    df["month"] = as_dates(df["month"]).dt.to_period("M").dt.to_timestamp()
    if "high_margin_actual" not in df.columns:
        df["high_margin_actual"] = 0.0
    df["high_margin_actual"] = pd.to_numeric(df["high_margin_actual"], errors="coerce").fillna(0.0)
    if "team" not in df.columns:
        df["team"] = "all"
    df["team"] = df["team"].fillna("(no team)").astype(str)
    keys = [scenario_col] if scenario_col else []

    target = df["target"].to_numpy(dtype="float64")
    actual = df["actual"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        df["attainment"] = np.where(target > 0, actual / np.where(target > 0, target, 1.0), np.nan)
    df["tier"] = tier_label(df["attainment"].to_numpy(), r.tiers)
    df["rate"] = commission_rate(df["attainment"].to_numpy(), r.tiers)
    mult = r.high_margin_multiplier
    df["base_amount"] = df["actual"] + (mult - 1.0) * df["high_margin_actual"].clip(lower=0)
    df["commission"] = commission_for(
        actual, df["attainment"].to_numpy(), r.tiers, r.mode, df["high_margin_actual"].to_numpy(), mult
    )

    df["quarter"] = df["month"].dt.to_period("Q").astype(str)
    q_keys = [*keys, "rep_id", "quarter"]
    df["quarter_actual"] = df.groupby(q_keys)["actual"].transform("sum")
    df["quarter_target"] = df.groupby(q_keys)["target"].transform("sum")
    quarter_end = df["month"].dt.month.isin([3, 6, 9, 12])
    excess = (df["quarter_actual"] - df["quarter_target"]).clip(lower=0)
    # Without a quarter target there is no "part above target": nothing is paid.
    has_target = df["quarter_target"] > 0
    df["quarter_excess_bonus"] = np.where(quarter_end & has_target, r.quarter_excess_rate * excess, 0.0)

    team = df.groupby([*keys, "team", "month"], as_index=False)[["actual", "target"]].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        team["team_attainment"] = np.where(
            team["target"] > 0, team["actual"] / team["target"].where(team["target"] > 0, 1.0), np.nan
        )
    team = team.sort_values([*keys, "team", "month"])
    adj = np.zeros(len(team))
    adj = np.where(team["team_attainment"] < r.team_penalty_below, -r.team_penalty_pct, adj)
    above = (team["team_attainment"] > r.team_bonus_above).to_numpy()
    # A streak continues only from the calendar month directly before, within the same team (and run).
    prev_month = team.groupby([*keys, "team"])["month"].shift(1)
    follows = (prev_month + pd.DateOffset(months=1) == team["month"]).to_numpy()
    streak = np.zeros(len(team), dtype="int64")
    for i in range(len(team)):
        streak[i] = (streak[i - 1] + 1 if i > 0 and follows[i] else 1) if above[i] else 0
    adj = np.where(streak >= r.team_bonus_months, r.team_bonus_pct, adj)
    team["team_adjustment_pct"] = adj
    df = df.merge(
        team[[*keys, "team", "month", "team_attainment", "team_adjustment_pct"]],
        on=[*keys, "team", "month"],
        how="left",
    )
    df["team_adjustment"] = df["team_adjustment_pct"] * df["commission"]
    df["total_payout"] = df["commission"] + df["quarter_excess_bonus"] + df["team_adjustment"]
    return df[[*keys, *STATEMENT_COLUMNS]].sort_values([*keys, "rep_id", "month"]).reset_index(drop=True)


def attainment_history(
    actual: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    month_shares: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each rep's historical monthly attainment, the spread :func:`simulate_payout` draws from.

    ``actual``: ``rep_id, month, actual``. With ``targets`` (``rep_id, month, target``) attainment is
    ``actual / target``. Without them, each month is measured against a plan of the rep's own year total
    phased by ``month_shares`` (``month_of_year, share``; even twelfths when absent):
    ``attainment = actual / (year_total * share)`` — the rep's spread around a plan they would have met.
    Returns ``rep_id, month, attainment`` (months without a target dropped).
    """
    df = actual.copy()
    df["month"] = as_dates(df["month"]).dt.to_period("M").dt.to_timestamp()
    if targets is not None:
        t = targets.copy()
        t["month"] = as_dates(t["month"]).dt.to_period("M").dt.to_timestamp()
        df = df.merge(t[["rep_id", "month", "target"]], on=["rep_id", "month"], how="inner")
    else:
        shares = (
            month_shares.set_index("month_of_year")["share"]
            if month_shares is not None
            else pd.Series(1 / 12, index=range(1, 13))
        )
        year = df["month"].dt.year
        df["target"] = (
            df.groupby(["rep_id", year])["actual"].transform("sum") * df["month"].dt.month.map(shares).to_numpy()
        )
        # Only full years give a fair phased plan; partial years would inflate attainment.
        months_seen = df.groupby(["rep_id", year])["month"].transform("nunique")
        df = df[months_seen == 12]
    df = df[df["target"] > 0]
    return df.assign(attainment=df["actual"] / df["target"])[["rep_id", "month", "attainment"]].reset_index(drop=True)


def high_margin_share(orders: pd.DataFrame, products: pd.DataFrame, start: object, end: object) -> pd.DataFrame:
    """Each rep's share of net sales from high-margin products between ``start`` and ``end`` (inclusive).

    ``high_margin_share = net sales of SKUs with high_margin = True / all net sales`` (0 when the products
    table has no ``high_margin`` column or the rep sold nothing). Returns ``rep_id, high_margin_share``.
    """
    dates = as_dates(orders["order_date"])
    window = orders.loc[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end)), ["rep_id", "sku", "net_amount"]]
    if "high_margin" in products.columns:
        flags = products.drop_duplicates("sku").set_index("sku")["high_margin"].eq(True)
    else:
        flags = pd.Series(dtype=bool)
    hm = window["sku"].isin(flags.index[flags])
    sums = window.assign(hm=window["net_amount"].where(hm, 0.0)).groupby("rep_id")[["hm", "net_amount"]].sum()
    share = (sums["hm"] / sums["net_amount"].where(sums["net_amount"] > 0)).fillna(0.0).clip(0, 1)
    return share.rename("high_margin_share").rename_axis("rep_id").reset_index()


@dataclass(frozen=True)
class PayoutSimulation:
    """Result of :func:`simulate_payout`: per-rep expected payout and range, and the total's distribution."""

    by_rep: pd.DataFrame
    total: pd.Series
    draws: pd.Series


def simulate_payout(
    quotas: pd.DataFrame,
    history: pd.DataFrame,
    rules: CommissionSettings,
    n_sims: int = 500,
    seed: int = 0,
    levels: tuple[float, float] = (0.10, 0.90),
) -> PayoutSimulation:
    """Expected commission payout for a plan, and its range, if each rep lands at their historical attainment spread.

    ``quotas``: ``rep_id, month, target`` (+ optional ``team``, ``high_margin_share`` = share of the rep's
    sales from high-margin products). ``history``: :func:`attainment_history` output. In every draw each
    rep-month's attainment is resampled from that rep's own history (reps without history draw from the
    pooled history of all reps), ``actual = target * attainment``, and the payout is the
    :func:`commission_statement` total. Returns per rep ``expected_payout`` and the ``levels`` quantiles
    (``payout_low``, ``payout_high``), and the same for the total over all reps.
    """
    if history.empty:
        raise CommissionRuleError("simulate_payout: no historical attainment to draw from")
    rng = np.random.default_rng(seed)
    q = quotas.reset_index(drop=True).copy()
    pooled = history["attainment"].to_numpy(dtype="float64")
    own = {rep: g["attainment"].to_numpy(dtype="float64") for rep, g in history.groupby("rep_id")}
    draws = np.empty((n_sims, len(q)))
    for rep, idx in q.groupby("rep_id").indices.items():
        pool = own.get(rep, pooled)
        draws[:, idx] = rng.choice(pool, size=(n_sims, len(idx)), replace=True)
    sims = pd.concat([q] * n_sims, ignore_index=True)
    sims["sim"] = np.repeat(np.arange(n_sims), len(q))
    sims["actual"] = sims["target"].to_numpy() * draws.reshape(-1)
    if "high_margin_share" in sims.columns:
        sims["high_margin_actual"] = sims["actual"].clip(lower=0) * sims["high_margin_share"].fillna(0)
    statement = commission_statement(sims, rules, scenario_col="sim")
    per_rep = statement.groupby(["sim", "rep_id"])["total_payout"].sum().unstack("rep_id")
    lo, hi = levels
    by_rep = (
        pd.DataFrame(
            {
                "target": q.groupby("rep_id")["target"].sum(),
                "expected_payout": per_rep.mean(),
                "payout_low": per_rep.quantile(lo),
                "payout_high": per_rep.quantile(hi),
                "history_months": pd.Series({rep: len(own.get(rep, [])) for rep in per_rep.columns}),
            }
        )
        .rename_axis("rep_id")
        .reset_index()
    )
    totals = per_rep.sum(axis=1)
    total = pd.Series(
        {"expected_payout": totals.mean(), "payout_low": totals.quantile(lo), "payout_high": totals.quantile(hi)}
    )
    return PayoutSimulation(by_rep=by_rep, total=total, draws=totals.rename("total_payout"))
