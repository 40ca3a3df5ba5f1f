"""How salesplan scales with the number of order lines, and how fast the forecast fits series.

For each size (the sample company at ``--sizes``, scale 1 = about 0.3 M order lines) this
writes the sample under ``--work`` (default /tmp/salesplan-scale; nothing goes into the
project) and measures, each step in its own process with the peak RSS of its whole process
tree sampled every 0.2 s (psutil):

* cold ingest + validation: ``salesplan.io.load_data`` with an empty cache;
* the aggregates' build (``salesplan.aggregates.load``) with pandas and with DuckDB, over the
  validated cache the ingest left;
* the floor: pyarrow reads the order CSVs and pandas group-sums them to month x region x
  SKU x rep x channel x customer, the least any "lines in, monthly cube out" can do;
* the warm monthly run: ``salesplan run --reports ...`` as a subprocess (validated cache
  present), its per-notebook seconds from run.json (unless ``--no-run``).

``--series N`` also fits N synthetic monthly series (48 months each) with the local engine
on every core and prints series per second, and what 10^6 series would need.

    .venv/bin/python benchmarks/scale.py --sizes 1,10
    .venv/bin/python benchmarks/scale.py --sizes 1 --no-run --series 2000

The project root seen by the steps is a folder under ``--work`` (``SALESPLAN_ROOT``), so the
cache (``data/interim/cache``), the plans and the reports of these runs stay there too.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SALESPLAN = str(Path(PYTHON).with_name("salesplan"))


class TreeSampler:
    """Peak of the summed RSS of a process and all its descendants, sampled every ``every`` s,
    and the peak of their summed PSS (proportional set size: a page shared by n processes,
    such as a forked forecast worker's copy of its kernel, counts 1/n in each), which is
    what the tree really occupies; the RSS sum counts shared pages once per process."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.peak, self.peak_pss = pid, every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = pss = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in procs:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    info = proc.memory_full_info()
                    total += info.rss
                    pss += getattr(info, "pss", info.rss)
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self.every)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str, float]:
    """Run ``cmd``; returns (seconds, peak tree RSS in GB, its stdout, peak tree PSS in GB). Fails loudly."""
    started = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        with TreeSampler(proc.pid) as sampler:
            out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{out}\nsee {log}")
    return seconds, sampler.peak / 1e9, out, sampler.peak_pss / 1e9


def python_step(code: str, env: dict[str, str], log: Path) -> tuple[float, float, dict]:
    """Run a Python snippet that prints one JSON line last; returns (seconds, GB, that JSON)."""
    seconds, peak, out, _ = measured([PYTHON, "-c", textwrap.dedent(code)], env, log)
    return seconds, peak, json.loads(out.strip().splitlines()[-1])


INGEST = """
    import json, time, pandas as pd
    from salesplan.config import load_config
    from salesplan.io import load_data
    t = time.perf_counter()
    data = load_data({raw!r}, load_config({config!r}))
    print(json.dumps({{"seconds": time.perf_counter() - t, "lines": len(data.orders)}}))
"""

AGGREGATE = """
    import json, shutil, time
    from salesplan import aggregates
    from salesplan.config import load_config
    cfg = load_config({config!r})
    shutil.rmtree(aggregates.cache_entry({raw!r}, cfg) / aggregates.SUBDIR, ignore_errors=True)
    t = time.perf_counter()
    agg = aggregates.load({raw!r}, cfg, engine={engine!r})
    seconds = time.perf_counter() - t
    # What the two engines must agree on: every key combination (a hash of the key columns in
    # order), every count exactly, every sum to 1e-9 relative.
    import pandas as pd
    prints = {{}}
    for name, kinds in aggregates.SCHEMAS.items():
        frame = agg.read(name)
        keys = frame[aggregates.KEYS[name]]
        prints[name] = {{
            "rows": len(frame),
            "keys": int(pd.util.hash_pandas_object(keys, index=False).sum()),
            **{{c: int(frame[c].sum()) for c, k in kinds.items() if k == "int"}},
            **{{c: float(frame[c].sum()) for c, k in kinds.items() if k == "float"}},
        }}
    print(json.dumps({{"seconds": seconds, "build": agg.meta["seconds"], "engine": agg.engine,
                      "cube_rows": prints["cube"]["rows"], "prints": prints}}))
"""


def same_tables(left: dict, right: dict) -> list[str]:
    """The differences between two engines' fingerprints (empty: the same tables)."""
    out = []
    for name, a in left.items():
        for key, value in a.items():
            other = right[name][key]
            equal = abs(value - other) <= 1e-9 * max(abs(value), 1.0) if isinstance(value, float) else value == other
            if not equal:
                out.append(f"{name}.{key}: pandas {value} vs duckdb {other}")
    return out


FLOOR = """
    import glob, json, time
    import pyarrow as pa, pyarrow.csv as pacsv
    t = time.perf_counter()
    keys = ["order_date", "region", "sku", "rep_id", "channel", "customer_id"]
    cols = keys + ["quantity", "net_amount"]
    types = dict.fromkeys(keys[1:], pa.dictionary(pa.int32(), pa.string())) | {{"order_date": pa.date32(),
             "quantity": pa.int64(), "net_amount": pa.float64()}}
    tables = [pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(include_columns=cols, column_types=types))
              for f in sorted(glob.glob({raw!r} + "/orders_*.csv"))]
    lines = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    read = time.perf_counter() - t
    lines["month"] = lines["order_date"].astype("datetime64[ns]").dt.to_period("M").dt.to_timestamp()
    cube = lines.groupby(["month"] + keys[1:], observed=True)[["quantity", "net_amount"]].sum()
    print(json.dumps({{"seconds": time.perf_counter() - t, "read": read, "rows": len(cube), "lines": len(lines)}}))
"""

SERIES = """
    import json, time
    import numpy as np, pandas as pd
    from salesplan.forecast.engine import default_n_jobs, fit_series
    rng = np.random.default_rng(1)
    n, months = {n}, 48
    t = np.arange(months)
    level = rng.uniform(50, 5000, n)[:, None]
    y = level * (1 + 0.01 * t + 0.15 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 0.05, (n, months)).cumsum(1) * level * 0.3
    frame = pd.DataFrame({{"unique_id": np.repeat([f"s{{i:07d}}" for i in range(n)], months),
                          "ds": np.tile(pd.date_range("2022-01-01", periods=months, freq="MS"), n),
                          "y": y.ravel()}})
    fit_series(frame[frame["unique_id"] == "s0000000"], 12, n_jobs=1)  # compile / load the models once
    started = time.perf_counter()
    fit_series(frame, 12, n_jobs=default_n_jobs())
    print(json.dumps({{"seconds": time.perf_counter() - started, "series": n, "cores": default_n_jobs()}}))
"""


def run_size(
    scale: float, work: Path, config: Path, env: dict[str, str], do_run: bool, jobs_list: tuple[int, ...] = (1,)
) -> dict:
    """Every measurement of one size (module docstring)."""
    from salesplan.sample import write_sample

    folder = work / f"scale-{scale:g}"
    raw, logs = folder / "raw", folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    marker = raw / ".scale"
    # A sample written by another version of the generator is written again.
    generator = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted((ROOT / "lib" / "salesplan").glob("sample*.py")))
    )
    stamp = f"{scale:g} {generator.hexdigest()[:16]}"
    if not (marker.exists() and marker.read_text() == stamp):
        shutil.rmtree(raw, ignore_errors=True)
        started = time.perf_counter()
        write_sample(raw, scale=scale)
        marker.write_text(stamp)
        print(f"  sample written in {time.perf_counter() - started:.0f} s", flush=True)
    csv_mb = sum(p.stat().st_size for p in raw.glob("orders_*.csv")) / 1e6
    # Cold: no cache entry for anything (the steps' project root is under --work).
    shutil.rmtree(Path(env["SALESPLAN_ROOT"]) / "data" / "interim" / "cache", ignore_errors=True)
    row: dict = {"scale": scale, "csv_mb": csv_mb}
    sec, gb, out = python_step(INGEST.format(raw=str(raw), config=str(config)), env, logs / "ingest.log")
    row |= {"lines": out["lines"], "ingest_s": sec, "ingest_gb": gb}
    print(f"  ingest {sec:.1f} s, {gb:.2f} GB", flush=True)
    for engine in ("pandas", "duckdb"):
        code = AGGREGATE.format(raw=str(raw), config=str(config), engine=engine)
        sec, gb, out = python_step(code, env, logs / f"aggregate-{engine}.log")
        row |= {f"agg_{engine}_s": sec, f"agg_{engine}_build_s": out["build"], f"agg_{engine}_gb": gb}
        row[f"prints_{engine}"] = out["prints"]
        print(f"  aggregates ({engine}) {sec:.1f} s (build {out['build']:.1f} s), {gb:.2f} GB", flush=True)
    differences = same_tables(row["prints_pandas"], row["prints_duckdb"])
    row["engines_agree"] = not differences
    print(f"  pandas and DuckDB aggregates {'identical' if not differences else 'DIFFER: ' + '; '.join(differences)}")
    sec, gb, out = python_step(FLOOR.format(raw=str(raw)), env, logs / "floor.log")
    row |= {"floor_s": sec, "floor_read_s": out["read"], "floor_gb": gb}
    print(f"  floor {sec:.1f} s (read {out['read']:.1f} s), {gb:.2f} GB", flush=True)
    for jobs in jobs_list if do_run else ():
        reports = folder / "reports"
        shutil.rmtree(reports, ignore_errors=True)
        cmd = [SALESPLAN, "run", "--data", str(raw), "--config", str(config), "--reports", str(reports)]
        cmd += ["--notebooks", str(ROOT / "notebooks"), "--jobs", str(jobs)]
        sec, gb, _, pss = measured(cmd, env, logs / f"run-jobs{jobs}.log")
        key = "run" if jobs == 1 else f"run{jobs}"
        row |= {f"{key}_s": sec, f"{key}_gb": gb, f"{key}_pss_gb": pss}
        if jobs == 1:
            run_json = next(reports.glob("*/run.json"))
            notebooks = json.loads(run_json.read_text(encoding="utf-8")).get("notebooks", [])
            row["notebooks"] = {nb["name"]: nb.get("duration_s") for nb in notebooks}
        print(f"  monthly run, --jobs {jobs}: {sec:.1f} s, {gb:.2f} GB RSS summed, {pss:.2f} GB PSS summed", flush=True)
    return row


def _cell(row: dict, key: str, width: int = 13) -> str:
    """``seconds (GB)`` of one step, or a dash when it was not measured."""
    if f"{key}_s" not in row:
        return f"{'-':>{width}}"
    return f"{row[key + '_s']:>6.1f} ({row[key + '_gb']:4.2f})".rjust(width)


def print_table(rows: list[dict]) -> None:
    print("\nper size: seconds (peak GB of the process tree)")
    head = f"{'scale':>5} {'lines':>11} {'CSV MB':>7} {'ingest':>13} {'agg pandas':>13} {'agg duckdb':>13} {'floor':>13} {'monthly run':>14}"
    print(head)
    for r in rows:
        print(
            f"{r['scale']:>5g} {r['lines']:>11,} {r['csv_mb']:>7.0f} {_cell(r, 'ingest')} {_cell(r, 'agg_pandas')} "
            f"{_cell(r, 'agg_duckdb')} {_cell(r, 'floor')} {_cell(r, 'run', 14)}"
        )
    print("\nmonthly run: seconds (peak GB of the process tree: RSS summed / PSS summed)")
    for r in rows:
        cells = [
            f"--jobs {k[3:] or 1}: {r[k + '_s']:.1f} s ({r[k + '_gb']:.2f} / {r[k + '_pss_gb']:.2f})"
            for k in sorted(k[:-2] for k in r if k.startswith("run") and k.endswith("_s"))
        ]
        print(f"{r['scale']:>5g} {r['lines']:>11,}   " + "   ".join(cells))
    print("\nagainst the floor of the same size (targets at 10 M lines: ingest <= 2x, monthly run <= 6x)")
    for r in rows:
        ratios = [f"ingest {r['ingest_s'] / r['floor_s']:.1f}x"]
        ratios += [
            f"run --jobs {k[3:-2] or 1} {r[k] / r['floor_s']:.1f}x"
            for k in sorted(r)
            if k.startswith("run") and k.endswith("_s")
        ]
        print(f"{r['scale']:>5g} {r['lines']:>11,}   " + ", ".join(ratios))
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["lines"] / first["lines"]
        print(f"\ngrowth from {first['lines']:,} to {last['lines']:,} lines ({growth:.1f}x the lines):")
        for key in ("ingest", "agg_duckdb", "floor", "run", "run2"):
            if f"{key}_s" in first and f"{key}_s" in last:
                print(
                    f"  {key:<11} {last[key + '_s'] / first[key + '_s']:5.1f}x the seconds, {last[key + '_gb'] / first[key + '_gb']:5.1f}x the peak"
                )
    runs = [r for r in rows if "notebooks" in r]
    if runs:
        names = sorted({n for r in runs for n in r["notebooks"]})
        print("\nper notebook in the monthly run, seconds")
        print(f"{'notebook':<20}" + "".join(f"{'scale ' + format(r['scale'], 'g'):>12}" for r in runs))
        for name in names:
            values = [r["notebooks"].get(name) for r in runs]
            print(f"{name:<20}" + "".join(f"{v:>12.1f}" if v is not None else f"{'-':>12}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,33", help="sample scales, comma-separated (default 1,10,33)")
    parser.add_argument("--work", default="/tmp/salesplan-scale", help="folder for data, cache and reports")
    parser.add_argument("--config", default=str(ROOT / "config" / "salesplan.yaml"), help="settings file")
    parser.add_argument("--no-run", dest="run", action="store_false", help="skip the monthly run")
    parser.add_argument("--jobs", default="1,2", help="measure the monthly run with each --jobs value (default 1,2)")
    parser.add_argument("--series", type=int, default=0, help="also fit this many synthetic series locally")
    args = parser.parse_args()

    work = Path(args.work).resolve()
    project = work / "root"  # SALESPLAN_ROOT of every step: its cache and plans live here
    (project / "data" / "interim").mkdir(parents=True, exist_ok=True)
    env = os.environ | {"SALESPLAN_ROOT": str(project), "PYTHONWARNINGS": "ignore"}
    print(
        f"salesplan scale benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB, "
        f"load average {os.getloadavg()[0]:.1f}; work folder {work}"
    )
    rows = []
    for text in [s for s in args.sizes.split(",") if s.strip()]:
        scale = float(text)
        print(f"scale {scale:g}:", flush=True)
        jobs = tuple(int(j) for j in args.jobs.split(",") if j.strip())
        rows.append(run_size(scale, work, Path(args.config).resolve(), env, args.run, jobs))
        (work / "results.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if rows:
        print_table(rows)
        # Other work on the machine slows every step alike; the load says how much there was.
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min)")
    if args.series:
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        sec, gb, out = python_step(SERIES.format(n=args.series), env, logs / "series.log")
        rate = out["series"] / out["seconds"]
        per_core = rate / out["cores"]
        print(
            f"\nforecast, local engine: {out['series']:,} series of 48 months in {out['seconds']:.1f} s on "
            f"{out['cores']} cores = {rate:.1f} series/s ({per_core:.1f} per core), peak {gb:.2f} GB"
        )
        for hours in (1.0, 0.25):
            cores = 1e6 / (per_core * 3600 * hours)
            print(f"  10^6 series in {hours * 60:.0f} min: about {cores:,.0f} such cores")


if __name__ == "__main__":
    main()
