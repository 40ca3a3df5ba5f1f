"""Headline figures a notebook publishes for the monthly run's index page.

A notebook calls :func:`headline` with a few already formatted figures. The call shows a
small table in the notebook and, in the same output, a JSON payload under the MIME type
:data:`HEADLINE_MIME`. The runner reads that payload from the executed notebook to build
the run's index page; HTML exports and JupyterLab show the table, never the raw JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

HEADLINE_MIME = "application/vnd.salesplan.headline+json"

STATUSES = ("green", "yellow", "red", "dark_red", "ahead")
"""Statuses a headline figure may carry: each shown apart, under its own word ("ahead" is not
"green", "dark red" is not "red")."""


def status_style() -> dict[str, tuple[str, str, str]]:
    """Colour, symbol and readable text colour per status, from :mod:`salesplan.status`
    (colour-blind-safe; the symbol means the status never depends on colour alone)."""
    from salesplan.status import STATUS_COLOURS, STATUS_SYMBOLS, STATUS_TEXT  # numpy: import when used

    return {status: (STATUS_COLOURS[status], STATUS_SYMBOLS[status], STATUS_TEXT[status]) for status in STATUSES}


CARD_CLASS = "card"
"""The class every card carries, on a notebook page as on the index (``"card primary"``: the
page's headline). The page and index stylesheets (``templates/_card_style.css.j2``) lay a card
out for desktop, phone and print; the browser test finds the headline card by this class."""


_FIGURE_KEYS = {"label", "value", "raw", "note", "status"}


class HeadlineError(ValueError):
    """A headline figure is missing a field or holds a value of the wrong kind."""


def _clean_raw(raw: Any, where: str) -> float | int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, Real):
        raise HeadlineError(f"{where}: 'raw' must be a number or None, got {type(raw).__name__}")
    value = raw.item() if hasattr(raw, "item") else raw  # numpy scalars -> Python numbers for JSON
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; an undefined figure has no raw value
    return value


def normalise_figures(figures: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check headline figures and return them as plain JSON-ready dicts.

    Each figure needs ``label`` and ``value`` (both strings, ``value`` already formatted);
    ``raw`` is a number or None, ``note`` an optional string and ``status`` one of
    green / yellow / red / dark_red / ahead or None.
    """
    if isinstance(figures, Mapping | str):
        raise HeadlineError("figures must be a list of dicts, one per figure")
    out: list[dict[str, Any]] = []
    for i, fig in enumerate(figures):
        where = f"headline figure {i}"
        if not isinstance(fig, Mapping):
            raise HeadlineError(f"{where}: must be a dict, got {type(fig).__name__}")
        unknown = set(fig) - _FIGURE_KEYS
        if unknown:
            raise HeadlineError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {sorted(_FIGURE_KEYS)}"
            )
        for key in ("label", "value"):
            if not isinstance(fig.get(key), str):
                raise HeadlineError(f"{where}: {key!r} must be a string (format numbers before publishing)")
        status = fig.get("status")
        if status is not None and status not in STATUSES:
            raise HeadlineError(f"{where} ({fig['label']}): status {status!r} is not one of {', '.join(STATUSES)}")
        note = fig.get("note")
        if note is not None and not isinstance(note, str):
            raise HeadlineError(f"{where} ({fig['label']}): 'note' must be a string")
        out.append(
            {
                "label": fig["label"],
                "value": fig["value"],
                "raw": _clean_raw(fig.get("raw"), f"{where} ({fig['label']})"),
                "note": note or "",
                "status": status,
            }
        )
    return out


def headline_payload(title: str, figures: Sequence[Mapping[str, Any]], *, primary: bool = False) -> dict[str, Any]:
    """The JSON payload of a headline block: ``{"title", "primary", "figures"}``."""
    if not isinstance(title, str) or not title.strip():
        raise HeadlineError("headline title must be a non-empty string")
    return {"title": title, "primary": bool(primary), "figures": normalise_figures(figures)}


PERIOD_WORDS = {"month": "month", "ytd": "year to date", "quarter": "quarter", "half": "half-year"}
"""How a flag period is named on a page."""


def flag_count_figures(flag_counts: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Headline figures of the flag counts per period (``flag_counts``: period -> status ->
    items, as the retrospective's summary holds them), one figure per period: "Flags, month" =
    "32 dark red / 6 red / 3 yellow / 9 green / 22 ahead" (:func:`salesplan.status.counts_text`).
    Every status is counted apart: "red" never includes "dark red", "green" never "ahead"."""
    from salesplan.status import counts_text  # numpy/pandas: imported when used, not by the runner

    return [
        {
            "label": f"Flags, {PERIOD_WORDS.get(str(period), str(period))}",
            "value": counts_text(counts),
            "raw": None,
            "note": "items per status, most severe first",
            "status": None,
        }
        for period, counts in flag_counts.items()
    ]
