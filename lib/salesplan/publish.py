"""Headline figures a notebook publishes for the monthly run's index page.

A notebook calls :func:`headline` with a few already formatted figures. The call shows a
small table in the notebook and, in the same output, a JSON payload under the MIME type
:data:`HEADLINE_MIME`. The runner reads that payload from the executed notebook to build
the run's index page; HTML exports and JupyterLab show the table, never the raw JSON.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

HEADLINE_MIME = "application/vnd.salesplan.headline+json"

STATUSES = ("green", "yellow", "red", "dark_red", "ahead")
"""Statuses a headline figure may carry: each shown apart, under its own word ("ahead" is not
"green", "dark red" is not "red")."""


def status_style() -> dict[str, tuple[str, str, str]]:
    """Colour, symbol and readable text colour per status, from the shared chart theme
    (colour-blind-safe; the symbol means the status never depends on colour alone)."""
    # Imported here: the theme pulls in matplotlib, which the runner and CLI do not otherwise need.
    from salesplan.plots.base import RAG, RAG_SYMBOL, RAG_TEXT

    return {status: (RAG[status], RAG_SYMBOL[status], RAG_TEXT[status]) for status in STATUSES}


BADGE_STYLE = "font-weight:600;padding:0 6px;border-radius:9px;white-space:nowrap"
"""A status as a small coloured pill: the word stays readable on every status colour (yellow too)."""

CARD_CLASS = "card"
"""The class every card carries, on a notebook page as on the index (``"card primary"``: the
page's headline). The page and index stylesheets (``templates/_card_style.css.j2``) lay a card
out for desktop, phone and print; the browser test finds the headline card by this class."""

CARD_STYLE = (
    "background:#fff;border:1px solid #d9e2ec;border-radius:8px;padding:14px 16px;margin:12px 0;"
    "max-width:100%;color:#1f2933;text-align:left"
)
"""A card's frame inline, for where the page stylesheet is absent (JupyterLab): the same look."""

PRIMARY_STYLE = "border-left:6px solid #1f5f99"


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


def status_badge(status: str | None) -> str:
    """HTML for a status: coloured symbol plus the word (empty for no status), as a ``chip``."""
    if status is None:
        return ""
    colour, symbol, text = status_style()[status]
    from salesplan.status import status_word  # the one wording of statuses (numpy/pandas: import when used)

    word = status_word(status)
    return (
        f'<span class="chip" style="background:{colour};color:{text};{BADGE_STYLE}">{symbol} {html.escape(word)}</span>'
    )


def render_html(payload: Mapping[str, Any]) -> str:
    """One headline block as a card (all text escaped): the title, then one row per figure with
    label, value, and the status chip with the note under it.

    The markup is the index's card (``section.card``, ``table.figures``, ``td.value``,
    ``td.extra``, ``.chip``, ``.note``), so the page stylesheet lays it out as the index does: three
    columns on a desktop, on a phone the label above the value and the note under both. The
    inline styles give the same card in JupyterLab, where that stylesheet is not loaded."""
    rows = []
    for fig in payload["figures"]:
        note = f'<div class="note" style="color:#616e7c;font-size:0.85em">{html.escape(fig["note"])}</div>'
        rows.append(
            "<tr>"
            '<th scope="row" style="text-align:left;padding:2px 12px 2px 0;font-weight:normal">'
            f"{html.escape(fig['label'])}</th>"
            f'<td class="value" style="text-align:right;padding:2px 12px;font-weight:600">{html.escape(fig["value"])}</td>'
            f'<td class="extra" style="text-align:left;padding:2px 0">{status_badge(fig["status"])}'
            f"{note if fig['note'] else ''}</td>"
            "</tr>"
        )
    classes = (
        f"{CARD_CLASS} primary salesplan-headline" if payload.get("primary") else f"{CARD_CLASS} salesplan-headline"
    )
    style = f"{CARD_STYLE};{PRIMARY_STYLE}" if payload.get("primary") else CARD_STYLE
    return (
        f'<section class="{classes}" style="{style}">'
        f'<div class="card-title" style="font-weight:700;margin-bottom:6px">{html.escape(payload["title"])}</div>'
        f'<table class="figures" style="border-collapse:collapse">{"".join(rows)}</table></section>'
    )


def render_text(payload: Mapping[str, Any]) -> str:
    """The plain-text form of one headline block (label, value, status, note per line)."""
    figures = payload["figures"]
    width = max((len(f["label"]) for f in figures), default=0)
    lines = [payload["title"]]
    for fig in figures:
        extra = " ".join(part for part in (f"[{fig['status']}]" if fig["status"] else "", fig["note"]) if part)
        lines.append(f"  {fig['label']:<{width}}  {fig['value']}" + (f"  {extra}" if extra else ""))
    return "\n".join(lines)


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


def headline(title: str, figures: list[dict], *, primary: bool = False) -> None:
    """Show a headline block in the notebook and publish it for the run's index page.

    ``figures``: one dict per figure with ``label`` (str), ``value`` (str, formatted),
    ``raw`` (number or None), optional ``note`` (str) and ``status`` (green / yellow /
    red / dark_red / ahead / None). ``primary=True`` puts the block at the top of the index page.
    """
    from IPython.display import display

    payload = headline_payload(title, figures, primary=primary)
    display(
        {"text/plain": render_text(payload), "text/html": render_html(payload), HEADLINE_MIME: payload},
        raw=True,
    )
