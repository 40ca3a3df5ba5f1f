"""The sample company's monthly run against its kernel floor, both measured in the same run.

* **run**: ``salesplan run --jobs 1`` over a copy of ``data/raw`` (the report month of the
  sample), its validated cache warmed first (one untimed ``open_workbook``), so the figure is
  the run a scheduler repeats each month, not the first ingest. The store of fitted series
  (``data/interim/fits``) starts, with ``--fits earlier`` (the default), with what the forecasts
  of the same month one and two years before left there (fitted untimed first): the run a
  scheduler makes in its third year. ``--fits none`` starts it empty: a first run ever;
* **floor**: papermill executing, once per notebook of the pack, a notebook that only imports
  the pages' stack (pandas, matplotlib, seaborn, statsmodels and the salesplan modules the pages
  import) on the project's kernel: the least any run of that many notebooks on that stack costs;
* the **ratio** run / floor (target: within 1.4x), the floor being the mean of one measured
  just before and one just after the run (the load of a shared machine drifts within minutes),
  the per-notebook seconds from run.json against one import-only kernel, and the load average
  at each step (a loaded machine inflates both figures alike).

Everything is written under ``--work`` (default /tmp/salesplan-monthly-run, the project root
seen by the steps through ``SALESPLAN_ROOT``): the cache, the plan drafts page 02 saves
(``targets/`` beside the copied data) and the reports stay out of the project.

    .venv/bin/python benchmarks/monthly_run.py
    .venv/bin/python benchmarks/monthly_run.py --repeat 2   # two runs, the best ratio kept
    .venv/bin/python benchmarks/monthly_run.py --fits none  # no fitted series stored at the start
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SALESPLAN = str(Path(PYTHON).with_name("salesplan"))
TARGET = 1.4

# What the pages import (notebooks/0*.ipynb), plus seaborn and statsmodels, the rest of the
# declared charting and statistics stack: the floor pays for every import a page pays for.
STACK = """\
import matplotlib.pyplot as plt
import pandas as pd
import seaborn
import statsmodels.api
from IPython.display import HTML, Markdown, display
from salesplan import cards, metrics, plans, review, units
from salesplan import forecast as fc_lib
from salesplan import targets as tg
from salesplan.commission import commission_statement
from salesplan.config import assumptions_table
from salesplan.cube import monthly_totals
from salesplan.layout import details
from salesplan.plots import forecast, review as review_plots, seasonality, show, targets as target_plots
from salesplan.retro import page, pay
from salesplan.retro.month import build_retrospective, write_retrospective
from salesplan.status import PROBABILITY_NOTE
from salesplan.tables import fmt_money, style_table
from salesplan.targets import views
from salesplan.workbook import open_workbook
"""

FLOOR = """\
import sys, time
import papermill as pm
names, src, out = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
for name in names:
    pm.execute_notebook(src, f"{out}/{name}.ipynb", kernel_name="salesplan", progress_bar=False,
                        log_output=False, extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
print(time.perf_counter() - t0)
"""

WARM = """\
import sys
from salesplan.workbook import open_workbook
print(open_workbook(None, sys.argv[1], sys.argv[2]).month)
"""

# The forecasts of the same month one and two years before, as the monthly job fitted them then
# (their fitted series stay in data/interim/fits): what a scheduled run finds in the store.
EARLIER = """\
import sys, tempfile
from salesplan.workbook import open_workbook
for month in sys.argv[3:]:
    open_workbook(month, sys.argv[1], sys.argv[2], output_dir=tempfile.mkdtemp()).forecast()
"""


def pack_names() -> list[str]:
    """The notebooks the run executes: the pack's names, in its order."""
    import yaml

    pack = yaml.safe_load((ROOT / "notebooks" / "pack.yaml").read_text(encoding="utf-8"))
    return [entry["name"] for entry in pack["notebooks"]]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def floor_once(work: Path, names: list[str], env: dict[str, str]) -> float:
    """Seconds papermill takes to execute the import-only notebook once per name."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(STACK)]
    nb.metadata["kernelspec"] = {"name": "salesplan", "display_name": "Python (salesplan)", "language": "python"}
    src = work / "imports_only.ipynb"
    nbformat.write(nb, src)
    out = work / "floor"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    done = subprocess.run(
        [PYTHON, "-c", FLOOR, ",".join(names), str(src), str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def run_once(
    work: Path, raw: Path, config: Path, env: dict[str, str], fits: Path | None
) -> tuple[float, dict[str, float]]:
    """Seconds of ``salesplan run --jobs 1`` and its per-notebook seconds (run.json). The
    store of fitted series starts as ``fits`` (a copy), or empty when None."""
    reports = work / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    store = work / "data" / "interim" / "fits"
    shutil.rmtree(store, ignore_errors=True)
    if fits is not None:
        shutil.copytree(fits, store)
    cmd = [SALESPLAN, "run", "--jobs", "1", "--data", str(raw), "--config", str(config)]
    cmd += ["--reports", str(reports), "--notebooks", str(ROOT / "notebooks")]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"salesplan run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    run_json = json.loads(next(reports.glob("*/run.json")).read_text(encoding="utf-8"))
    return seconds, {nb["name"]: nb.get("duration_s") for nb in run_json.get("notebooks", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/salesplan-monthly-run", help="folder for data, cache and reports")
    parser.add_argument("--data", default=str(ROOT / "data" / "raw"), help="the exports to copy (default data/raw)")
    parser.add_argument("--config", default=str(ROOT / "config" / "salesplan.yaml"), help="settings file")
    parser.add_argument("--repeat", type=int, default=1, help="measure each this many times, keep the best")
    parser.add_argument(
        "--fits",
        choices=["earlier", "none"],
        default="earlier",
        help="the store of fitted series at the start of each run: what the forecasts of the same month "
        "one and two years before left there (earlier, a scheduled run's case), or nothing (none, a first run)",
    )
    args = parser.parse_args()

    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "data" / "raw"
    shutil.copytree(args.data, raw)
    (work / "data" / "interim").mkdir(parents=True)
    config = Path(args.config).resolve()
    env = os.environ | {"SALESPLAN_ROOT": str(work), "PYTHONWARNINGS": "ignore"}
    names = pack_names()
    print(f"salesplan monthly run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    print(f"load average (1/5/15 min) at the start: {load()}", flush=True)
    warm = subprocess.run(
        [PYTHON, "-c", WARM, str(raw), str(config)], env=env, check=True, capture_output=True, text=True
    )
    month = warm.stdout.strip().splitlines()[-1]
    fits = None
    if args.fits == "earlier":
        year, mm = (int(part) for part in month.split("-"))
        earlier = [f"{year - back}-{mm:02d}" for back in (2, 1)]
        subprocess.run([PYTHON, "-c", EARLIER, str(raw), str(config), *earlier], env=env, check=True)
        fits = work / "fits-earlier"
        shutil.copytree(work / "data" / "interim" / "fits", fits)
        print(f"fitted series stored: the forecasts of {' and '.join(earlier)} (untimed)", flush=True)
    else:
        print("fitted series stored: none (a first run)", flush=True)

    # Floor, run, floor: the load of a shared machine changes within minutes, so the run is
    # compared with the mean of the floors taken just before and just after it.
    pairs = []
    before = floor_once(work, names, env)
    print(f"  floor: {before:.1f} s ({len(names)} x import-only notebook), load {load()}", flush=True)
    for _ in range(args.repeat):
        run = run_once(work, raw, config, env, fits)
        print(f"  run:   {run[0]:.1f} s, load {load()}", flush=True)
        after = floor_once(work, names, env)
        print(f"  floor: {after:.1f} s, load {load()}", flush=True)
        pairs.append(((before + after) / 2, run))
        before = after
    floor, (seconds, per_notebook) = min(pairs, key=lambda pair: pair[1][0] / pair[0])
    print(f"load average (1/5/15 min) at the end:   {load()}")
    print("\nper notebook, seconds (run.json; the floor per notebook is its import-only kernel):")
    for name, sec in per_notebook.items():
        print(f"  {name:<20} {sec:6.1f}   {sec / (floor / len(names)):4.1f}x")
    ratio = seconds / floor
    verdict = "within" if ratio <= TARGET else "above"
    print(
        f"\nmonthly run {seconds:.1f} s against the kernel floor {floor:.1f} s "
        f"({len(names)} notebooks): {ratio:.2f}x, {verdict} the {TARGET}x target"
    )


if __name__ == "__main__":
    main()
