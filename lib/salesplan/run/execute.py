"""Executing notebooks: papermill on the project's kernel, one notebook at a time or side by
side in dependency order, with stop signals, cell timeouts and the clean-up of kernels.

Papermill runs each notebook in its own kernel; ``jobs > 1`` runs them in forked worker
processes. SIGINT and SIGTERM raise :class:`~salesplan.run.errors.RunInterrupted` in the main
thread (:func:`stop_signals`) so whatever the run started is stopped and nothing half-built stays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from salesplan.run.errors import RunInputError, RunInterrupted

KERNEL_NAME = "salesplan"
"""The project's Jupyter kernel: the notebooks' metadata, JupyterLab, nbval and the run all use it."""
KERNEL_DISPLAY_NAME = "Python (salesplan)"
# Folders of the run's kernel sockets in the temporary folder: prefix, runner pid, random part.
SOCKETS_PREFIX = "salesplan-kernels-"

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Command-line options of every notebook's kernel (see _execute).
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise RunInterrupted(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """While active, SIGINT and SIGTERM raise :class:`RunInterrupted` in the main thread, so a
    run stopped by Ctrl-C, ``kill`` or a scheduler cleans up (kernels, half-built folder, lock)
    before the process exits. Outside the main thread (signals cannot be handled there) it
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of acting on them while the block runs (the swap that
    publishes a report, the clean-up after a stop): the caller decides afterwards. Yields the
    list the signals received are appended to."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.signal(signum, lambda n, _f: received.append(n)) for signum in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ignore_interrupts_in_worker() -> None:
    # Pool workers share the terminal's process group: Ctrl-C reaches them too. The parent
    # decides what to stop; a Python-level handler (not SIG_IGN) so that kernels started by
    # the worker still get the default SIGINT behaviour (handlers are reset on exec). SIGTERM,
    # which the parent sends to stop a worker, just ends it (a forked worker would otherwise
    # inherit the parent's handler and print a traceback on the way out).
    signal.signal(signal.SIGINT, lambda _n, _f: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _descendants() -> dict[int, float]:
    """This process's descendants (kernels, pool workers): pid -> create time."""
    import psutil  # a dependency of ipykernel, so present wherever notebooks run

    found = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            found[proc.pid] = proc.create_time()
    return found


def _stop_processes(before: Mapping[int, float], grace_s: float = 5.0) -> int:
    """Terminate the descendants started since ``before`` (a :func:`_descendants` snapshot):
    the run's kernels and pool workers, not processes the caller had already started.
    SIGTERM first, SIGKILL after ``grace_s``. Returns how many processes were stopped."""
    import psutil

    mine = []
    for pid, created in _descendants().items():
        if before.get(pid) != created:
            with contextlib.suppress(psutil.Error):
                mine.append(psutil.Process(pid))
    for proc in mine:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(mine, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    return len(mine)


def check_kernel(name: str = KERNEL_NAME) -> str:
    """The kernelspec folder of the project's kernel; :class:`RunInputError` when it is not
    registered or starts another environment's Python than this one (a user kernelspec left by
    another checkout would run its library, not this one)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise RunInputError(
            f"the notebooks' kernel {name!r} is not registered: run `make kernel` (or `salesplan lab --register-only`)"
        ) from None
    python = Path(spec.argv[0]) if spec.argv else None
    if python is not None and python.is_absolute() and python.parent.parent.resolve() != Path(sys.prefix).resolve():
        raise RunInputError(
            f"the kernel {name!r} ({spec.resource_dir}) starts {python}, not this environment's Python "
            f"({sys.executable}): run `make kernel` (or `salesplan lab --register-only`) to register it again"
        )
    return spec.resource_dir


def register_kernel(*, user: bool = True) -> list[Path]:
    """Register the project's kernel (:data:`KERNEL_NAME`) for this environment's Python: in the
    environment (found first by everything started from it: the run, ``make lab``, nbval) and,
    with ``user``, in the user's Jupyter folder, where VS Code and a system-wide Jupyter find it.
    Returns the kernelspec folders written."""
    from ipykernel.kernelspec import install

    places = [install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix)]
    if user:
        places.append(install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, user=True))
    return [Path(p) for p in places]


def _first_line(source: str) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _execute(
    src: str,
    dst: str,
    parameters: dict[str, str],
    cwd: str,
    timeout: float | None,
    kernel_address: str,
    kernel: Any = None,
) -> dict[str, Any]:
    """Run one notebook with papermill; return start, duration and error details (picklable).
    The kernel listens on Unix sockets ``<kernel_address>-<n>``, a path unique to this notebook
    in a folder the run removes when it ends. ``kernel``: a kernel manager already started for
    this notebook (:class:`StartedKernel`), used instead of starting one; the caller shuts it down."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    # debugpy inside ipykernel warns about frozen modules on every kernel start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # papermill's parameter-parsing warnings are redundant: the runner passes only the names
    # it found in the parameters cell (declared_parameters).
    logging.getLogger("papermill").setLevel(logging.ERROR)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            src,
            dst,
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=cwd,
            progress_bar=False,
            log_output=False,
            execution_timeout=timeout,
            # ipykernel logs a transport warning on every start and an interrupt notice at shutdown;
            # keep the run output to progress lines (errors in cells reach us through papermill).
            extra_arguments=list(KERNEL_ARGUMENTS),
            # Unix sockets, not TCP ports: a TCP port is picked free, released, then bound by the
            # kernel, and a kernel started at the same moment by another worker can take it in
            # between ("Address already in use", kernel dead).
            config=Config({"KernelManager": {"transport": "ipc", "ip": kernel_address}}),
            **({"km": kernel} if kernel is not None else {}),
        )
    except PapermillExecutionError as exc:
        error = {
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "first_line": _first_line(exc.source),
            "ename": exc.ename,
            "evalue": exc.evalue,
        }
    except Exception as exc:  # dead kernel, cell timeout, unreadable notebook: all end this notebook
        # Where the kernel died or the time ran out: the cell papermill started last.
        cell_index, cell = running_cell(dst)
        error = {
            "cell_index": cell_index,
            "execution_count": cell.get("execution_count") if cell else None,
            "first_line": _first_line(cell.source) if cell else "",
            "ename": type(exc).__name__,
            "evalue": str(exc),
        }
    return {"started": started, "duration_s": round(time.perf_counter() - t0, 2), "error": error}


def running_cell(path: str | os.PathLike[str]) -> tuple[int | None, nbformat.NotebookNode | None]:
    """The cell that was executing when a notebook stopped: the last cell papermill started in
    the (possibly partially written) output notebook ``path``. Its index and the cell, or
    ``(None, None)`` when no cell had started or there is no readable notebook."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # missing or half-written file: nothing to point at
        return None, None
    # papermill saves the notebook at every cell start; its clean-up then marks even the cell
    # the kernel died in "completed", but cells after it never get a start time.
    started = [
        (index, cell)
        for index, cell in enumerate(nb.cells)
        if (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
    ]
    return started[-1] if started else (None, None)


def describe_error(name: str, error: Mapping[str, Any]) -> str:
    """One readable sentence: which notebook, which cell, which error ("died" when the kernel did)."""
    where = ""
    if error.get("cell_index") is not None:
        where = f" in cell {error['cell_index']}"
        if error.get("first_line"):
            where += f" ({error['first_line']!r})"
    evalue = str(error.get("evalue", "")).strip()
    verb = "died" if error.get("ename") == "DeadKernelError" else "failed"
    return f"notebook {name} {verb}{where}: {error.get('ename', 'Error')}: {evalue}"


def _sweep_kernel_sockets() -> list[str]:
    """Remove the kernel socket folders of runs whose process is gone (killed with SIGKILL,
    which leaves no chance to clean up). Returns one phrase per folder removed."""
    import psutil

    found = []
    for folder in sorted(Path(tempfile.gettempdir()).glob(f"{SOCKETS_PREFIX}*")):
        match = re.fullmatch(re.escape(SOCKETS_PREFIX) + r"(\d+)-\w+", folder.name)
        if not match or not folder.is_dir():
            continue
        pid = int(match.group(1))
        try:
            # A live process with that pid may be a newer one that reused it.
            alive = psutil.Process(pid).create_time() <= folder.stat().st_mtime + 1
        except (psutil.Error, OSError):
            alive = False
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                found.append(f"kernel sockets {folder.name} removed")
    return found


@dataclass(frozen=True)
class Job:
    """One notebook to execute: papermill's source and output, the values to inject, the
    working folder, the per-cell timeout and the kernel's socket path (see :func:`_execute`);
    ``preload``: modules a kernel started ahead imports besides the notebook's own
    (:class:`StartedKernel`)."""

    name: str
    source: str
    output: str
    parameters: dict[str, Any]
    cwd: str
    timeout: float | None
    kernel_address: str
    preload: tuple[str, ...] = ()

    def arguments(self) -> tuple:
        return (self.source, self.output, self.parameters, self.cwd, self.timeout, self.kernel_address)


def page_imports(source: str | os.PathLike[str]) -> list[tuple[str, list[str]]]:
    """The modules a notebook's code cells import at their top level, as ``(module, names)``
    pairs for ``__import__(module, fromlist=names)`` (``names`` empty for ``import module``).
    Cells that do not parse (magics) and relative imports are left out."""
    import ast

    found: dict[str, list[str]] = {}
    try:
        nb = nbformat.read(source, as_version=4)
    except Exception:  # unreadable notebook: papermill reports it when it runs
        return []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.setdefault(alias.name, [])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = found.setdefault(node.module, [])
                names.extend(a.name for a in node.names if a.name != "*" and a.name not in names)
    return list(found.items())


def kernel_imports(job: Job) -> list[tuple[str, list[str]]]:
    """What a kernel started ahead for ``job`` imports: the notebook's own top-level imports
    (:func:`page_imports`), then the pack's ``preload`` for it, the heavy libraries the page's
    library calls import on first use (statsforecast for the forecast, scipy.stats for the
    commission simulation), which would otherwise be paid inside a cell."""
    own = page_imports(job.source)
    named = {module for module, _names in own}
    return own + [(module, []) for module in job.preload if module not in named]


def preload_code(imports: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Code a kernel runs as it starts (IPython's ``exec_lines``, before it reports ready),
    importing ``imports`` and binding no name: the page then finds a fresh kernel's namespace
    with a warm import cache. A module that fails to import is left to the page's own import
    cell, which reports it where the reader looks."""
    lines = []
    for module, names in imports:
        lines += ["try:", f"    __import__({module!r}, fromlist={list(names)!r})", "except Exception:", "    pass"]
    return "\n".join(lines)


class StartedKernel:
    """The kernel of the next notebook, started while the current one runs (``--jobs 1``), so
    that its start and the page's imports (pandas, matplotlib, the library: seconds per page)
    overlap the current page instead of adding to the run. Started for one job (its working
    folder and socket path); :meth:`shutdown` stops it, whether or not it was used."""

    def __init__(self, job: Job) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.name = job.name
        # As _execute: debugpy inside ipykernel warns about frozen modules on every start.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        self.manager = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=job.kernel_address)
        # papermill does not close the clients of a kernel it was handed: kept here to close.
        self.clients: list[Any] = []
        make_client = self.manager.client

        def client(**kwargs: Any) -> Any:
            self.clients.append(make_client(**kwargs))
            return self.clients[-1]

        self.manager.client = client  # type: ignore[method-assign]
        arguments = [*KERNEL_ARGUMENTS, "--HistoryManager.hist_file=:memory:"]
        preload = preload_code(kernel_imports(job))
        if preload:
            arguments.append(f"--IPKernelApp.exec_lines={preload}")
        # Returns once the process is launched; the kernel boots and imports on its own.
        run_sync(self.manager.start_kernel)(extra_arguments=arguments, cwd=job.cwd)

    def shutdown(self) -> None:
        """Close its clients' channels and stop the kernel (asked first, killed after the
        manager's grace time; the manager then removes its connection files)."""
        self._close_clients()
        self._stop_kernel()

    def shutdown_in_background(self) -> threading.Thread:
        """:meth:`shutdown` with the kernel's exit in a thread (the asked-for exit takes about
        a second, which the next notebook need not wait for); the clients are closed here, in
        the thread whose event loop they were opened on. The caller joins the thread before
        the run ends."""
        self._close_clients()
        thread = threading.Thread(target=self._stop_kernel, name=f"stop kernel {self.name}", daemon=True)
        thread.start()
        return thread

    def _close_clients(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):  # already closed
                client.stop_channels()
        self.clients.clear()

    def _stop_kernel(self) -> None:
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):  # already gone: nothing to stop
            run_sync(self.manager.shutdown_kernel)(now=False)


def sequential_order(jobs: Sequence[Job], waits_for: Mapping[str, set[str]]) -> list[str]:
    """The order one worker runs ``jobs`` in: at each step the first ready job in the given
    order (:func:`salesplan.run.pack.run_order`), so the next job is known before the current ends."""
    from salesplan.run.pack import run_order

    position = {job.name: i for i, job in enumerate(jobs)}
    order = run_order({job.name: waits_for.get(job.name, set()) for job in jobs})
    sequence: list[str] = []
    ready: list[str] = []
    while order.is_active():
        ready = sorted([*ready, *order.get_ready()], key=position.__getitem__)
        name = ready.pop(0)
        sequence.append(name)
        order.done(name)
    return sequence


def execute_jobs(
    jobs: Sequence[Job],
    waits_for: Mapping[str, set[str]],
    *,
    workers: int,
    on_start: Callable[[str], None],
    on_finish: Callable[[str, dict[str, Any]], bool],
) -> None:
    """Execute ``jobs`` (in their order as far as ``waits_for`` allows), up to ``workers`` at
    once, each after the jobs it waits for (:func:`salesplan.run.pack.run_order`).

    ``on_start(name)`` is called as a job starts; ``on_finish(name, outcome)`` as it ends, and
    returns False when the run must start nothing more (a notebook failed: later notebooks build
    on the same data); the jobs already running are let finish. One worker runs in this process;
    more run in forked worker processes, each papermill owning its kernel and event loop. On any
    exception (a stop signal included) the workers and their kernels are stopped, then it is raised.
    """
    from salesplan.run.pack import run_order

    position = {job.name: i for i, job in enumerate(jobs)}
    by_name = {job.name: job for job in jobs}
    if workers == 1:
        _execute_in_turn([by_name[name] for name in sequential_order(jobs, waits_for)], on_start, on_finish)
        return
    order = run_order({job.name: waits_for.get(job.name, set()) for job in jobs})
    ready: list[str] = []
    # Forked workers start with the runner's imports in place (spawn re-imports for seconds);
    # they only drive papermill, and kernels are fresh processes, so nothing touches state
    # inherited from the parent's thread pools (pyarrow reading the data).
    before = _descendants()
    going = True
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("fork"), initializer=_ignore_interrupts_in_worker
    ) as pool:
        try:
            running: dict[Any, str] = {}
            while order.is_active():
                ready = sorted([*ready, *order.get_ready()], key=position.__getitem__)
                while going and ready and len(running) < workers:
                    name = ready.pop(0)
                    on_start(name)
                    running[pool.submit(_execute, *by_name[name].arguments())] = name
                if not running:
                    break
                future = next(as_completed(running))
                name = running.pop(future)
                going = on_finish(name, future.result()) and going
                order.done(name)
        except BaseException:
            # Stop the workers and their kernels now: leaving the pool's block would otherwise
            # wait for every running notebook to end.
            with _signals_held():
                _stop_processes(before)
            raise


def _execute_in_turn(
    sequence: Sequence[Job],
    on_start: Callable[[str], None],
    on_finish: Callable[[str, dict[str, Any]], bool],
) -> None:
    """Execute ``sequence`` one after another in this process (``--jobs 1``), each notebook's
    kernel started (and its imports done) while the notebook before it runs
    (:class:`StartedKernel`). Stops after a notebook for which ``on_finish`` returns False; on
    any exception, a stop signal included, the kernel started ahead is stopped, then it is raised.
    A finished notebook's kernel stops while the next one runs; all have stopped on return."""
    ahead: StartedKernel | None = None
    stopping: list[threading.Thread] = []
    try:
        for i, job in enumerate(sequence):
            kernel, ahead = ahead or _start_kernel(job), None
            on_start(job.name)
            try:
                if i + 1 < len(sequence):
                    ahead = _start_kernel(sequence[i + 1])
                outcome = _execute(*job.arguments(), kernel=kernel.manager if kernel else None)
            finally:
                if kernel is not None:
                    stopping.append(kernel.shutdown_in_background())
            if not on_finish(job.name, outcome):
                return
    finally:
        with _signals_held():
            if ahead is not None:
                ahead.shutdown()
            for thread in stopping:
                thread.join()


def _start_kernel(job: Job) -> StartedKernel | None:
    """:class:`StartedKernel` for ``job``; None when it cannot start, leaving papermill to
    start the kernel itself and report why it cannot, as a failed notebook."""
    try:
        return StartedKernel(job)
    except Exception:  # noqa: BLE001 - reported by papermill's own start of the kernel
        return None
