"""Faults of the unattended monthly run: stopped by a signal, killed, a kernel dying, bad
options, and a run of some notebooks next to a published month (on stand-in notebooks)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from test_runner import MONTH, make_notebook, tree_digest

from salesplan import cli
from salesplan import run as runner

pytestmark = pytest.mark.slow  # runs killed, stopped and timed out with real kernels: make test-all

SLOW_CELL = (
    "import os, pathlib, time\n"
    "pathlib.Path({pid_file!r}).write_text(str(os.getpid()))\n"
    "print('started', flush=True)\n"
    "time.sleep(120)"
)


def cli_script(folder: Path, reports: Path, jobs: int) -> str:
    """``salesplan run`` with the month's notebooks replaced by stand-ins (no data to load)."""
    return (
        "import sys\n"
        "from salesplan import cli\nfrom salesplan import run as runner\n"
        "def run_month(month=None, **kw):\n"
        f"    return runner.run_notebooks({MONTH!r}, runner.discover_notebooks({str(folder)!r}),\n"
        f"        parameters={{'month': {MONTH!r}}}, reports_dir=kw['reports_dir'], jobs=kw['jobs'],\n"
        "        progress=kw['progress'])\n"
        "runner.run_month = run_month\n"
        f"sys.exit(cli.main(['run', '--reports', {str(reports)!r}, '--jobs', '{jobs}']))\n"
    )


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize(
    ("signum", "to_group", "jobs", "code"),
    [
        (signal.SIGTERM, False, 1, 143),  # `kill PID`, a scheduler's timeout
        (signal.SIGINT, True, 1, 130),  # Ctrl-C in a terminal reaches the whole process group
        (signal.SIGTERM, False, 2, 143),  # notebooks side by side in pool workers
    ],
    ids=["sigterm", "sigint", "sigterm-jobs2"],
)
def test_a_stop_signal_stops_kernels_removes_the_build_and_releases_the_lock(
    tmp_path: Path, signum: int, to_group: bool, jobs: int, code: int
) -> None:
    folder = tmp_path / "notebooks"
    pid_file = tmp_path / "kernel.pid"
    make_notebook(folder / "00_quick.ipynb", "month = None", ["print('quick')"])
    make_notebook(folder / "01_slow.ipynb", "month = None", [SLOW_CELL.format(pid_file=str(pid_file))])
    reports = tmp_path / "reports"
    previous = reports / MONTH
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("previous", encoding="utf-8")
    before = tree_digest(previous)

    proc = subprocess.Popen(
        [sys.executable, "-c", cli_script(folder, reports, jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(pid_file, proc)
        kernel = int(pid_file.read_text())
        assert psutil.pid_exists(kernel)
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, (out, err)
    name = signal.Signals(signum).name
    assert re.search(rf"stopped by {name} while running (00_quick, )?01_slow: its kernel\(s\) stopped", err), err
    assert "half-built report removed" in err and "lock released" in err
    assert f"the published report {MONTH} is untouched" in err
    assert "Traceback" not in err
    assert gone(kernel), "the kernel is still running"
    assert tree_digest(previous) == before
    assert sorted(p.name for p in reports.iterdir()) == [MONTH]  # no build, no lock file, no .failed
    with runner.run_lock(reports, MONTH):  # released
        pass


def test_a_killed_run_is_cleaned_up_by_the_next_one_which_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    pid_file = tmp_path / "kernel.pid"
    make_notebook(folder / "00_slow.ipynb", "month = None", [SLOW_CELL.format(pid_file=str(pid_file))])
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-c", cli_script(folder, reports, 1)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(pid_file, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
        proc.wait(timeout=30)
    builds = [p.name for p in reports.glob(f".tmp-{MONTH}-*")]
    assert builds
    # ipykernel notices its parent is gone and exits by itself.
    assert gone(int(pid_file.read_text()), seconds=30)

    make_notebook(folder / "00_slow.ipynb", "month = None", ["print('quick')"])
    lines: list[str] = []
    runner.run_notebooks(
        MONTH, runner.discover_notebooks(folder), parameters={}, reports_dir=reports, progress=lines.append
    )
    (found,) = [line for line in lines if "remains of an interrupted run" in line]
    assert re.search(
        rf"Found the remains of an interrupted run of {MONTH} \(.*{builds[0]} removed.*\); cleaned up", found
    )
    assert sorted(p.name for p in reports.iterdir()) == [MONTH, "index.html"]


def test_a_dead_kernel_is_reported_with_its_notebook_and_cell(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(folder / "00_ok.ipynb", "month = None", ["print('fine')"])
    make_notebook(
        folder / "01_dies.ipynb",
        "month = None",
        ["x = 1", "import ctypes\nctypes.string_at(0)  # segfault", "print('never')"],
    )
    with pytest.raises(runner.NotebookFailedError) as info:
        runner.run_notebooks(
            MONTH, runner.discover_notebooks(folder), parameters={}, reports_dir=tmp_path / "r", progress=None
        )
    message = str(info.value)
    assert message.startswith("notebook 01_dies.ipynb died in cell 3 ('import ctypes'): DeadKernelError"), message
    failed = json.loads((tmp_path / "r" / f"{MONTH}.failed" / "run.json").read_text(encoding="utf-8"))
    error = failed["notebooks"][1]["error"]
    assert error["cell_index"] == 3 and error["first_line"] == "import ctypes"


def test_a_cell_timeout_names_the_cell(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(folder / "00_slow.ipynb", "month = None", ["import time\ntime.sleep(30)  # too slow"])
    with pytest.raises(runner.NotebookFailedError, match=r"00_slow.ipynb failed in cell 2 \('import time'\)"):
        runner.run_notebooks(
            MONTH,
            runner.discover_notebooks(folder),
            parameters={},
            reports_dir=tmp_path / "r",
            timeout=2,
            progress=None,
        )


# --------------------------------------------------------------------------- options


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample company of its own, so the checks that load data do not depend on data/raw."""
    from salesplan.sample import write_sample

    folder = tmp_path_factory.mktemp("faults") / "raw"
    write_sample(folder, scale=0.02)
    return folder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "0"], "must be at least 1"),
        (["--jobs", "two"], "expected a whole number"),
        (["--timeout", "30.5"], "expected a whole number"),
        (["--month", "2026-13"], "expected YYYY-MM"),
        (["--only", "99"], "no notebook matches '99'"),
        (["--data", "no/such/folder"], "does not exist"),
        (["--plan", "v99"], "--plan"),
        (["-p", "no_such_parameter", "1"], "unknown parameter"),
    ],
    ids=["jobs-0", "jobs-text", "timeout-fraction", "month", "only-unknown", "data-missing", "plan-unknown", "param"],
)
def test_invalid_options_exit_2_before_anything_runs(
    tmp_path: Path, small_data: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    reports = tmp_path / "reports"
    data = [] if "--data" in argv else ["--data", str(small_data)]
    try:
        code = cli.main(["run", "--reports", str(reports), *data, *argv])
    except SystemExit as exc:  # refused by the argument parser
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert not reports.exists()  # nothing locked, built or published


# --------------------------------------------------------------------------- runs of some notebooks


def three_notebooks(folder: Path, tag: str) -> None:
    make_notebook(folder / "00_check.ipynb", "month = None", [f"print('check {tag}')"], title="Check")
    make_notebook(
        folder / "01_flags.ipynb",
        "month = None\noutput_dir = None",
        [
            "from pathlib import Path\n"
            f"Path(output_dir, 'flags.csv').write_text('{tag}')\n"
            "(Path(output_dir) / 'forecast').mkdir(exist_ok=True)\n"
            f"(Path(output_dir) / 'forecast' / 'meta.json').write_text('{tag}')",
        ],
        title="Flags",
    )
    make_notebook(folder / "02_review.ipynb", "month = None", [f"print('review {tag}')"], title="Review")


def page_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_of_some_notebooks_keeps_the_other_pages_of_the_month(tmp_path: Path, jobs: int) -> None:
    folder, reports = tmp_path / "notebooks", tmp_path / "reports"
    three_notebooks(folder, "first")
    pack = runner.discover_notebooks(folder)
    first = runner.run_notebooks(MONTH, pack, parameters={}, reports_dir=reports, jobs=jobs, progress=None, pack=pack)
    month_dir = first.report_dir
    info = json.loads(page_text(month_dir / "run.json"))
    files = {n["name"]: n["files"] for n in info["notebooks"]}
    assert "flags.csv" in files["01_flags"] and "forecast/meta.json" in files["01_flags"]
    assert files["00_check"] == [] or jobs > 1  # side by side a file may be recorded for both

    three_notebooks(folder, "second")
    lines: list[str] = []
    second = runner.run_notebooks(
        MONTH, runner.select_notebooks(pack, "00"), parameters={}, reports_dir=reports, progress=lines.append, pack=pack
    )
    assert [n.name for n in second.notebooks] == ["00_check", "01_flags", "02_review"]
    assert sorted(p.name for p in month_dir.iterdir()) == [
        "00_check.html",
        "00_check.ipynb",
        "01_flags.html",
        "01_flags.ipynb",
        "02_review.html",
        "02_review.ipynb",
        "flags.csv",
        "forecast",
        "index.html",
        "run.json",
    ]
    assert "check second" in page_text(month_dir / "00_check.html")
    assert "review first" in page_text(month_dir / "02_review.html")  # carried, not re-run
    assert page_text(month_dir / "flags.csv") == "first" and page_text(month_dir / "forecast" / "meta.json") == "first"
    info = json.loads(page_text(month_dir / "run.json"))
    by_name = {n["name"]: n for n in info["notebooks"]}
    assert by_name["00_check"]["from_run"] is None and by_name["00_check"]["run_started"] == info["started"]
    for name in ("01_flags", "02_review"):
        assert by_name[name]["from_run"] == first_started(first) and by_name[name]["status"] == "ok"
    when = f"{first_started(first)[:16].replace('T', ' ')} UTC"
    index = page_text(month_dir / "index.html")
    assert index.count(f"from the run of {when}") == 2
    assert any(f"01_flags: page kept from the run of {when}" in line for line in lines)

    # Carried again: the page keeps the run it really came from; a re-run replaces its files.
    third = runner.run_notebooks(
        MONTH, runner.select_notebooks(pack, "01"), parameters={}, reports_dir=reports, progress=None, pack=pack
    )
    assert page_text(month_dir / "flags.csv") == "second"
    info = json.loads(page_text(month_dir / "run.json"))
    by_name = {n["name"]: n for n in info["notebooks"]}
    assert by_name["02_review"]["from_run"] == first_started(first)
    assert by_name["00_check"]["from_run"] == first_started(second)
    assert by_name["01_flags"]["from_run"] is None
    assert [n.name for n in third.notebooks] == ["00_check", "01_flags", "02_review"]


def first_started(result: runner.RunResult) -> str:
    """The start of the run that produced ``result`` (every page it executed shares it)."""
    return next(n.run_started for n in result.notebooks if n.from_run is None)


def test_a_notebook_dropped_from_the_pack_is_not_carried(tmp_path: Path) -> None:
    folder, reports = tmp_path / "notebooks", tmp_path / "reports"
    three_notebooks(folder, "first")
    pack = runner.discover_notebooks(folder)
    runner.run_notebooks(MONTH, pack, parameters={}, reports_dir=reports, progress=None, pack=pack)
    smaller = [p for p in pack if not p.stem.startswith("02")]
    result = runner.run_notebooks(
        MONTH, runner.select_notebooks(smaller, "00"), parameters={}, reports_dir=reports, progress=None, pack=smaller
    )
    assert [n.name for n in result.notebooks] == ["00_check", "01_flags"]
    assert not (result.report_dir / "02_review.html").exists()


def test_a_failed_run_of_some_notebooks_leaves_the_month_as_it_was(tmp_path: Path) -> None:
    folder, reports = tmp_path / "notebooks", tmp_path / "reports"
    three_notebooks(folder, "first")
    pack = runner.discover_notebooks(folder)
    runner.run_notebooks(MONTH, pack, parameters={}, reports_dir=reports, progress=None, pack=pack)
    before = tree_digest(reports / MONTH)
    make_notebook(folder / "00_check.ipynb", "month = None", ["1 / 0"])
    with pytest.raises(runner.NotebookFailedError):
        runner.run_notebooks(
            MONTH, runner.select_notebooks(pack, "00"), parameters={}, reports_dir=reports, progress=None, pack=pack
        )
    assert tree_digest(reports / MONTH) == before
    executed = nbformat.read(reports / f"{MONTH}.failed" / "00_check.ipynb", as_version=4)
    assert executed.metadata.papermill["exception"]
