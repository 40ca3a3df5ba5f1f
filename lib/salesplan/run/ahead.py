"""The month's forecast fitted ahead, while the pages before the forecast page run.

With one notebook at a time, one core runs the page in progress and the other mostly waits.
When a notebook of such a run writes the ``forecast`` (``pack.yaml``), the run starts one
background process, at low priority, that fits the month's series, their P(hit) backtest
cuts and the forecast page's backtest into the store of fitted series
(:mod:`salesplan.forecast.fitstore`, ``data/interim/fits``). It writes nothing into the
report: the forecast page computes its forecast as always and finds the fits in the store
(fits of the same store are made one call at a time, so the page waits for a fit in
progress rather than repeating it). If the process fails or is stopped, the page fits what
is missing itself and reports any error where the reader looks.

    python -m salesplan.run.ahead MONTH DATA_DIR CONFIG_PATH [PLAN_VERSION]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

NICENESS = 10
"""How much lower than the pages the process runs: it only uses what they leave idle."""
PARENT_VARIABLE = "SALESPLAN_AHEAD_PARENT"
"""The run's process id, given to the process it starts (:func:`die_with_parent`)."""


def die_with_parent() -> None:
    """End this process when the run that started it ends, even killed with SIGKILL (which
    leaves the run no chance to stop it): Linux's ``PR_SET_PDEATHSIG`` asks for SIGTERM then.
    A run already gone before that request (its id no longer this process's parent) ends it
    at once. Elsewhere the run's own clean-up stops it."""
    import ctypes
    import signal

    parent = os.environ.get(PARENT_VARIABLE)
    if not sys.platform.startswith("linux") or not parent:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):
        os._exit(0)


def fit_ahead(month: str, data_dir: str, config_path: str, plan_version: str | None = None) -> None:
    """Fit the series the forecast page fits (the month's forecast with its P(hit) backtest,
    then the page's backtest of the total, regions and product lines) into the fit store,
    through the same calls the page makes. Nothing is kept but the fits."""
    from salesplan.forecast import summary_backtest
    from salesplan.workbook import open_workbook

    with tempfile.TemporaryDirectory(prefix="salesplan-ahead-") as scratch:
        wb = open_workbook(month, data_dir, config_path, plan_version, output_dir=scratch)
        if wb.fit_store is None:
            return
        summary_backtest(wb.forecast(), wb.settings.forecast, store=wb.fit_store)


def start(parameters: Mapping[str, Any], cwd: str | os.PathLike[str]) -> subprocess.Popen[bytes]:
    """Start :func:`fit_ahead` in a process of its own (which lowers its priority by
    :data:`NICENESS` as it starts), with the values
    the forecast notebook receives (``month``, ``data_dir``, ``config_path``, ``plan_version``).
    Its output is discarded: the page repeats any error."""
    command = [sys.executable, "-m", "salesplan.run.ahead", str(parameters["month"]), str(parameters["data_dir"])]
    command.append(str(parameters["config_path"]))
    if parameters.get("plan_version") not in (None, ""):
        command.append(str(parameters["plan_version"]))
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=os.environ | {PARENT_VARIABLE: str(os.getpid())},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes] | None, grace_s: float = 5.0) -> None:
    """Stop the process if it still runs (every page that needed it has ended): asked first,
    killed after ``grace_s``. A fit it was storing is written whole or not at all."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    die_with_parent()
    os.nice(NICENESS)
    fit_ahead(*sys.argv[1:5])
