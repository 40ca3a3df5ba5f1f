"""Writing shared files and folders so that readers never see them half-written: stage next to
the target, then move into place in one ``os.replace``.

Rule: every writer of a published or shared file or folder that others may read meanwhile (the
reports index, a report page, the validated-data cache, the stored aggregates, stored plans and
workbooks) stages and replaces through :func:`replace_atomically` (one file) or
:func:`replace_folder_atomically` (one folder).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replace_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``path`` without readers ever seeing it half-written: yields a staging path next to
    it (same folder, so the same file system) to write to; when the block ends normally the
    staged file replaces ``path`` in one ``os.replace``. When the block raises, the staged file
    is removed and ``path`` keeps its old content (or stays absent)."""
    target = Path(path)
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield staged
        os.replace(staged, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()


@contextlib.contextmanager
def replace_folder_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build the folder ``path`` without readers ever seeing it half-built: yields an empty
    staging folder next to it (``.<first 16 characters of the name>-<random>``, same file
    system) to fill; when the block ends normally the staged folder becomes ``path`` in one
    ``os.replace``. When the block raises, the staged folder is removed.

    Rule: the first complete folder wins. A folder cannot replace a non-empty one in one step,
    so when ``path`` already holds one (another process built the same content meanwhile, as
    concurrent kernels do with a cache entry), that one is kept and the staged one removed:
    the callers store content keyed by its inputs, so both are the same.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name[:16]}-", dir=target.parent))
    try:
        yield staged
        # Not empty (or a file): another writer stored it first; theirs is as good as ours.
        with contextlib.suppress(OSError):
            os.replace(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def remove_folder(path: str | os.PathLike[str]) -> None:
    """Remove the folder ``path`` if it exists, readers never seeing it half-removed: it is
    first renamed aside (one ``os.replace``), then deleted. Gone already (another process
    removed it) is not an error."""
    target = Path(path)
    if not target.exists():
        return
    aside = target.with_name(f".{target.name[:16]}-removed-{uuid.uuid4().hex[:8]}")
    try:
        os.replace(target, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)
