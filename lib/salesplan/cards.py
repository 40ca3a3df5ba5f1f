"""Page components: the card, the status chip, prose, a collapsed log and the status legend.

A page's headline, plan statement and assumptions are cards, rendered here from the typed
objects the pages already hold (the retrospective's figures, the review's, the plan in force,
a table of settings), never by ``print()``. A card is the index's card: the markup is

``<section class="card [primary]"><h3 class="card-title">title</h3><table class="figures">``
one ``<tr>`` per figure: ``<th scope="row">label</th><td class="value">value</td>``
``<td class="extra"><span class="chip chip-STATUS">symbol word</span><div class="note">note</div></td>``

so the page and index stylesheets (``templates/_card_style.css.j2``) lay it out the same on a
screen, a phone and paper. Every text that comes from data is HTML-escaped; colours and
symbols come from :mod:`salesplan.status`, never from the data.

Each component is an object with ``_repr_html_`` (what a page shows) and a plain-text
``repr`` (what a notebook's text output and a test compare), so a cell shows it by naming it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesplan.status import STATUS_COLOURS, STATUS_TEXT, status_bands, status_label
from salesplan.units import is_missing


def _card_css() -> str:
    """The card stylesheet the published pages and the index use (``templates/_card_style.css.j2``,
    its template comments removed), so a card looks the same in JupyterLab as on the page."""
    text = (Path(__file__).parent / "templates" / "_card_style.css.j2").read_text(encoding="utf-8")
    return re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL).strip()


CARD_CSS = _card_css()

CARD_STATUSES = ("ahead", "green", "yellow", "red", "dark_red", "no_target")
"""Statuses a chip may carry."""


class CardError(ValueError):
    """A card figure is missing its label or value, or carries an unknown status."""


def _text(value: object) -> str:
    """A value as page text: "–" when missing, else its string form."""
    return "–" if is_missing(value) else str(value)


def chip(status: str | None) -> str:
    """The HTML chip of ``status``: its colour, readable text colour, symbol and word
    ("■ red"); empty for no status. The class ``chip chip-<status>`` (dark-red for dark_red) lets a stylesheet size it."""
    if status is None or is_missing(status) or str(status) in ("", "none"):
        return ""
    key = str(status)
    if key not in CARD_STATUSES:
        raise CardError(f"status {key!r} is not one of {', '.join(CARD_STATUSES)}")
    return (
        f'<span class="chip chip-{key.replace("_", "-")}" style="background: {STATUS_COLOURS[key]}; color: {STATUS_TEXT[key]}">'
        f"{html.escape(status_label(key))}</span>"
    )


@dataclass(frozen=True)
class Figure:
    """One line of a card: ``label``, formatted ``value``, optional ``status`` and ``note``."""

    label: str
    value: str
    status: str | None = None
    note: str = ""

    @classmethod
    def of(cls, figure: Figure | Mapping[str, Any], where: str = "figure") -> Figure:
        """A figure from a headline dict (``label``, ``value``, ``status``, ``note``; ``raw`` is
        ignored) or a :class:`Figure`; a missing label or value is refused by name."""
        if isinstance(figure, Figure):
            return figure
        if not isinstance(figure, Mapping):
            raise CardError(f"{where}: must be a dict or a Figure, got {type(figure).__name__}")
        for key in ("label", "value"):
            if key not in figure:
                raise CardError(f"{where}: missing {key!r}")
        status = figure.get("status")
        if status is not None and str(status) not in CARD_STATUSES:
            raise CardError(f"{where} ({figure['label']}): status {status!r} is not one of {', '.join(CARD_STATUSES)}")
        return cls(_text(figure["label"]), _text(figure["value"]), status, _text(figure.get("note") or ""))

    def html(self) -> str:
        """The figure's table row (label, value, chip and note), all text escaped."""
        note = f'<div class="note">{html.escape(self.note)}</div>' if self.note and self.note != "–" else ""
        return (
            f'<tr><th scope="row">{html.escape(self.label)}</th>'
            f'<td class="value">{html.escape(self.value)}</td>'
            f'<td class="extra">{chip(self.status)}{note}</td></tr>'
        )

    def text(self) -> str:
        """The figure as one plain line: "label: value [symbol word] (note)"."""
        parts = [f"{self.label}: {self.value}"]
        if self.status:
            parts.append(f"[{status_label(self.status)}]")
        if self.note and self.note != "–":
            parts.append(f"({self.note})")
        return " ".join(parts)


@dataclass(frozen=True)
class Card:
    """A titled card of figures; ``primary`` marks the page's headline (the answer)."""

    title: str
    figures: tuple[Figure, ...]
    primary: bool = False
    note: str = ""

    def html(self) -> str:
        """The card's markup (see the module's docstring), every text escaped."""
        rows = "".join(f.html() for f in self.figures)
        table = f'<table class="figures">{rows}</table>' if rows else ""
        note = f'<p class="note">{html.escape(self.note)}</p>' if self.note else ""
        kind = "card primary" if self.primary else "card"
        return f'<section class="{kind}"><h3 class="card-title">{html.escape(self.title)}</h3>{table}{note}</section>'

    def _repr_html_(self) -> str:
        # The stylesheet travels with the card: JupyterLab shows an output with its own table style
        # (striped, right-aligned), which would otherwise turn the card into a plain grid.
        return f"<style>{CARD_CSS}</style>{self.html()}"

    def __repr__(self) -> str:
        lines = [self.title, *(f"  {f.text()}" for f in self.figures)]
        return "\n".join([*lines, *([f"  {self.note}"] if self.note else [])])


def card(
    title: str,
    figures: Iterable[Figure | Mapping[str, Any]],
    *,
    primary: bool = False,
    note: str = "",
) -> Card:
    """A card of ``figures`` (headline dicts as the pages build them, or :class:`Figure`)."""
    return Card(str(title), tuple(Figure.of(f, f"{title}, figure {i}") for i, f in enumerate(figures)), primary, note)


def headline(title: str, figures: Sequence[Mapping[str, Any]], *, primary: bool = False) -> None:
    """Show a page's headline as a card and publish it for the run's index.

    The same figures as :func:`salesplan.publish.headline` (``label``, ``value``, ``raw``,
    ``note``, ``status``); the output carries the card (HTML), its plain text and the JSON
    payload the runner reads for the index (:data:`salesplan.publish.HEADLINE_MIME`)."""
    from IPython.display import display

    from salesplan.publish import HEADLINE_MIME, headline_payload

    payload = headline_payload(title, figures, primary=primary)
    display({"text/plain": render_text(payload), "text/html": payload_html(payload), HEADLINE_MIME: payload}, raw=True)


def payload_html(payload: Mapping[str, Any]) -> str:
    """A published headline block (:func:`salesplan.publish.headline_payload`) as its card, with
    the card stylesheet beside it so JupyterLab shows it as the page does."""
    return card(payload["title"], payload["figures"], primary=bool(payload.get("primary")))._repr_html_()


def render_text(payload: Mapping[str, Any]) -> str:
    """A published headline block as the card's plain text (what nbval compares)."""
    return repr(card(payload["title"], payload["figures"], primary=bool(payload.get("primary"))))


def plan_card(plan: Any, month: Any = None, title: str | None = None) -> Card:
    """The plan a page measured against, as a card: the plan's headline figure
    (``plan.headline_figure(month)``) with its full statement (``plan.describe(month)``) as
    the note. ``plan``: the plan in force (:class:`salesplan.plans.PlanInForce`)."""
    figure = plan.headline_figure(month) if month is not None else None
    statement = plan.describe(month) if month is not None else plan.describe()
    heading = title or "Plan measured against"
    if figure is None:
        return card(heading, [], note=statement)
    return card(heading, [{**figure, "note": statement}])


@dataclass(frozen=True)
class Prose:
    """Sentences for a page: plain lines become paragraphs, lines starting "- " a list."""

    text: str
    title: str = ""

    def html(self) -> str:
        """Paragraphs and lists, every line escaped; no monospace block."""
        out: list[str] = [f"<h4>{html.escape(self.title)}</h4>"] if self.title else []
        items: list[str] = []
        for line in self.text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("- ", "• ")):
                items.append(f"<li>{html.escape(stripped[2:])}</li>")
                continue
            if items:
                out.append(f"<ul>{''.join(items)}</ul>")
                items = []
            if stripped:
                out.append(f"<p>{html.escape(stripped)}</p>")
        if items:
            out.append(f"<ul>{''.join(items)}</ul>")
        return f'<div class="prose">{"".join(out)}</div>'

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


def prose(text: str | Iterable[str], title: str = "") -> Prose:
    """Text (a string or lines) as page prose (:class:`Prose`)."""
    return Prose(text if isinstance(text, str) else "\n".join(str(t) for t in text), title)


@dataclass(frozen=True)
class Log:
    """A deliberate log: the text inside a closed ``<details>`` under ``summary``."""

    text: str
    summary: str = "Log"

    def html(self) -> str:
        return (
            f'<details class="log"><summary>{html.escape(self.summary)}</summary>'
            f"<pre>{html.escape(self.text)}</pre></details>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text


def log(text: str, summary: str = "Log") -> Log:
    """``text`` as a collapsed log (:class:`Log`): on a page only when a reader opens it."""
    return Log(str(text), summary)


@dataclass(frozen=True)
class Legend:
    """The status legend of a page: every status's chip and what it means."""

    bands: dict[str, str] = field(default_factory=dict)

    def html(self) -> str:
        items = "".join(
            f'<li>{chip(s)} <span class="note">{html.escape(text)}</span></li>' for s, text in self.bands.items()
        )
        return (
            '<section class="card legend"><h3 class="card-title">Status colours</h3>'
            f'<ul style="list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 4px 16px">'
            f"{items}</ul></section>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return "Status colours: " + "; ".join(f"{status_label(s)}: {t}" for s, t in self.bands.items())


def legend(thresholds: Mapping[str, float] | None = None) -> Legend:
    """The page's one status legend, with the band limits of ``thresholds`` (the
    ``retro.thresholds`` settings) when given (:func:`salesplan.status.status_bands`)."""
    return Legend(status_bands(thresholds))


def settings_card(table: pd.DataFrame, title: str = "Settings used") -> Card:
    """A table of settings (``setting`` in words, ``key``, ``value``, as
    :func:`salesplan.config.assumptions_table` returns) as a card: the setting as label, its
    value (true / false as yes / no), and the key to override in config/salesplan.yaml as note."""
    words = {"True": "yes", "False": "no", "None": "–"}  # settings as a reader writes them
    rows = [
        Figure(
            _text(r.get("setting", r.get("key"))),
            words.get(_text(r.get("value")), _text(r.get("value"))),
            None,
            f"key {r['key']}" if "setting" in r and "key" in r else "",
        )
        for r in table.to_dict(orient="records")
    ]
    return Card(title, tuple(rows))


def counts_figures(counts: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str] | None = None) -> list[Figure]:
    """Flag counts per period (period -> status -> items) as figures, one per period:
    "32 dark red / 6 red / 3 yellow / 9 green / 22 ahead" (:func:`salesplan.status.counts_text`)."""
    from salesplan.status import counts_text

    names = dict(labels or {})
    return [Figure(names.get(str(p), str(p)), counts_text(c)) for p, c in counts.items()]
