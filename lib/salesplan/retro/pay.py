"""Commissions in the retrospective: the month's statement per rep from actuals and plan,
through the same engine the targets notebook uses (:mod:`salesplan.commission`).

A statement names what it was measured against and in what money: the plan of its month in
the one provenance wording (:func:`salesplan.targets.views.plan_words`; the year's earlier
plans too when the year to date spans more than one) and the currency (``report.currency``)
on every amount.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesplan.commission import STATEMENT_COLUMNS, commission_statement
from salesplan.retro.flags import plan_months, rep_left
from salesplan.retro.periods import as_period, window
from salesplan.settings import CommissionSettings
from salesplan.targets.allocation import UNASSIGNED
from salesplan.units import fmt_money, fmt_pct

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce


def rep_month_frame(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    reps: pd.DataFrame | None = None,
    high_margin: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Commission input for the year to date: one row per rep and month from January to
    ``month`` with ``actual`` (net sales), ``target`` (plan), ``high_margin_actual`` (from
    ``high_margin``: ``month, rep_id, high_end_amount``; 0 when None) and ``team`` (the reps
    table's ``team``, else the rep's region). Reps with sales or a target in the period are included."""
    ytd = window(month, "ytd")
    plan_m = plan_months(plan)
    act = cube.loc[ytd.contains(cube["month"])]
    a = act.groupby(["month", act["rep_id"].astype(str)])["net_amount"].sum().rename("actual")
    pm = plan_m.loc[ytd.contains(plan_m["month"])].dropna(subset=["rep_id"])
    pm = pm.loc[pm["rep_id"].astype(str) != UNASSIGNED]  # no rep to pay
    t = pm.groupby(["month", pm["rep_id"].astype(str)])["target_amount"].sum().rename("target")
    frame = pd.concat([a, t], axis=1).fillna(0.0)
    if high_margin is not None and not high_margin.empty:
        hm = high_margin.loc[ytd.contains(high_margin["month"])]
        h = hm.groupby(["month", hm["rep_id"].astype(str)])["high_end_amount"].sum()
        frame["high_margin_actual"] = h.reindex(frame.index).fillna(0.0)
    else:
        frame["high_margin_actual"] = 0.0
    frame = frame.rename_axis(["month", "rep_id"]).reset_index()
    if reps is not None:
        r = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")
        team = r["team"] if "team" in r.columns else r["region"]
        frame["team"] = frame["rep_id"].map(team.astype(str)).fillna("(no team)")
    return frame[
        ["rep_id", "month", "actual", "target", "high_margin_actual", *(["team"] if "team" in frame else [])]
    ].sort_values(["rep_id", "month"], ignore_index=True)


def commission_report(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    rules: CommissionSettings,
    reps: pd.DataFrame | None = None,
    high_margin: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month's commission per rep and the full year-to-date statement.

    Returns ``(month_lines, statement)``: ``statement`` is
    :func:`salesplan.commission.commission_statement` over :func:`rep_month_frame`;
    ``month_lines`` hold one line per rep of the statement with the rep's name and ``qtd_payout``
    / ``ytd_payout`` (sums of ``total_payout`` over the quarter / year to date): the rep's line
    of ``month``, or, for a rep paid earlier in the year with nothing measured in ``month`` (a
    rep who has left, say), a zero line (:func:`zero_lines`). So the month lines' ``ytd_payout``
    adds up to every payout of the year to date, a leaver's months included.

    Reps without any target in the year to date are left out: commission is earned against a
    target, and the engine would otherwise pay the quarter-excess rate on all their sales.
    """
    p = as_period(month)
    frame = rep_month_frame(cube, plan, p, reps, high_margin)
    with_target = frame.groupby("rep_id")["target"].transform("sum") > 0
    frame = frame.loc[with_target]
    if frame.empty:
        # Typed empty tables: pages sort and sum them like any other month's lines.
        text = {"rep_id", "rep_name", "team", "tier", "month"}
        empty = pd.DataFrame(columns=[*STATEMENT_COLUMNS, "rep_name", "qtd_payout", "ytd_payout"])
        empty = empty.astype({c: float for c in empty.columns if c not in text})
        statement = pd.DataFrame(columns=STATEMENT_COLUMNS)
        return empty, statement.astype({c: float for c in statement.columns if c not in text})
    statement = commission_statement(frame, rules)
    qtd = window(p, "qtd")
    sums = pd.DataFrame(
        {
            "qtd_payout": statement.loc[qtd.contains(statement["month"])].groupby("rep_id")["total_payout"].sum(),
            "ytd_payout": statement.groupby("rep_id")["total_payout"].sum(),
        }
    )
    this_month = statement.loc[statement["month"] == p.to_timestamp()]
    absent = statement.loc[~statement["rep_id"].isin(this_month["rep_id"])]
    lines = (
        pd.concat([this_month, zero_lines(absent, statement, p, reps)], ignore_index=True)
        .merge(sums, left_on="rep_id", right_index=True, how="left")
        .fillna({"qtd_payout": 0.0, "ytd_payout": 0.0})  # nothing paid in the quarter: zero, not blank
        .sort_values("rep_id", kind="stable")
    )
    if reps is not None:
        names = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")
        lines.insert(1, "rep_name", lines["rep_id"].map(names["rep_name"].astype(str)).fillna(""))
    return lines.reset_index(drop=True), statement


def zero_lines(
    paid: pd.DataFrame, statement: pd.DataFrame, month: str | pd.Period, reps: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A zero statement line in ``month`` for each rep of ``paid`` (statement lines of earlier
    months of reps with no line in ``month``): nothing sold, no target, nothing paid this month,
    so their earlier payouts still count in the quarter- and year-to-date sums. ``tier`` says
    ``left <date>`` for a rep who has left as of ``month``
    (:func:`salesplan.retro.flags.has_left`), else ``no target``; ``team`` is the rep's latest
    and ``team_attainment`` that team's in ``month`` (NaN when the team has no line then);
    ``quarter_actual`` / ``quarter_target`` sum the rep's lines of the quarter so far."""
    if paid.empty:
        return statement.iloc[0:0]
    p = as_period(month)
    start = p.to_timestamp()
    latest = paid.sort_values("month").groupby("rep_id", sort=True).tail(1).set_index("rep_id")
    rep_ids = pd.Series(latest.index, index=latest.index)
    quarter = statement.loc[statement["month"].dt.to_period("Q") == p.asfreq("Q")]
    q_sums = quarter.groupby("rep_id")[["actual", "target"]].sum()
    team_att = statement.loc[statement["month"] == start].groupby("team")["team_attainment"].first()
    left = rep_left(rep_ids, reps, p) if reps is not None else pd.Series("", index=rep_ids.index)
    zeros = dict.fromkeys(
        ["actual", "target", "rate", "high_margin_actual", "base_amount", "commission", "quarter_excess_bonus"], 0.0
    ) | dict.fromkeys(["team_adjustment_pct", "team_adjustment", "total_payout"], 0.0)
    return (
        pd.DataFrame({"rep_id": rep_ids.to_numpy(), "team": latest["team"].to_numpy()})
        .assign(
            month=start,
            attainment=np.nan,
            tier=left.where(left != "", "no target").to_numpy(),
            quarter=str(p.asfreq("Q")),
            quarter_actual=lambda d: d["rep_id"].map(q_sums["actual"]).fillna(0.0).to_numpy(),
            quarter_target=lambda d: d["rep_id"].map(q_sums["target"]).fillna(0.0).to_numpy(),
            team_attainment=lambda d: d["team"].map(team_att).astype(float).to_numpy(),
            **zeros,
        )
        .reindex(columns=statement.columns)
    )


def money_text(value: float, currency: str = "") -> str:
    """An amount as a statement prints it: two decimals with thousands separators, followed by
    the currency code when one is given (``1,234.50 CNY``; :func:`salesplan.units.fmt_money`)."""
    return fmt_money(value, "", decimals=2) + (f" {currency}" if currency else "")


def plan_of_line(plan: PlanInForce | str | None, month: Any) -> str | None:
    """The words naming the plan a statement line of ``month`` was measured against: ``plan``
    itself when it is text, else the plan in force's words for that month
    (:func:`salesplan.targets.views.plan_words`); None without a plan."""
    if plan is None or isinstance(plan, str):
        return plan
    from salesplan.targets.views import plan_words

    return plan_words(plan.month(pd.Timestamp(month).month))


def plan_to_date(plan: PlanInForce | str | None, month: Any) -> str | None:
    """When the year to date of ``month`` was measured against more than one plan, each of them
    by months (``2027-01 .. 2027-06: supplied targets (targets.csv); 2027-07 .. 2027-08: approved
    version v2 on ...``);
    else None (the month's plan says it all)."""
    if plan is None or isinstance(plan, str):
        return None
    from salesplan.targets.views import plan_segment_words

    segments = plan_segment_words(plan, through=pd.Timestamp(month).month)
    return "; ".join(segments) if len(segments) > 1 else None


def statement_text(
    line: Mapping[str, Any],
    rules: CommissionSettings | Mapping[str, Any],
    currency: str = "",
    *,
    plan: PlanInForce | str | None = None,
) -> str:
    """A rep's month as arithmetic they can check by hand, one step per line.

    ``currency``: the currency code (``report.currency``) printed after every amount (none when
    empty); ``plan``: the plan in force (or its words), named on a ``plan`` line for the line's
    month, with the year's other plans when the year to date spans several."""

    def money(v: float) -> str:
        return money_text(v, currency)

    rules = _rules(rules)
    mult = rules.high_margin_multiplier
    att = line["attainment"]
    att_text = "no target" if not np.isfinite(att) else fmt_pct(att, 2)
    name = f"{line.get('rep_name', '')} ({line['rep_id']})".strip()
    month = pd.Timestamp(line["month"]).strftime("%Y-%m")
    steps = [f"{name}, {month}"]
    words = plan_of_line(plan, line["month"])
    if words is not None:
        steps.append(f"  plan            = {words}")
    earlier = plan_to_date(plan, line["month"])
    if earlier is not None:
        steps.append(f"  plan to date    = {earlier}")
    steps += [
        f"  attainment      = actual {money(line['actual'])} / target {money(line['target'])} = {att_text}",
        f"  tier            = {line['tier']} -> rate {fmt_pct(line['rate'], 2)} ({rules.mode} mode)",
        f"  commission base = {money(line['actual'])} + ({mult:g} - 1) x high-margin {money(line['high_margin_actual'])}"
        f" = {money(line['base_amount'])}",
        f"  commission      = {money(line['commission'])}",
    ]
    if float(line["quarter_excess_bonus"]):
        steps.append(
            f"  quarter excess  = {fmt_pct(rules.quarter_excess_rate, 0)} x ({money(line['quarter_actual'])} - "
            f"{money(line['quarter_target'])}) = {money(line['quarter_excess_bonus'])}"
        )
    if float(line["team_adjustment"]):
        steps.append(
            f"  team adjustment = {fmt_pct(line['team_adjustment_pct'], 0, signed=True)} x commission (team attainment "
            f"{fmt_pct(line['team_attainment'])}) = {money(line['team_adjustment'])}"
        )
    steps.append(f"  total payout    = {money(line['total_payout'])}")
    return "\n".join(steps)


def team_rules_text(rules: CommissionSettings) -> list[str]:
    """The team bonus / penalty rules in words, from the commission settings."""
    return [
        f"A team below {rules.team_penalty_below:.0%} attainment in a month loses "
        f"{rules.team_penalty_pct:.0%} of that month's commission.",
        f"A team above {rules.team_bonus_above:.0%} for {rules.team_bonus_months} consecutive "
        f"months earns +{rules.team_bonus_pct:.0%} on that month's commission.",
        f"Quarter ends pay {rules.quarter_excess_rate:.0%} extra on the part of the quarter above target; "
        f"high-margin sales count x{rules.high_margin_multiplier:g}.",
    ]


def _rules(rules: CommissionSettings | Mapping[str, Any]) -> CommissionSettings:
    """The commission section, typed: a plain mapping of the section (as a stored pack or an
    older caller holds it) is validated into :class:`~salesplan.settings.CommissionSettings`."""
    return rules if isinstance(rules, CommissionSettings) else CommissionSettings.model_validate(dict(rules))


def statements_html(
    lines: pd.DataFrame,
    rules: CommissionSettings | Mapping[str, Any],
    currency: str = "",
    *,
    plan: PlanInForce | str | None = None,
) -> str:
    """One printable statement per rep (a page each when printed): the plan it was measured
    against and the month's arithmetic step by step, as :func:`statement_text` (``currency`` and
    ``plan`` as there), plus the quarter- and year-to-date payouts in the same currency. Every
    value from the data is escaped."""
    from html import escape

    blocks = []
    for line in lines.to_dict(orient="records"):
        text = statement_text(line, rules, currency, plan=plan).splitlines()
        title, steps = text[0], text[1:]
        rows = "".join(
            f"<tr><th scope='row'>{escape(label.strip())}</th><td>{escape(value.strip())}</td></tr>"
            for label, value in (step.split("=", 1) if "=" in step else (step, "") for step in steps)
        )
        team = f" &middot; team {escape(str(line.get('team') or ''))}" if line.get("team") else ""
        qtd, ytd = money_text(line["qtd_payout"], currency), money_text(line["ytd_payout"], currency)
        blocks.append(
            "<section class='statement' style='break-after: page; page-break-after: always; margin: 0 0 1.5em 0;"
            " padding: 0.6em 0.8em; border: 1px solid #ccc; max-width: 46em'>"
            f"<h3 style='margin: 0 0 0.3em 0'>{escape(title)}{team}</h3>"
            f"<table style='border-collapse: collapse'>{rows}</table>"
            f"<p style='margin: 0.4em 0 0 0'>Quarter to date {escape(qtd)} &middot; year to date {escape(ytd)}</p>"
            "</section>"
        )
    return "".join(blocks)


def write_statement_files(
    lines: pd.DataFrame,
    rules: CommissionSettings | Mapping[str, Any],
    folder: str | os.PathLike[str],
    month: str | pd.Period,
    *,
    currency: str = "",
    plan: PlanInForce | str | None = None,
) -> list[Path]:
    """One self-contained, printable HTML file per rep (``statements/<month>_<rep_id>.html`` in
    ``folder``), to hand to each rep on its own: the statement of :func:`statements_html`, naming
    the plan (``plan``) and the currency (``currency``) as there.
    Returns the paths written (rep ids are made safe for file names)."""
    import re
    from html import escape

    out = Path(folder) / "statements"
    out.mkdir(parents=True, exist_ok=True)
    p = as_period(month)
    written = []
    for _, line in lines.iterrows():
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(line["rep_id"]))
        path = out / f"{p}_{safe}.html"
        body = statements_html(line.to_frame().T, rules, currency, plan=plan)
        path.write_text(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Commission statement {escape(str(p))} {escape(str(line['rep_id']))}</title>"
            "<style>body{font:15px/1.5 'Noto Sans','Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em}"
            "th{text-align:left;padding:2px 12px 2px 0;font-weight:normal;color:#555}"
            "@page{size:A4;margin:15mm}</style></head>"
            f"<body>{body}</body></html>",
            encoding="utf-8",
        )
        written.append(path)
    return written


def statement_links(lines: pd.DataFrame, files: list[Path]) -> str:
    """An HTML list linking each rep's statement file (``files`` in the order of ``lines``, as
    :func:`write_statement_files` returns them; hrefs relative to the report folder), names escaped."""
    from html import escape
    from urllib.parse import quote

    names = lines["rep_name"] if "rep_name" in lines else lines["rep_id"]
    items = [
        f"<li><a href='statements/{quote(path.name)}'>{escape(f'{name} ({rep})')}</a></li>"
        for rep, name, path in zip(lines["rep_id"].astype(str), names.astype(str), files, strict=True)
    ]
    return "<ul style='columns: 3; max-width: 60em'>" + "".join(items) + "</ul>"
