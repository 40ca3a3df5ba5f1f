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

from salesplan.workshop import checks
from salesplan.workshop.company import _build
from salesplan.workshop.exercises import EXERCISES, Exercise
from salesplan.workshop.glossary import glossary_table, term

STYLE = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif; font-size: 11pt;
       color: #222; max-width: 190mm; margin: 10mm auto; }
h1 { font-size: 17pt; margin-bottom: 2mm; } h2 { font-size: 13pt; margin-top: 7mm; border-bottom: 1px solid #999; }
.teaches { color: #444; font-style: italic; }
pre { background: #f4f4f4; padding: 3mm; white-space: pre-wrap; font-size: 10pt; }
table { border-collapse: collapse; margin: 2mm 0; font-size: 9.5pt; }
th, td { border: 1px solid #aaa; padding: 1mm 2.5mm; text-align: right; }
th { background: #eee; } td.blank { min-width: 28mm; height: 6mm; }
td:first-child, th:first-child { text-align: left; }
.meta { font-size: 9.5pt; color: #333; }
@media print { h2 { page-break-after: avoid; } table, pre { page-break-inside: avoid; } }
"""


def _money_table(frame: pd.DataFrame) -> str:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]) and out[c].abs().max() >= 1000:
            out[c] = out[c].map(lambda v: f"{v / 1e6:,.3f} M")
    return out.to_html(border=0, escape=True)


def _worksheet(rows: list[str], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *columns])
    body = "".join(
        f"<tr><td>{html.escape(r)}</td>{''.join('<td class=blank></td>' for _ in columns)}</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _data_for(key: str) -> str:
    """The company's numbers a part needs, as HTML tables."""
    co = _build()
    if key == "1a":
        return _money_table(co.sales_by_year()) + _money_table(pd.DataFrame([co.increments]))
    if key in ("1b", "1c"):
        return _money_table(pd.DataFrame([co.market]))
    if key == "1d":
        t = co.sales_by_year("region")
        t["resource factor"] = t.index.map(lambda r: co.resource_factor.get(r, 1.0))
        t["potential index"] = t.index.map(co.potential_index)
        return _money_table(t)
    if key == "1e":
        return _money_table(co.sales_by_year("rep_id")) + _money_table(co.team().drop(columns=["hire_date"]).assign(
            hire_date=co.team()["hire_date"].dt.date, leave_date=co.team()["leave_date"].dt.date))  # fmt: skip
    if key == "2a":
        rec = checks.expected_reconciliation()
        return f"<p class=meta>Top-down weight w = {rec['weight']:g}</p>"
    if key in ("3a", "3b"):
        return _money_table(co.monthly_sales()) + f"<p class=meta>Annual target: {checks.annual_target():,}</p>"
    if key in ("4a", "4b"):
        return _money_table(
            co.team().assign(hire_date=lambda d: d["hire_date"].dt.date, leave_date=lambda d: d["leave_date"].dt.date)
        )
    if key == "4c":
        return _money_table(checks.region_month_targets().astype(float))
    if key == "5a":
        return _money_table(co.retro.astype({"target": float, "actual": float}))
    if key == "5b":
        return _money_table(co.pvm_plan.rename(columns={"net_amount": "plan amount"})) + _money_table(
            co.pvm_actual.rename(columns={"net_amount": "actual amount"})
        )
    return ""


def _sheet_for(key: str) -> str:
    co = _build()
    sheets = {
        "1a": (["CAGR", "baseline"], ["your answer"]),
        "1b": (["top-down"], ["your answer"]),
        "1c": (["top-down"], ["your answer"]),
        "1d": (co.regions, ["LY", "CAGR", "x factors", "bottom-up"]),
        "1e": (list(co.team()["rep_id"]), ["LY annualised", "x growth x level", "x availability", "bottom-up"]),
        "2a": (["gap", "final"], ["your answer"]),
        "2b": (co.regions, ["share", "reconciled"]),
        "3a": (checks.MONTH_NAMES, ["index", "share", "target"]),
        "3b": (checks.MONTH_NAMES, ["share", "target"]),
        "4a": (co.regions, ["capacity", "target"]),
        "4b": (list(co.team()["rep_id"]), [str(m) for m in range(1, 13)]),
        "4c": (list(co.team()["rep_id"]), ["weight", "annual target"]),
        "5a": (list(co.retro["item"]), ["deviation", "status"]),
        "5b": (["volume", "price", "mix"], ["effect"]),
        "5c": (["why 1", "why 2", "why 3", "why 4", "why 5", "owner", "next step (by when)"], ["answer"]),
    }
    rows, cols = sheets[key]
    return _worksheet(rows, cols)


def exercise_html(ex: Exercise) -> str:
    """One exercise as a self-contained HTML page (inline CSS, no scripts)."""
    parts = []
    for p in ex.parts:
        terms = ", ".join(html.escape(term(t)) for t in p.terms)
        parts.append(
            f"<h2>{p.key} {html.escape(p.title)}</h2><p>{html.escape(p.task)}</p><pre>{html.escape(p.formula)}</pre>"
            f"<p class=meta><b>Answer:</b> {html.escape(p.answer_form)} &nbsp; <b>Tolerance:</b> {html.escape(p.tolerance)}"
            f"<br><b>Terms:</b> {terms}</p>{_data_for(p.key)}<p class=meta><b>Worksheet</b></p>{_sheet_for(p.key)}"
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


def build_handouts(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the handouts to ``out_dir`` (created if needed): ``NN_<slug>.html`` for each exercise and
    ``glossary.html``. Returns the paths written, in order. Existing files of the same names are replaced."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ex in EXERCISES:
        path = out / f"{ex.number:02d}_{ex.slug}.html"
        path.write_text(exercise_html(ex), encoding="utf-8")
        written.append(path)
    path = out / "glossary.html"
    path.write_text(glossary_html(), encoding="utf-8")
    written.append(path)
    return written
