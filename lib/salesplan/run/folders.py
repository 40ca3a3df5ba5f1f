"""The reports folder: the run lock, building aside and swapping in, recovering after a killed
run. The one way a file is replaced so that readers never see it half-written,
:func:`replace_atomically`, lives in :mod:`salesplan.files` and is re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from salesplan.files import replace_atomically
from salesplan.month import Month
from salesplan.run.errors import LockError

__all__ = ["replace_atomically", "report_months", "run_lock"]


@contextlib.contextmanager
def run_lock(reports_dir: str | os.PathLike[str], month: str | Month) -> Iterator[Path]:
    """Hold the exclusive lock ``reports_dir/.YYYY-MM.lock`` for one run of ``month``.

    A ``filelock`` lock (``flock`` underneath): the kernel drops it when its holder dies, so a
    lock file left by a killed run is stale by construction and simply taken over. The holder
    writes its pid and start time into the file; a second run of the same month does not wait
    but raises :class:`LockError` naming them.
    """
    from filelock import FileLock, Timeout

    folder = Path(reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{month}.lock"

    def stamp(fd: int) -> None:
        # Written through the lock's own descriptor, under the lock: a contender reads it whole.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{datetime.now(UTC).isoformat(timespec='seconds')}\n".encode(), 0)

    lock = FileLock(path, timeout=0, mode=0o644, thread_local=False, on_acquired=stamp)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = path.read_text(encoding="utf-8", errors="replace").split("\n")
        except OSError:
            holder = []
        pid = holder[0] if holder and holder[0] else "?"
        since = holder[1] if len(holder) > 1 and holder[1] else "?"
        raise LockError(
            f"another run of {month} is in progress (pid {pid}, started {since}); lock file {path}"
        ) from None
    try:
        yield path
    finally:
        # Unlinked while still held: a contender that opened this file meanwhile finds it
        # unlinked once it gets the lock and starts over on a fresh one (filelock checks).
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        lock.release()


def _recover(reports_dir: Path, month: str) -> list[str]:
    """Clean up after a run of ``month`` that was killed (caller holds the month's lock).

    A kill between the two renames of the swap leaves only the backup: put it back.
    Leftover build and backup folders are then removed. Returns one phrase per thing found
    (empty when there was nothing), for the run to say what it cleaned up.
    """
    found = []
    final = reports_dir / month
    backups = sorted(reports_dir.glob(f".old-{month}-*"), key=lambda p: p.stat().st_mtime)
    if not final.exists() and backups:
        restored = backups.pop()
        os.rename(restored, final)
        found.append(f"the published report {month} restored from {restored.name}")
    for leftover in [*backups, *sorted(reports_dir.glob(f".tmp-{month}-*"))]:
        shutil.rmtree(leftover, ignore_errors=True)
        kind = "half-built report" if leftover.name.startswith(".tmp-") else "old copy"
        found.append(f"{kind} {leftover.name} removed")
    return found


def _swap_in(build: Path, final: Path) -> None:
    """Replace ``final`` by ``build``; at every instant one complete report is in place or
    recoverable (see :func:`_recover`)."""
    backup = None
    if final.exists():
        backup = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, backup)
    os.rename(build, final)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _keep_failed(build: Path, month: str) -> Path:
    failed = build.parent / f"{month}.failed"
    if failed.exists():
        shutil.rmtree(failed)
    os.rename(build, failed)
    return failed


def report_months(reports_dir: str | os.PathLike[str]) -> list[str]:
    """Months with a complete report (``YYYY-MM/index.html``) in ``reports_dir``, newest first."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    return sorted(
        (p.name for p in folder.iterdir() if p.is_dir() and Month.is_month(p.name) and (p / "index.html").exists()),
        reverse=True,
    )
