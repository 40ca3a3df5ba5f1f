"""Carrying pages over: a run of some notebooks (``--only``) adds or replaces just their pages
and keeps the other pages of the month's published report, with the files each one wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from salesplan.run.results import NotebookResult


def _is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in Path(rel).parts)


def _snapshot(folder: Path, skip: set[str]) -> dict[str, tuple[int, int]]:
    """Files under ``folder`` (relative path -> mtime, size), without ``skip`` and hidden files
    (lock files of the library's caches are not part of a report)."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if rel in skip or _is_hidden(rel) or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            st = path.stat()
            found[rel] = (st.st_mtime_ns, st.st_size)
    return found


def read_run_info(report_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``run.json`` of a published report, or None when there is none or it is unreadable."""
    try:
        info = json.loads((Path(report_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def carry_over(
    previous_dir: Path,
    build: Path,
    ran: set[str],
    keep: Sequence[str] | None = None,
) -> list[NotebookResult]:
    """Copy the pages of the published report ``previous_dir`` that this run did not rebuild
    into ``build``, with the files each notebook wrote (recorded per notebook in run.json);
    return their results, marked with the run they came from.

    A run of some notebooks (``--only``) thus adds or replaces just those pages and never
    removes the others. ``ran``: the notebooks this run executed; ``keep``: the notebooks of
    the declared pack (None: every notebook of the previous report), so a notebook dropped
    from the pack is not carried forever. A file the run wrote itself is never overwritten.
    """
    info = read_run_info(previous_dir)
    if info is None:
        return []
    entries = [e for e in info.get("notebooks", []) if isinstance(e, Mapping) and e.get("status") == "ok"]
    carried = []
    fields = set(NotebookResult.__dataclass_fields__)
    for entry in entries:
        name = str(entry.get("name", ""))
        if not name or name in ran or (keep is not None and name not in keep):
            continue
        result = NotebookResult(**{k: v for k, v in entry.items() if k in fields})
        result.run_started = entry.get("run_started") or info.get("started")
        result.from_run = entry.get("from_run") or result.run_started
        files = [f for f in (result.html, result.ipynb, *result.files) if f]
        if "files" not in entry:
            # A report from before files were recorded per notebook: carry every file no
            # notebook page accounts for, so nothing a notebook wrote is lost.
            pages = {f for e in entries for f in (e.get("html"), e.get("ipynb")) if f}
            extra = _snapshot(previous_dir, {"run.json", "index.html", *pages})
            result.files = sorted(extra)
            files += result.files
        for rel in files:
            source, target = previous_dir / rel, build / rel
            if _is_hidden(rel) or not source.is_file() or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        carried.append(result)
    return carried
