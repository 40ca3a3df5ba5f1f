"""P(annual plan met) on the M3 monthly series: salesplan vs the `salesplansuccess` package.

Run: ``.venv/bin/python benchmarks/plan_probability.py``

Set-up (one case per series and plan level):
- calendar: every series starts in January 2001;
- as-of: the end of the series' training part; the target year is the year in progress,
  or the next year when training ends in December;
- plans: the previous full calendar year's total x 0.95, 1.00, 1.05, 1.10;
- outcome: the true total of the target year (training months of that year + held-out
  months) reaches the plan.

"salesplan" is the engine's P(hit) (the closed form of its sample paths,
``salesplan.forecast.landing.landing_distribution``); "salesplan, recalibrated" maps it
through a beta recalibration learned from backtest cases built the same way inside each
series' training part (the engine refitted 12 and 24 months before the end of training;
see ``salesplan.forecast.landing.hit_backtest`` and ``fit_hit_calibration``): what the
workbook reports. The held-out months are used only to score.

Both methods see only the training part. salesplansuccess fits its ARIMA(2,1,0)-on-logs
with an end-of-quarter dummy and simulates; we read its simulated year totals (the same
draws its `simulate()` turns into its printed probability) for all four plans.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from m3_monthly import load  # noqa: E402

from salesplan.forecast.engine import SeriesForecast, fit_series  # noqa: E402
from salesplan.forecast.landing import (  # noqa: E402
    backtest_cuts,
    brier_score,
    fit_hit_calibration,
    hit_pairs,
    plan_hit_probability,
    prob_hit,
    reliability_noise_floor,
    reliability_table,
    worst_decile,
)

PLAN_FACTORS = (0.95, 1.00, 1.05, 1.10)


def cases(train: pd.DataFrame, tests: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for uid, g in train.groupby("unique_id", sort=True):
        x = g["y"].to_numpy()
        n = len(x)
        last_month = (n - 1) % 12 + 1  # calendar starts in January
        m = last_month if last_month < 12 else 0  # months of the target year already closed
        r = 12 - m
        ytd = float(x[n - m :].sum()) if m else 0.0
        prev_year = x[n - m - 12 : n - m]
        if len(prev_year) < 12:
            continue
        actual = ytd + float(tests[uid][:r].sum())
        for f in PLAN_FACTORS:
            plan = f * float(prev_year.sum())
            rows.append(
                {
                    "unique_id": uid,
                    "months_closed": m,
                    "remaining": r,
                    "ytd": ytd,
                    "factor": f,
                    "plan": plan,
                    "hit": actual >= plan,
                }
            )
    return pd.DataFrame(rows)


def ours(fits: dict[str, SeriesForecast], table: pd.DataFrame, n_paths: int | None = None, seed: int = 0) -> np.ndarray:
    """P(hit) per case; with ``n_paths``, read from that many sample paths instead of the closed form."""
    rng = np.random.default_rng(seed)
    p = np.empty(len(table))
    plans = table["plan"].to_numpy()
    for uid, idx in table.groupby("unique_id", sort=False).indices.items():
        first = table.iloc[idx[0]]
        p[idx] = plan_hit_probability(
            fits[uid], first["ytd"], int(first["remaining"]), plans[idx], n_paths=n_paths, rng=rng
        )
    return p


def salesplansuccess(train: pd.DataFrame, table: pd.DataFrame, n_paths: int, seed: int) -> np.ndarray:
    import salesplansuccess.api as sps

    # Its simulate() ends with a kernel-density estimate used only for its plot; the plan
    # probability is read from the simulated totals before that. A stand-in density keeps
    # the run short without changing any probability.
    class _NoDensity:
        def __init__(self, values: np.ndarray) -> None:
            self.values = values

        def __call__(self, x: np.ndarray) -> np.ndarray:
            return np.zeros_like(np.asarray(x, dtype=float))

    sps.stats = types.SimpleNamespace(kde=types.SimpleNamespace(gaussian_kde=_NoDensity))
    SalesPlanSuccess = sps.SalesPlanSuccess

    np.random.seed(seed)  # the package draws from numpy's global generator
    p = np.full(len(table), np.nan)
    for uid, idx in table.groupby("unique_id", sort=False).indices.items():
        x = train.loc[train["unique_id"] == uid, "y"].to_numpy()
        n = len(x)
        data = pd.DataFrame(
            {
                "Year": (2001 + np.arange(n) // 12).astype("int64"),
                "Month": (np.arange(n) % 12 + 1).astype("int64"),
                "Sales": x.astype("float64"),
            }
        )
        plans = table["plan"].to_numpy()[idx]
        with contextlib.redirect_stdout(io.StringIO()):
            model = SalesPlanSuccess(data, float(plans[1]))
            model.fit()
            model.simulate(sample_size=n_paths)
        totals = getattr(model, "finalDistibution", None)
        if totals is not None:
            p[idx] = prob_hit(np.asarray(totals), plans)
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paths", type=int, default=2000, help="simulation paths (salesplansuccess; the sampled rows)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--draws",
        type=int,
        default=10,
        help="seeds for the rows that read our P(hit) from sample paths instead of the closed form",
    )
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--save", default=None, help="write every case with both probabilities to this CSV")
    parser.add_argument(
        "--global-member",
        choices=("default", "on", "off"),
        default="default",
        help="blend in the global LightGBM member (forecast.global_model; default: defaults.yaml's)",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="folder of fitted series (salesplan.forecast.fitstore) kept between runs: a run with the member on "
        "reads the local fits a run with it off stored (its seconds are then not the engine's)",
    )
    parser.add_argument("--skip-peer", action="store_true", help="leave salesplansuccess out (its row is unchanged)")
    args = parser.parse_args()

    train, tests, _ = load("m3")
    table = cases(train, tests)
    outcome = table["hit"].to_numpy(dtype=float)
    print(f"M3 monthly: {table['unique_id'].nunique()} series, {len(table)} cases, {100 * outcome.mean():.1f} % hit")

    member = None if args.global_member == "default" else args.global_member == "on"
    engine = {"global_member": member, "store": args.store}
    print(f"global member: {args.global_member}" + (f", fits stored in {args.store}" if args.store else ""))

    results = {}
    t0 = time.perf_counter()
    fits = fit_series(train, 12, n_jobs=args.n_jobs, **engine)
    results["salesplan"] = ours(fits, table)
    t_ours = time.perf_counter() - t0
    # Recalibration learned from each series' training part only: the engine refitted 12 and
    # 24 months before the end of training, the same plan levels, outcomes inside training.
    t0 = time.perf_counter()
    cuts = backtest_cuts(train, back=(12, 24), n_jobs=args.n_jobs, **engine)
    pairs = hit_pairs(cuts, factors=PLAN_FACTORS)
    cal = fit_hit_calibration(pairs["p_hit"].to_numpy(), pairs["hit"].to_numpy(dtype=float))
    results["salesplan, recalibrated"] = cal(results["salesplan"])
    t_cal = t_ours + time.perf_counter() - t0
    t0 = time.perf_counter()
    if not args.skip_peer:
        results["salesplansuccess 0.0.9"] = salesplansuccess(train, table, args.paths, args.seed)
    t_peer = time.perf_counter() - t0
    results["constant base rate"] = np.full(len(table), outcome.mean())
    results["base rate per plan level"] = table.groupby("factor")["hit"].transform("mean").to_numpy(dtype=float)

    print(f"\n{'method':32s} {'Brier':>7s} {'cases':>6s} {'seconds':>8s}")
    seconds = {"salesplan": t_ours, "salesplan, recalibrated": t_cal, "salesplansuccess 0.0.9": t_peer}
    for name, p in results.items():
        ok = ~np.isnan(p)
        sec = f"{seconds[name]:8.1f}" if name in seconds else f"{'':>8s}"
        print(f"{name:32s} {brier_score(p[ok], outcome[ok]):7.3f} {int(ok.sum()):6d} {sec}")
    print(
        "references measured here: salesplansuccess 0.118, damped multiplicative Holt-Winters simulation 0.095, base rate 0.188"
    )
    print("target: Brier <= 0.090; reliability within 5 points of the diagonal in every decile with >= 100 cases")
    print(
        f"recalibration ({cal.method}): logit q = {cal.intercept:.3f} + {cal.slope:.3f} ln p "
        f"- {cal.slope if cal.slope_miss is None else cal.slope_miss:.3f} ln(1 - p), from {cal.n_cases} backtest "
        "cases inside the training parts (12 and 24 months before their end)"
    )

    if args.save:
        table.assign(**{f"p_{k}": v for k, v in results.items()}).to_csv(args.save, index=False)
    for name in ("salesplan", "salesplan, recalibrated", "salesplansuccess 0.0.9"):
        if name not in results:
            continue
        p = results[name]
        ok = ~np.isnan(p)
        rel = reliability_table(p[ok], outcome[ok])
        print(
            f"\nreliability, {name} (observed - predicted in points; worst decile with >= 100 cases: "
            f"{worst_decile(p[ok], outcome[ok]):.1f})"
        )
        print(rel.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    # How far from the diagonal chance alone puts a perfectly calibrated forecaster making
    # these very predictions: the yardstick for reading the worst decile above.
    q = results["salesplan, recalibrated"]
    observed = worst_decile(q, outcome)
    floor = reliability_noise_floor(q, table["unique_id"].to_numpy(), seed=args.seed, observed=observed)
    print(
        "\nnoise floor: a perfectly calibrated forecaster making the recalibrated predictions above (outcomes drawn "
        "from them, a series' four plans sharing one draw, 1,000 draws) has worst decile median "
        f"{floor['median_worst']:.1f}, 90th percentile {floor['p90_worst']:.1f}, within 5 points in "
        f"{100 * floor['share_within']:.0f} % of draws, at least {observed:.1f} points off in {100 * floor['share_worse']:.0f} %"
    )

    # What reading P(hit) from a finite set of paths would add: the same fits, the share of
    # `--paths` sample paths per case (map learned from sampled backtests too), several seeds.
    if args.draws < 1:
        return
    print(
        f"\nP(hit) read from {args.paths} sample paths instead of the closed form ({args.draws} seeds, models fitted "
        "once): worst decile with >= 100 cases, points"
    )
    print(f"{'seed':>4s} {'Brier sim':>9s} {'Brier recal':>11s} {'worst sim':>9s} {'worst recal':>11s}")
    worst = []
    for k in range(args.draws):
        seed = args.seed + 2 * k
        p_k = ours(fits, table, args.paths, seed)
        pairs_k = hit_pairs(cuts, factors=PLAN_FACTORS, n_paths=args.paths, seed=seed + 1)
        q_k = fit_hit_calibration(pairs_k["p_hit"].to_numpy(), pairs_k["hit"].to_numpy(dtype=float))(p_k)
        worst.append(worst_decile(q_k, outcome))
        print(
            f"{k + 1:4d} {brier_score(p_k, outcome):9.4f} {brier_score(q_k, outcome):11.4f} "
            f"{worst_decile(p_k, outcome):9.1f} {worst[-1]:11.1f}"
        )
    w = np.asarray(worst)
    print(
        f"sampled, recalibrated: worst decile median {np.median(w):.1f}, range {w.min():.1f}-{w.max():.1f}, within 5 "
        f"points in {int((w <= 5).sum())} of {args.draws} seeds (closed form: {observed:.1f})"
    )


if __name__ == "__main__":
    main()
