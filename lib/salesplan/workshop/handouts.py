"""Printable handouts: one self-contained HTML page per exercise plus the glossary.

No external scripts, fonts or style sheets: the CSS is inline, so a page prints the same from a USB
stick as from the project. Each exercise page holds what a team needs at the table: the task, the
formula, the company's numbers for it, an empty worksheet and the vocabulary.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

from salesplan.files import replace_atomically
from salesplan.units import fmt_int, fmt_money, fmt_pct
from salesplan.workshop import checks
from salesplan.workshop.company import _build
from salesplan.workshop.exercises import EXERCISES, Exercise
from salesplan.workshop.glossary import glossary_table, term

STYLE = """
@page { size: A4; margin: 11mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif; font-size: 9.5pt;
       line-height: 1.3; color: #222; max-width: 186mm; margin: 0 auto; }
h1 { font-size: 14pt; margin: 0 0 1.5mm; } h2 { font-size: 11pt; margin: 4mm 0 1mm; border-bottom: 1px solid #999; }
p { margin: 1mm 0; } .teaches { color: #444; font-style: italic; }
pre { background: #f4f4f4; padding: 1.5mm 2.5mm; margin: 1mm 0; white-space: pre-wrap; font-size: 8.5pt; }
table { border-collapse: collapse; margin: 1mm 0; font-size: 8.5pt; }
th, td { border: 1px solid #aaa; padding: 0.4mm 1.8mm; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
table.sheet { width: 100%; table-layout: fixed; } table.sheet th:first-child { width: 24mm; }
table.sheet td.blank { height: 6mm; } table.sheet.wide { font-size: 8pt; } table.sheet.wide td.blank { height: 5mm; }
table.sheet.wide th:first-child { width: 12mm; }
.meta { font-size: 8.5pt; color: #333; } .data { display: flex; flex-wrap: wrap; gap: 0 4mm; align-items: flex-start; }
tr, pre, .meta, .ws { page-break-inside: avoid; break-inside: avoid; }
@media print { h2 { page-break-after: avoid; break-after: avoid; } table.sheet { page-break-inside: avoid; } }
"""

WIDE_SHEET = 6
"""A worksheet with more answer columns than this (the 12 months) prints in a smaller font with narrower
row labels, so all of its columns fit an A4 page."""


def _is_price(column: object) -> bool:
    return "price" in str(column).lower()


def _format_column(values: pd.Series, column: object) -> pd.Series:
    """One column as text: a unit price in whole currency units (a price is never shown in millions), an
    amount column (floats reaching 100,000) in M with 3 decimals, a whole-number column with thousands
    separators; ratios and factors as they are."""
    if _is_price(column) and pd.api.types.is_numeric_dtype(values):
        whole = bool((values.dropna() % 1 == 0).all())
        return values.map(lambda v: fmt_money(v, "", 0 if whole else 2))
    if pd.api.types.is_float_dtype(values) and values.abs().max() >= 1e5:
        return values.map(lambda v: fmt_money(v, "M", 3))
    if pd.api.types.is_integer_dtype(values) and values.abs().max() >= 1000:
        return values.map(fmt_int)
    return values


def _money_table(frame: pd.DataFrame) -> str:
    out = frame.copy()
    for c in out.columns:
        out[c] = _format_column(out[c], c)
    # A plain row number says nothing on paper; a named index (year, rep, region) is kept.
    plain = isinstance(out.index, pd.RangeIndex)
    return out.to_html(border=0, escape=True, index=not plain, na_rep="–")


def _worksheet(rows: list[str], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *columns])
    body = "".join(
        f"<tr><td>{html.escape(r)}</td>{''.join('<td class=blank></td>' for _ in columns)}</tr>" for r in rows
    )
    kind = "sheet wide" if len(columns) > WIDE_SHEET else "sheet"
    return f'<table class="{kind}"><tr>{head}</tr>{body}</table>'


def _pct_list(values: list[float]) -> str:
    return " / ".join(f"{v * 100:g}" for v in values) + " %"


def _settings_note(key: str) -> str:
    """The method's settings a part uses, stated from the library's defaults (never retyped here)."""
    cfg = _build().settings.targets
    levels = ", ".join(f"{k} {v:g}" for k, v in cfg.bottom_up.level_coefficient.items())
    ramp = f"new hires {_pct_list(list(cfg.ramp))} of a full quota in their 1st, 2nd, 3rd and later months on board"
    notes = {
        "1e": f"Personal growth rate: {fmt_pct(cfg.bottom_up.personal_growth, 0)}. Level coefficients: "
        f"{levels}. Ramp: {ramp}. A leaver carries nothing after the leave date.",
        "4a": f"Ramp: {ramp}. A leaver carries nothing after the leave date.",
        "4b": f"Level coefficients: {levels}. The regions' agreed years are exercise 2b's (the table), the split "
        "by potential this exercise builds on.",
        "4c": "Each rep's bottom-up number is exercise 1e's (the table); the regions' agreed years are 2b's (above, 4b).",
        "2b": "The agreed annual target: your answer to 2a.",
        "2c": f"Stretch coefficient (targets.stretch_pct): {fmt_pct(cfg.stretch_pct, 0)}. "
        "The agreed annual target: your answer to 2a.",
        "2d": f"Win rate (targets.process.fallback_win_rate) {fmt_pct(cfg.process.fallback_win_rate, 0)}; "
        f"visits per lead (targets.process.visits_per_lead) {cfg.process.visits_per_lead:g}. "
        "The revenue target: your agreed number from 2a.",
        "3d": "Your months from 3a and 3c, side by side.",
        "5d": f"A quarterly revision may move a quarter by at most {fmt_pct(cfg.revision_flag_share, 0)} "
        "(targets.revision_flag_share), up or down; more needs the exception procedure.",
        "3a": "The annual target: your agreed number from exercise 2 (2a).",
        "3b": f"Quarterly template: {_pct_list(list(cfg.phasing.quarterly_templates['front_loaded']))}. "
        "The annual target: your agreed number from exercise 2 (2a).",
    }
    seasons = cfg.phasing.seasonal_templates.get(cfg.phasing.season, [])
    if seasons:
        listed = "; ".join(
            f"{x.name} (months {', '.join(str(m) for m in x.months)}) {fmt_pct(x.share, 0)}" for x in seasons
        )
        notes["3c"] = f"Campaign seasons: {listed}. The annual target: your agreed number from exercise 2 (2a)."
    return f"<p class=meta>{html.escape(notes[key])}</p>" if key in notes else ""


def _dates(team: pd.DataFrame) -> pd.DataFrame:
    return team.assign(
        hire_date=team["hire_date"].dt.strftime("%Y-%m-%d"), leave_date=team["leave_date"].dt.strftime("%Y-%m-%d")
    )


def _data_for(key: str) -> str:
    """The company's numbers a part needs, as HTML tables. Never an answer of the page's own exercise:
    within an exercise the agreed target and the regions' targets come from the trainee's own earlier
    answers; exercise 4 starts from the agreed results of earlier exercises (1e's bottom-up numbers, 2b's
    split), as its notebook does (:func:`salesplan.workshop.checks.givens`)."""
    co = _build()
    tables: list[pd.DataFrame] = []
    if key == "1a":
        tables = [co.sales_by_year(), pd.DataFrame([co.increments])]
    elif key in ("1b", "1c"):
        tables = [pd.DataFrame([co.market])]
    elif key == "1d":
        t = co.sales_by_year("region")
        t["resource factor"] = t.index.map(lambda r: co.resource_factor.get(r, 1.0))
        t["potential index"] = t.index.map(co.potential_index)
        tables = [t]
    elif key == "1e":
        tables = [co.sales_by_year("rep_id"), _dates(co.team())]
    elif key == "2a":
        rec = checks.expected_reconciliation()
        return f"<p class=meta>Top-down weight w = {rec['weight']:g}</p>"
    elif key == "2d":
        # One row, a column per rate: each keeps its own unit (an amount, a share, a count).
        rates = checks.givens(2)["funnel"].to_frame().T.rename(index={"value": "funnel"})
        rates = rates.astype({"avg_deal": int}).rename(columns=lambda c: str(c).replace("_", " "))
        tables = [rates.rename(columns={"avg deal": "average deal"})]
    elif key == "3a":
        tables = [co.monthly_sales()]
    elif key == "3c":
        seasons = checks.givens(3)["seasons"]
        tables = [seasons.assign(months=seasons["months"].map(lambda ms: ", ".join(map(str, ms))))]
    elif key == "4a":
        tables = [_dates(co.team())]
    elif key == "4b":
        tables = [checks.givens(4)["region_targets"].to_frame("agreed year (2b)")]
    elif key == "4c":
        tables = [checks.givens(4)["rep_bottom_up"].to_frame("bottom-up (1e)")]
    elif key == "5a":
        tables = [co.retro.astype({"target": float, "actual": float})]
    elif key == "5b":
        tables = [
            co.pvm_plan.rename(columns={"net_amount": "plan amount"}),
            co.pvm_actual.rename(columns={"net_amount": "actual amount"}),
        ]
    elif key == "5d":
        tables = [checks.givens(5)["revision"]]
    body = "".join(f"<div>{_money_table(t)}</div>" for t in tables)
    return (f"<div class=data>{body}</div>" if body else "") + _settings_note(key)


def _sheet_for(key: str) -> str:
    co = _build()
    reps = list(co.team()["rep_id"])
    months = [str(m) for m in range(1, 13)]
    sheets = {
        "1a": (["CAGR", "baseline"], ["your answer"]),
        "1b": (["top-down"], ["your answer"]),
        "1c": (["top-down"], ["your answer"]),
        "1d": (co.regions, ["LY", "CAGR", "x factors", "bottom-up"]),
        "1e": (reps, ["LY annualised", "x growth x level", "x availability", "bottom-up"]),
        "2a": (["gap", "final"], ["your answer"]),
        "2b": (co.regions, ["share", "reconciled"]),
        "2c": (["base", "challenge", "flexible"], ["your answer"]),
        "2d": (["deals", "leads", "visits"], ["exact", "rounded up"]),
        "3a": (checks.MONTH_NAMES, ["index", "share", "target"]),
        "3b": (checks.MONTH_NAMES, ["share", "target"]),
        "3c": (checks.MONTH_NAMES, ["season", "share", "target"]),
        "3d": (checks.MONTH_NAMES, ["3a month", "3c month", "3c higher?"]),
        "4a": (reps, months),  # availability: rep x month
        "4b": (co.regions, ["capacity", "your answer"]),  # one row per region
        "4c": (reps, ["weight", "annual target"]),
        "5a": (list(co.retro["item"]), ["deviation", "status"]),
        "5b": (["volume", "price", "mix"], ["effect"]),
        "5c": (["why 1", "why 2", "why 3", "why 4", "why 5", "owner", "next step (by when)"], ["answer"]),
        "5d": (list(checks.givens(5)["revision"]["quarter"]), ["change", "within or exception"]),
    }
    rows, cols = sheets.get(key, (["answer"], ["your answer"]))
    return _worksheet(rows, cols)


def exercise_html(ex: Exercise) -> str:
    """One exercise as a self-contained HTML page (inline CSS, no scripts)."""
    parts = []
    for p in ex.parts:
        terms = ", ".join(html.escape(term(t)) for t in p.terms)
        parts.append(
            f"<h2>{p.key} {html.escape(p.title)}</h2><p>{html.escape(p.task)}</p><pre>{html.escape(p.formula)}</pre>"
            f"<p class=meta><b>Answer:</b> {html.escape(p.answer_form)} &nbsp; <b>Tolerance:</b> {html.escape(p.tolerance)}"
            f"<br><b>Terms:</b> {terms}</p>{_data_for(p.key)}<div class=ws><p class=meta><b>Worksheet</b></p>{_sheet_for(p.key)}</div>"
        )
    title = f"Exercise {ex.number}: {ex.title}"
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class=teaches>{html.escape(ex.teaches)} ({ex.minutes} min)</p>"
        f"<p class=meta>Company: {html.escape('; '.join(_build().notes))}. Amounts in currency units (M = million).</p>"
        f"{''.join(parts)}</body></html>"
    )


def glossary_html() -> str:
    """The glossary as a self-contained HTML page."""
    table = glossary_table().reset_index().to_html(index=False, border=0, escape=True)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Glossary 术语表</title>"
        f"<style>{STYLE} td {{ text-align: left; }}</style></head><body><h1>Glossary 术语表</h1>{table}</body></html>"
    )


def _write(path: Path, text: str) -> Path:
    # Written aside and renamed, so a page being printed is never half-replaced.
    with replace_atomically(path) as staged:
        staged.write_text(text, encoding="utf-8")
    return path


def build_handouts(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the handouts to ``out_dir`` (created if needed): ``NN_<slug>.html`` for each exercise and
    ``glossary.html``, each for A4 paper. Returns the paths written, in order. Existing files of the same
    names are replaced, each only once its new page is complete."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [_write(out / f"{ex.number:02d}_{ex.slug}.html", exercise_html(ex)) for ex in EXERCISES]
    written.append(_write(out / "glossary.html", glossary_html()))
    return written
