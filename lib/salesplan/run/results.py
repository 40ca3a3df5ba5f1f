"""What a run reports: one result per notebook and the run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NotebookResult:
    """What happened to one notebook in a run."""

    name: str
    status: str  # ok | failed | not_run
    title: str = ""
    started: str | None = None
    duration_s: float | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    ipynb: str | None = None
    headlines: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    parameter_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every parameter the notebook declares: its effective ``value``, its ``source`` ("run",
    "-p/-f" or "notebook default"), the pack's declared ``default`` and ``what_if`` (stated on the page)."""
    template_changes: list[str] = field(default_factory=list)
    """Where the notebook's parameter defaults differ from those ``pack.yaml`` declares."""
    files: list[str] = field(default_factory=list)
    """Files the notebook wrote into the report folder (relative paths), carried with its page."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """``stderr`` output of the executed notebook (kept in the .ipynb, never shown on the page)."""
    run_started: str | None = None
    """Start of the run that executed the notebook (this run, or an earlier one for a carried page)."""
    from_run: str | None = None
    """For a page carried over from the previous report of the month: the start of the run that
    executed it; None for a notebook this run executed."""


@dataclass
class RunResult:
    """The outcome of a run: month, where the report is and per-notebook results."""

    month: str
    report_dir: Path
    index: Path
    notebooks: list[NotebookResult]
    duration_s: float
    status: str = "ok"
