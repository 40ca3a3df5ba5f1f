"""The run's parts on their own: the pack model, the dependency order, the run lock, the atomic
file and folder replacement, the kernel started ahead and the entry function's steps in their
order (no kernel started here)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from salesplan import files
from salesplan import run as runner
from salesplan.run import execute, monthly

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("pass"))
    nbformat.write(nb, path)
    return path


def _month_run(reports: Path, notebooks: list | None = None, **fields) -> monthly.MonthRun:
    """A run of 2026-10 with nothing declared or given, reporting into ``reports``."""
    return monthly.MonthRun(
        month="2026-10",
        notebooks=notebooks or [],
        declared={},
        parameters={},
        user={},
        changes={},
        reports=reports,
        keep=None,
        say=lambda _line: None,
        started="",
        clock=0.0,
        **fields,
    )


@pytest.mark.parametrize(
    ("pack", "named"),
    [
        ("notebooks:\n  - name: 00_a\n    colour: red\n", r"notebooks\[0\]\.colour: unknown key \(known: name, reads"),
        ("notebooks:\n  - reads: [data]\n", r"notebooks\[0\]\.name: required key missing"),
        ("notebooks:\n  - name: 00_a\n    reads: 3\n", r"notebooks\[0\]\.reads: expected a list of names \(got 3\)"),
        ("notebooks:\n  - name: 00_a\n    defaults: [1]\n", r"notebooks\[0\]\.defaults: expected a mapping"),
        ("defaults: {}\nnotebook: []\n", r"notebooks: required key missing; notebook: unknown key \(known: notebooks"),
        ("notebooks:\n  - name: 00_a\n  - name: 00_a\n", r"00_a listed more than once"),
        ("notebooks:\n  - name: 00_a\n    preload: [scipy stats]\n", r"preload: not a module name: 'scipy stats'"),
        ("- 00_a\n", r"the file: expected a mapping"),
    ],
)
def test_a_bad_pack_file_is_refused_naming_the_key_and_the_rule(tmp_path: Path, pack: str, named: str) -> None:
    _notebook(tmp_path / "00_a.ipynb")
    (tmp_path / "pack.yaml").write_text(pack, encoding="utf-8")
    with pytest.raises(runner.RunInputError, match=r"pack\.yaml: not a valid pack declaration \(.*" + named) as info:
        runner.load_pack(tmp_path)
    assert info.value.exit_code == 2


def test_a_good_pack_file_merges_shared_and_own_defaults(tmp_path: Path) -> None:
    _notebook(tmp_path / "00_a.ipynb")
    _notebook(tmp_path / "01_b.ipynb")
    (tmp_path / "pack.yaml").write_text(
        "defaults: {month: null, scenario: base}\n"
        "notebooks:\n  - name: 01_b\n    reads: [x]\n    defaults: {scenario: stretch}\n  - name: 00_a\n    writes:\n",
        encoding="utf-8",
    )
    b, a = runner.load_pack(tmp_path)
    assert (b.name, b.reads, b.defaults) == ("01_b", ("x",), {"month": None, "scenario": "stretch"})
    assert (a.name, a.writes, a.defaults) == ("00_a", (), {"month": None, "scenario": "base"})


def test_run_order_follows_the_waits_and_refuses_a_cycle() -> None:
    order = runner.run_order({"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}})
    first = order.get_ready()
    assert first == ("a",)
    order.done("a")
    assert sorted(order.get_ready()) == ["b", "c"]
    order.done("b")
    assert order.get_ready() == ()  # d still waits for c
    order.done("c")
    assert order.get_ready() == ("d",)
    with pytest.raises(runner.RunInputError, match=r"in a circle \((x -> y -> x|y -> x -> y)\)"):
        runner.run_order({"x": {"y"}, "y": {"x"}, "z": set()})


def test_dependencies_come_from_earlier_writers_only(tmp_path: Path) -> None:
    pack = [
        runner.PackEntry(tmp_path / "00_a.ipynb", reads=("forecast",), writes=("data",)),
        runner.PackEntry(tmp_path / "01_b.ipynb", reads=("data",), writes=("forecast",)),
        runner.PackEntry(tmp_path / "02_c.ipynb", reads=("data", "forecast"), writes=()),
    ]
    # 00_a reads what 01_b writes later: in pack order it is not there yet, so 00_a does not wait.
    assert runner.dependencies(pack) == {"00_a": set(), "01_b": {"00_a"}, "02_c": {"00_a", "01_b"}}


def _hold_lock(reports: str, month: str, held, release) -> None:
    with runner.run_lock(reports, month):
        held.set()
        release.wait(30)


def test_a_second_run_of_the_same_month_is_refused_naming_the_holder(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), "2026-10", held, release))
    holder.start()
    try:
        assert held.wait(30)
        busy = rf"another run of 2026-10 is in progress \(pid {holder.pid}, started "
        with pytest.raises(runner.LockError, match=busy), runner.run_lock(tmp_path, "2026-10"):
            pass
        with runner.run_lock(tmp_path, "2026-09") as other:  # another month is free
            assert other.name == ".2026-09.lock"
    finally:
        release.set()
        holder.join(30)
    with runner.run_lock(tmp_path, "2026-10") as path:  # free again once the holder is done
        assert path.read_text(encoding="utf-8").split("\n")[0] == str(os.getpid())
    assert not path.exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), "2026-10", held, release))
    holder.start()
    assert held.wait(30)
    holder.kill()
    holder.join(30)
    assert (tmp_path / ".2026-10.lock").exists()
    with runner.run_lock(tmp_path, "2026-10"):
        pass


def test_replace_atomically_keeps_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_text("old page", encoding="utf-8")
    with pytest.raises(RuntimeError), runner.replace_atomically(target) as staged:
        staged.write_text("half a new pa", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]  # nothing staged left behind
    with runner.replace_atomically(target) as staged:
        staged.write_text("new page", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old page"  # readers see the old one meanwhile
    assert target.read_text(encoding="utf-8") == "new page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_the_entry_function_runs_its_steps_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    steps: list[str] = []

    def step(name: str, value=None):
        def record(*_args, **_kwargs):
            steps.append(name)
            return value

        return record

    fake_run = _month_run(tmp_path)
    monkeypatch.setattr(monthly, "load_chosen_pack", step("load the pack", ([], [])))
    monkeypatch.setattr(monthly, "open_month", step("open the month", monthly.SettledMonth("2026-10", [], {})))
    monkeypatch.setattr(monthly, "prepare_run", step("prepare", fake_run))
    monkeypatch.setattr(monthly, "open_build", step("open the build"))
    monkeypatch.setattr(monthly, "execute_notebooks", step("execute"))
    monkeypatch.setattr(monthly, "collect_pages", step("collect the pages", []))
    monkeypatch.setattr(monthly, "record_run", step("record", {"duration_s": 1.0}))
    monkeypatch.setattr(monthly, "refuse_failed_run", step("refuse a failed run"))
    monkeypatch.setattr(monthly, "write_indexes", step("write the index", tmp_path / "index.html"))
    monkeypatch.setattr(monthly, "publish", step("publish"))

    result = monthly.run_month("2026-10", reports_dir=tmp_path)

    assert steps == [
        "load the pack",
        "open the month",
        "prepare",
        "open the build",
        "execute",
        "collect the pages",
        "record",
        "refuse a failed run",
        "write the index",
        "publish",
    ]
    assert (result.month, result.report_dir) == ("2026-10", tmp_path / "2026-10")
    assert not (tmp_path / ".2026-10.lock").exists()  # the steps ran under the lock, released after


def test_the_run_replaces_files_through_the_one_base_helper() -> None:
    assert runner.replace_atomically is files.replace_atomically


def test_a_folder_is_replaced_whole_and_the_first_complete_one_wins(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "entry"
    with pytest.raises(RuntimeError), files.replace_folder_atomically(target) as staged:
        (staged / "half.parquet").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []  # nothing staged left behind
    with files.replace_folder_atomically(target) as staged:
        (staged / "meta.json").write_text("first", encoding="utf-8")
        assert not target.exists()  # readers see no half-built folder meanwhile
    assert (target / "meta.json").read_text(encoding="utf-8") == "first"
    with files.replace_folder_atomically(target) as staged:  # another writer, later, same content
        (staged / "meta.json").write_text("second", encoding="utf-8")
    assert (target / "meta.json").read_text(encoding="utf-8") == "first"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["entry"]


def test_a_page_kernel_preloads_the_pages_imports_without_binding_names(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import json as js\nfrom collections import OrderedDict, deque\nfrom . import x"),
        nbformat.v4.new_code_cell("%matplotlib inline"),
        nbformat.v4.new_code_cell("import not_a_module_anywhere\nfrom collections import deque"),
    ]
    nbformat.write(nb, tmp_path / "page.ipynb")
    imports = execute.page_imports(tmp_path / "page.ipynb")
    assert imports == [("json", []), ("collections", ["OrderedDict", "deque"]), ("not_a_module_anywhere", [])]
    namespace: dict = {}
    exec(execute.preload_code(imports), namespace)  # the missing module is left to the page to report
    assert set(namespace) == {"__builtins__"}


def test_a_kernel_started_ahead_also_imports_what_the_pack_preloads_for_its_page(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import json\nfrom collections import deque")]
    nbformat.write(nb, tmp_path / "01_b.ipynb")
    (tmp_path / "pack.yaml").write_text(
        "notebooks:\n  - name: 01_b\n    preload: [json, decimal, email.utils]\n", encoding="utf-8"
    )
    (entry,) = runner.load_pack(tmp_path)
    assert entry.preload == ("json", "decimal", "email.utils")
    job = execute.Job("01_b", str(entry.path), "", {}, str(tmp_path), None, "", entry.preload)
    # The page's own imports first, then what the pack adds, each module once.
    assert execute.kernel_imports(job) == [
        ("json", []),
        ("collections", ["deque"]),
        ("decimal", []),
        ("email.utils", []),
    ]


def test_the_packs_preloaded_modules_exist() -> None:
    import importlib.util

    for entry in runner.load_pack():
        for module in entry.preload:
            assert importlib.util.find_spec(module) is not None, f"{entry.name}: preload {module} is not installed"


def test_one_worker_starts_the_next_kernel_while_the_current_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    class Kernel:
        def __init__(self, job: execute.Job) -> None:
            self.name, self.manager = job.name, f"kernel of {job.name}"
            events.append(f"start {job.name}")

        def shutdown(self) -> None:
            events.append(f"stop {self.name}")

        def shutdown_in_background(self) -> threading.Thread:
            thread = threading.Thread(target=self.shutdown)
            thread.start()
            thread.join()  # in order, for the record below
            return thread

    def run(*arguments, kernel=None) -> dict:
        events.append(f"run {Path(arguments[0]).stem} on {kernel}")
        return {"error": None}

    monkeypatch.setattr(execute, "_start_kernel", Kernel)
    monkeypatch.setattr(execute, "_execute", run)
    jobs = [
        execute.Job(n, f"{n}.ipynb", f"out/{n}.ipynb", {}, ".", None, f"/tmp/{n}") for n in ("00_a", "01_b", "02_c")
    ]
    execute.execute_jobs(
        jobs, {"02_c": {"00_a"}}, workers=1, on_start=lambda _n: None, on_finish=lambda n, _o: n != "01_b"
    )
    assert events == [
        "start 00_a",
        "start 01_b",  # ahead, before 00_a runs
        "run 00_a on kernel of 00_a",
        "stop 00_a",
        "start 02_c",
        "run 01_b on kernel of 01_b",
        "stop 01_b",
        "stop 02_c",  # 01_b ended the run: the kernel started ahead is stopped, never used
    ]


def test_the_order_of_one_worker_follows_the_pack_as_far_as_the_waits_allow() -> None:
    jobs = [execute.Job(n, "", "", {}, ".", None, "") for n in ("00_a", "01_b", "02_c")]
    assert execute.sequential_order(jobs, {"00_a": {"02_c"}}) == ["01_b", "02_c", "00_a"]
    assert execute.sequential_order(jobs, {}) == ["00_a", "01_b", "02_c"]


def test_opening_the_month_leaves_matplotlib_unloaded_until_a_chart_comes(sample_raw: Path, tmp_path: Path) -> None:
    # A fresh interpreter: this one has matplotlib loaded by other tests.
    code = (
        "import sys\n"
        "from salesplan.workbook import open_workbook\n"
        f"open_workbook(None, {str(sample_raw)!r}, {str(ROOT / 'config' / 'salesplan.yaml')!r})\n"
        "print('matplotlib' in sys.modules)\n"
        "import matplotlib.pyplot as plt\n"
        "from salesplan.plots import PALETTE\n"
        "print(plt.rcParams['axes.prop_cycle'].by_key()['color'] == PALETTE, tuple(plt.rcParams['figure.figsize']))\n"
    )
    env = os.environ | {"SALESPLAN_ROOT": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False", "True (9.0, 4.2)"]


@pytest.mark.parametrize(("writes", "jobs"), [(("forecast",), 1), ((), 1), (("forecast",), 2)])
def test_the_forecast_is_fitted_ahead_only_for_a_notebook_that_writes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, writes: tuple[str, ...], jobs: int
) -> None:
    """The background fit starts with the forecast notebook's own values and is stopped when
    the notebooks end; a run without that notebook, or running notebooks side by side, starts none."""
    from salesplan.run import ahead
    from salesplan.run.results import NotebookResult

    calls: list[tuple[str, object]] = []
    values = {"month": "2026-10", "data_dir": "data/raw", "config_path": "c.yaml", "plan_version": None}
    monkeypatch.setattr(ahead, "start", lambda parameters, cwd: calls.append(("start", dict(parameters))) or "proc")
    monkeypatch.setattr(ahead, "stop", lambda process: calls.append(("stop", process)))
    monkeypatch.setattr(monthly, "execute_jobs", lambda *a, **k: calls.append(("execute", None)))
    entry = runner.PackEntry(_notebook(tmp_path / "03_f.ipynb"), reads=("data",), writes=writes)
    run = _month_run(tmp_path, [(entry, NotebookResult("03_f", "not_run", parameters=values))], build=tmp_path)
    monthly.execute_notebooks(run, jobs=jobs, timeout=None, cwd=tmp_path)
    if writes and jobs == 1:
        assert calls == [("start", values), ("execute", None), ("stop", "proc")]
    else:
        assert calls == [("execute", None), ("stop", None)]


@pytest.mark.slow  # fits the sample's forecast twice over
def test_fitting_ahead_leaves_the_forecast_page_nothing_to_fit(
    sample_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After :func:`salesplan.run.ahead.fit_ahead`, the page's forecast and backtest read every
    series from the store, and the forecast is the one fitted without a store."""
    import pandas as pd

    from salesplan.forecast import engine, summary_backtest
    from salesplan.run import ahead
    from salesplan.workbook import open_workbook

    monkeypatch.setenv("SALESPLAN_ROOT", str(tmp_path))
    monkeypatch.setattr("salesplan.config.PROJECT_ROOT", tmp_path)
    monkeypatch.setattr("salesplan.workbook.PROJECT_ROOT", tmp_path, raising=False)
    config = str(ROOT / "config" / "salesplan.yaml")
    ahead.fit_ahead("2026-10", str(sample_raw), config)
    assert any((tmp_path / "data" / "interim" / "fits").rglob("*.npz"))
    page = open_workbook("2026-10", sample_raw, config, output_dir=tmp_path / "run")
    monkeypatch.setattr(engine, "_fit_chunk", lambda args: pytest.fail(f"the page fitted {args[0][0][0]}"))
    fc = page.forecast()
    summary_backtest(fc, page.settings.forecast, store=page.fit_store)
    monkeypatch.undo()
    fresh = open_workbook("2026-10", sample_raw, config, output_dir=tmp_path / "fresh", use_cache=False)
    assert fresh.fit_store is None
    pd.testing.assert_frame_equal(fc.forecast, fresh.forecast().forecast)


PARENT_OF_AHEAD = """\
import sys, time
from salesplan.run import ahead
process = ahead.start({"month": "2026-10", "data_dir": sys.argv[1], "config_path": sys.argv[2]}, sys.argv[3])
print(process.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.slow  # a run killed on purpose
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_process_fitting_ahead_ends_with_a_run_killed_outright(sample_raw: Path, tmp_path: Path) -> None:
    """SIGKILL leaves the run no chance to stop what it started: the fitting process stops itself."""
    import psutil

    env = os.environ | {"SALESPLAN_ROOT": str(tmp_path)}
    config = str(ROOT / "config" / "salesplan.yaml")
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_OF_AHEAD, str(sample_raw), config, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = None
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        deadline = time.monotonic() + 60
        # Killed once it is past its start-up, importing or fitting.
        while child.is_running() and child.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            if child.cpu_times().user > 1.5:
                break
            time.sleep(0.2)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE, "the fitting process ended too soon"
        parent.kill()
        parent.wait(timeout=10)
        gone, alive = psutil.wait_procs([child], timeout=20)
        still = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not still, "the fitting process outlived the run killed with SIGKILL"
    finally:
        parent.kill()
        if child is not None:
            with contextlib.suppress(psutil.Error):
                child.kill()
