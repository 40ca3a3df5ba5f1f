"""The action register that carries over from month to month.

Each month's retrospective publishes the items that need an action (the flags of
``retro.actions.period`` with a status in ``retro.actions.statuses``: yellow, red, dark red) as
``actions_YYYY-MM.xlsx`` (and ``.csv``): owner, level, item, deviation and blank columns for the
meeting (5-Why cause, next step, due date, resources) with ``action_status`` ``open``. Filled in
and dropped back into the data folder it is the ``actions`` table of the data contract, and the
next month's run reviews it:

* the latest register before the report month is read (each register carries every open action,
  so it is the whole truth);
* each of its actions is ``done`` / ``cancelled`` (as filled in), ``overdue`` (not closed and
  ``due_date`` before the report month's last day), ``no action`` (not closed and no next step
  written) or ``open``;
* ``months_open = report month - opened_month`` (in months); an action not closed after more than
  ``retro.actions.escalate_after_months`` months is escalated one level:
  ``escalation_level = min(base + 1, 3)`` with ``base`` the level of the item's status now
  (yellow 1, red 2, dark red 3; the register's level when the item is back on plan);
* items that need an action now and are not in the register are ``new`` (an item whose action
  was closed but which is still behind plan shows as closed, with a note, and gets a new action
  in the next register);
* what the team typed is theirs: the owner, the meeting columns and any column the team added
  (e.g. ``备注 comment``) are kept as written and carried to the next register; the flag's owner
  is a suggestion for new rows only (and the region lead takes over an item of a rep who has left);
* a row the team deleted: each action of the register as published for that month (recorded in
  that month's ``retro_summary.json``, :func:`register_record`) that is missing from the
  filled-in register is ``removed``, reported as "removed from the register of YYYY-MM" with its
  history (opened month, owner, what was written); if its item still needs an action it comes
  back in the next register (``carry`` ``restored``) with its original opening month and
  escalation clock;
* an item of a rep who has left (the flag's ``left``, :func:`salesplan.retro.flags.has_left`) is
  owned by the region lead (the flag's owner) and is never escalated: its escalation reads
  :func:`salesplan.retro.flags.leaver_escalation`, and no clock counts against the leaver.

Actions are ranked by money at stake: the most urgent state first, then the largest shortfall
(``shortfall = target - actual`` of the item now, :data:`REVIEW_ORDER`).

The next register carries every action not closed (with what was filled in) and opens a new one
for each item that needs an action and has none open.

The flags of the register's period show the same owner and meeting columns as their action
(:func:`flags_with_actions`), so the flag list and the action list agree in every export.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.csvsafe import FORMULA_START, write_spreadsheet_csv
from salesplan.dates import as_dates
from salesplan.retro.flags import leaver_escalation
from salesplan.retro.periods import as_period, previous_month
from salesplan.settings import ActionSettings, Escalation

LEVEL_OF_STATUS: dict[str, int] = {"yellow": 1, "red": 2, "dark_red": 3}
"""Escalation level of a flag status (the method's three-level response)."""
STATUS_OF_LEVEL: dict[int, str] = {v: k for k, v in LEVEL_OF_STATUS.items()}
CLOSED = ("done", "cancelled")
"""Action statuses that close an action (``validation.action_status`` lists every allowed one)."""
STATES: tuple[str, ...] = ("overdue", "no action", "open", "new", "removed", "done", "cancelled")
"""Review states, most urgent first (``removed``: the row was deleted from the filled-in register)."""
MEETING_COLUMNS = ["cause_5why", "next_step", "due_date", "resources", "action_status"]
"""The columns the meeting fills in."""
REGISTER_COLUMNS = [
    "action_id",
    "register_month",
    "opened_month",
    "months_open",
    "level",
    "item",
    "owner",
    "flag_status",
    "deviation",
    "gap",
    "escalation_level",
    "escalation",
    "carry",
    *MEETING_COLUMNS,
]
"""The register file's columns (``carry``: new / carried / overdue / escalated / restored), followed
by any column the team added."""
REVIEW_ORDER = (
    "most urgent state first (overdue, no action, open, new, removed, done, cancelled), then the largest "
    "shortfall (target - actual)"
)
"""The true sort order of :func:`review_actions`, for the caption of any list of it."""
REGISTER_ORDER = "largest shortfall first (target - actual)"
"""The true sort order of :func:`next_register`."""
REVIEW_COLUMNS = [
    "action_id",
    "level",
    "item",
    "owner",
    "state",
    "escalated",
    "escalation_level",
    "escalation",
    "opened_month",
    "months_open",
    "due_date",
    "action_status",
    "next_step",
    "cause_5why",
    "resources",
    "flag_status",
    "deviation",
    "shortfall",
    "note",
]
"""The review's columns, followed by any column the team added to the register."""
RECORD_COLUMNS = [
    "action_id",
    "register_month",
    "opened_month",
    "level",
    "item",
    "owner",
    "escalation_level",
    *MEETING_COLUMNS,
]
"""What a month's summary records of each action it published (:func:`register_record`)."""
FLAG_ACTION_COLUMNS = ["owner", *MEETING_COLUMNS]
"""The columns a flag takes from its action (:func:`flags_with_actions`)."""


def extra_columns(frame: pd.DataFrame | None) -> list[str]:
    """The columns the team added to a register (any column that is neither a register nor a
    review column nor internal), in the file's order."""
    if frame is None:
        return []
    known = {*REGISTER_COLUMNS, *REVIEW_COLUMNS, "left"}
    return [str(c) for c in frame.columns if c not in known and not str(c).startswith("_")]


def _text(values: pd.Series) -> pd.Series:
    """Typed text as written: missing cells read as blank."""
    return values.astype(object).where(values.notna(), "")


def _as_typed(values: pd.Series) -> pd.Series:
    """Text read back from a published register as the team typed it: the register file shows
    a cell starting with ``= + - @`` behind a single quote (so that a spreadsheet does not run
    it), and that quote is taken off again, so that ``-5 % price cut`` does not gain a quote on
    every round trip."""

    def typed(value: object) -> object:
        if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_START):
            return value[1:]
        return value

    return values.map(typed)


def register_record(register: pd.DataFrame) -> list[dict[str, object]]:
    """The register as published, for the month's summary: :data:`RECORD_COLUMNS` and any column
    the team added, dates as ``YYYY-MM-DD``, blanks as ``None``. Next month reads it back
    (:func:`issued_register`) to find the rows the team deleted."""
    cols = [c for c in RECORD_COLUMNS if c in register] + extra_columns(register)
    out = register[cols].copy()
    for col in ("register_month", "opened_month", "due_date"):
        if col in out:
            out[col] = as_dates(out[col]).dt.strftime("%Y-%m-%d")
    if "escalation_level" in out:
        out["escalation_level"] = pd.to_numeric(out["escalation_level"], errors="coerce")
    out = out.astype(object).where(out.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


def issued_register(summary: Mapping[str, object] | None) -> pd.DataFrame | None:
    """The register a month published, read back from its summary (:func:`register_record`);
    None when the summary records none (no summary, or one written before registers were
    recorded)."""
    if not summary or not isinstance(summary.get("register"), list):
        return None
    rows = pd.DataFrame(list(summary["register"]))  # type: ignore[arg-type]
    if rows.empty or "action_id" not in rows:
        return None
    return rows.assign(
        **{
            col: pd.to_datetime(rows[col], errors="coerce")
            for col in ("register_month", "opened_month", "due_date")
            if col in rows
        }
    )


def published_register(reports_root: str | os.PathLike[str], month: str | pd.Period) -> pd.DataFrame | None:
    """The register published by the month before ``month`` (from its ``retro_summary.json`` in
    ``reports_root``), or None when that month has no published summary or it records no
    register. A damaged summary raises :class:`salesplan.retro.periods.RetroInputError`."""
    from salesplan.retro.export import SUMMARY_FILE, read_summary

    path = Path(reports_root) / str(previous_month(month)) / SUMMARY_FILE
    return issued_register(read_summary(path)) if path.exists() else None


def _removed_rows(issued: pd.DataFrame | None, previous: pd.DataFrame) -> pd.DataFrame:
    """The actions of the register as published for the filled-in register's month that the
    filled-in register no longer holds (rows the team deleted)."""
    if issued is None or not len(issued) or "register_month" not in issued:
        return previous.iloc[0:0]
    month = as_dates(previous["register_month"]).dt.to_period("M").max()
    same = as_dates(issued["register_month"]).dt.to_period("M") == month
    return issued.loc[same & ~issued["action_id"].astype(str).isin(set(previous["action_id"].astype(str)))]


def action_ids(levels: pd.Series, keys: pd.Series) -> pd.Series:
    """The id of an item's action, stable across months: ``<level>:<key>`` (e.g. ``rep:R012``,
    ``region x product_line:East|Pumps``)."""
    return levels.astype(str) + ":" + keys.astype(str)


def items_needing_action(flags: pd.DataFrame, period: str, statuses: Sequence[str]) -> pd.DataFrame:
    """The flags of ``period`` whose status is one of ``statuses``, with their ``action_id``."""
    part = flags.loc[(flags["period"] == period) & flags["status"].isin(list(statuses))]
    return part.assign(action_id=action_ids(part["level"], part["key"])).reset_index(drop=True)


def previous_register(actions: pd.DataFrame | None, month: str | pd.Period) -> tuple[pd.DataFrame | None, str]:
    """The latest register before ``month`` (its rows) and a sentence saying what was found;
    None when the data folder holds no register of an earlier month (the month starts fresh)."""
    p = as_period(month)
    start = p.to_timestamp()
    if actions is None or actions.empty:
        return None, f"No actions file in the data folder: the register of {p} starts fresh."
    months = as_dates(actions["register_month"]).dt.to_period("M").dt.to_timestamp()
    earlier = actions.loc[months < start].assign(register_month=months[months < start])
    if earlier.empty:
        later = sorted({f"{m:%Y-%m}" for m in months})
        return None, (
            f"The actions file holds no register before {p} (only {', '.join(later)}): the register of {p} "
            "starts fresh."
        )
    latest = earlier["register_month"].max()
    rows = earlier.loc[earlier["register_month"] == latest].reset_index(drop=True)
    ago = (p - latest.to_period("M")).n
    note = "" if ago == 1 else f" ({ago} months before {p}: no register of the months between)"
    return rows, f"Actions register of {latest:%Y-%m}{note}: {len(rows)} action(s) reviewed."


def _current(flags: pd.DataFrame, period: str) -> pd.DataFrame:
    """The flags of ``period`` indexed by ``action_id``, with ``left`` (blank when the flags have
    no such column) and ``shortfall = target - actual`` (= -gap)."""
    part = flags.loc[flags["period"] == period]
    left = part["left"].fillna("").astype(str) if "left" in part else pd.Series("", index=part.index)
    return part.assign(
        action_id=action_ids(part["level"], part["key"]),
        left=left,
        shortfall=-pd.to_numeric(part["gap"], errors="coerce"),
    ).set_index("action_id")


def _blank(values: pd.Series) -> np.ndarray:
    text = values.astype(object).where(values.notna(), "")
    return text.map(lambda v: str(v).strip() == "").to_numpy(dtype=bool)


def review_actions(
    previous: pd.DataFrame | None,
    flags: pd.DataFrame,
    month: str | pd.Period,
    settings: ActionSettings | Mapping[str, Any],
    escalation: Escalation | Mapping[str, str],
    *,
    issued: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every action of the previous register and every item needing an action without one, with
    its state this month (module docstring). ``settings``: ``retro.actions``; ``escalation``:
    ``retro.escalation`` (the response of each level); ``issued``: the register as published for
    the previous register's month (:func:`published_register`), whose actions missing from
    ``previous`` are ``removed``. Columns :data:`REVIEW_COLUMNS` then the columns the team added
    (``shortfall = target - actual`` of the item now, NaN when it is no longer flagged); sorted by
    :data:`REVIEW_ORDER`: state (:data:`STATES`), then the largest shortfall, then item. The owner
    is the one written in the register (the flag's owner when blank, the region lead for an item
    of a rep who has left); a leaver's item is never escalated (module docstring)."""
    settings, escalation = _typed(settings, escalation)
    p = as_period(month)
    month_end = p.to_timestamp(how="end").normalize()
    limit = settings.escalate_after_months
    needed = items_needing_action(flags, settings.period, settings.statuses)
    current = _current(flags, settings.period)
    rows: list[pd.DataFrame] = []
    extras: list[str] = []
    if previous is not None and len(previous):
        removed = _removed_rows(issued, previous)
        extras = list(dict.fromkeys(extra_columns(previous) + extra_columns(removed)))
        written_in = as_dates(previous["register_month"]).dt.to_period("M").max()
        prev = pd.concat(
            [previous.assign(_removed=False), removed.assign(_removed=True)], ignore_index=True
        ).reset_index(drop=True)
        for col in ("escalation_level", "next_step", "cause_5why", "resources", "due_date", "owner", *extras):
            if col not in prev:
                prev[col] = np.nan
        for col in ("owner", "next_step", "cause_5why", "resources", *extras):
            prev[col] = _as_typed(prev[col])
        gone = prev["_removed"].astype(bool).to_numpy()
        status = prev["action_status"].astype(str)
        due = pd.to_datetime(prev["due_date"], errors="coerce")
        no_step = _blank(prev["next_step"])
        state = np.select(
            [gone, status == "done", status == "cancelled", due.notna() & (due < month_end), no_step],
            ["removed", "done", "cancelled", "overdue", "no action"],
            default="open",
        )
        now = prev["action_id"].map(current["status"]) if len(current) else pd.Series(np.nan, index=prev.index)
        opened = as_dates(prev["opened_month"]).dt.to_period("M")
        months_open = np.array([(p - o).n for o in opened], dtype="int64")
        prev_level = pd.to_numeric(prev["escalation_level"], errors="coerce")
        base = now.map(LEVEL_OF_STATUS).fillna(prev_level).fillna(1).astype(int)
        left_now = prev["action_id"].map(current["left"]).fillna("").astype(str).to_numpy()
        still = now.isin(list(settings.statuses)).to_numpy()
        # No clock counts against a rep who has left: the item is handed over, not escalated. A
        # deleted row keeps its clock while its item still needs an action.
        escalated = ~np.isin(state, CLOSED) & (months_open > limit) & (left_now == "") & (~gone | still)
        level = np.where(escalated, np.minimum(base + 1, 3), base)
        removed_note = [
            f"removed from the register of {written_in} (row deleted), open since {o}; "
            + ("the item still needs an action: it comes back with its history" if s else "item no longer behind plan")
            for o, s in zip(opened, still, strict=True)
        ]
        note = np.where(
            gone,
            removed_note,
            np.where(
                np.isin(state, CLOSED),
                np.where(still, "closed, but the item still needs an action: a new one is opened", ""),
                np.where(still, "", "item no longer behind plan: close the action if it is done"),
            ),
        )
        # The owner the team wrote stays; the flag's owner fills a blank one, and the region lead
        # takes over an item of a rep who has left (a person who has left owns nothing).
        flag_owner = prev["action_id"].map(current["owner"]) if len(current) else pd.Series(np.nan, index=prev.index)
        typed_owner = prev["owner"].where(~_blank(prev["owner"]))
        owner = flag_owner.where(left_now != "", typed_owner.fillna(flag_owner)).fillna(typed_owner)
        rows.append(
            pd.DataFrame(
                {
                    "action_id": prev["action_id"].astype(str),
                    "level": prev["level"],
                    # The current flag's label: a rep who has since left is marked.
                    "item": prev["action_id"].map(current["item"]).fillna(prev["item"]),
                    "owner": owner.fillna(""),
                    "state": state,
                    "escalated": escalated,
                    "escalation_level": level,
                    "opened_month": opened.dt.to_timestamp(),
                    "months_open": months_open,
                    "due_date": due,
                    "action_status": status,
                    "next_step": prev["next_step"],
                    "cause_5why": prev["cause_5why"],
                    "resources": prev["resources"],
                    "flag_status": now.fillna("on plan" if len(current) else "").to_numpy(),
                    "deviation": prev["action_id"].map(current["deviation"]),
                    "shortfall": prev["action_id"].map(current["shortfall"]),
                    "left": left_now,
                    "note": note,
                    **{col: _text(prev[col]) for col in extras},
                }
            )
        )
    # An item whose action was closed but which still needs one shows once, as closed with a
    # note; the next register opens its new action (next_register).
    in_register = set(rows[0]["action_id"]) if rows else set()
    new = needed.loc[~needed["action_id"].isin(in_register)]
    rows.append(
        pd.DataFrame(
            {
                "action_id": new["action_id"],
                "level": new["level"],
                "item": new["item"],
                "owner": new["owner"],
                "state": "new",
                "escalated": False,
                "escalation_level": new["status"].map(LEVEL_OF_STATUS).astype(int),
                "opened_month": p.to_timestamp(),
                "months_open": 0,
                "due_date": pd.NaT,
                "action_status": "open",
                "next_step": "",
                "cause_5why": "",
                "resources": "",
                "flag_status": new["status"],
                "deviation": new["deviation"],
                "shortfall": new["action_id"].map(current["shortfall"]),
                "left": new["action_id"].map(current["left"]).fillna(""),
                "note": "first month flagged" if previous is None else "no action in the previous register",
                **{col: "" for col in extras},
            }
        )
    )
    out = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else rows[-1]
    out = _leavers_not_escalated(out.assign(escalation=_escalation_text(out["escalation_level"], escalation)), "note")
    out = out.astype({"escalated": bool, "months_open": "int64", "escalation_level": "int64"})
    out = out.assign(
        opened_month=as_dates(out["opened_month"]).astype("datetime64[ns]"),
        due_date=as_dates(out["due_date"]).astype("datetime64[ns]"),
        deviation=pd.to_numeric(out["deviation"], errors="coerce").astype(float),
        shortfall=pd.to_numeric(out["shortfall"], errors="coerce").astype(float),
    )
    for col in ("next_step", "cause_5why", "resources", *extras):
        out[col] = _text(out[col])
    rank = out["state"].map({s: i for i, s in enumerate(STATES)})
    return (
        out.assign(_r=rank)
        .sort_values(["_r", "shortfall", "item"], ascending=[True, False, True], na_position="last", kind="stable")
        .reset_index(drop=True)[REVIEW_COLUMNS + extras]
    )


def _typed(
    settings: ActionSettings | Mapping[str, Any], escalation: Escalation | Mapping[str, str]
) -> tuple[ActionSettings, Escalation]:
    """The ``retro.actions`` and ``retro.escalation`` sections, typed: a plain mapping of either
    (as a stored register's caller may still hold) is validated into its section model."""
    return ActionSettings.model_validate(settings), Escalation.model_validate(escalation)


def _escalation_text(levels: pd.Series, escalation: Escalation) -> pd.Series:
    """The configured response of each escalation level (1-3): ``retro.escalation`` of its status."""
    return levels.map(lambda lv: str(getattr(escalation, STATUS_OF_LEVEL[int(lv)])))


def _leavers_not_escalated(actions: pd.DataFrame, note: str | None = None) -> pd.DataFrame:
    """Rows whose ``left`` is set (a rep who has left): not escalated, the escalation reads
    :func:`salesplan.retro.flags.leaver_escalation`, and ``note`` (when given) says who owns it."""
    left = actions["left"].fillna("").astype(str)
    gone = left != ""
    if not gone.any():
        return actions
    out = actions.copy()
    out.loc[gone, "escalated"] = False
    out.loc[gone, "escalation"] = left[gone].map(leaver_escalation)
    if note is not None:
        said = out.loc[gone, note].fillna("").astype(str)
        out.loc[gone, note] = (said + "; ").where(said != "", "") + "rep " + left[gone] + ": owned by the region lead"
    return out


def state_counts(review: pd.DataFrame) -> pd.Series:
    """Actions per state (all of :data:`STATES`, zeros included) plus ``escalated``."""
    counts = review["state"].value_counts().reindex(list(STATES), fill_value=0).astype(int)
    counts["escalated"] = int(review["escalated"].sum())
    return counts.rename("actions")


def review_text(review: pd.DataFrame, source: str) -> str:
    """The review in two plain lines: where the register came from and the count per state."""
    counts = state_counts(review)
    shown = ", ".join(f"{state} {int(counts[state])}" for state in STATES)
    return f"{source}\nActions: {shown}; escalated {int(counts['escalated'])}."


def next_register(
    review: pd.DataFrame,
    flags: pd.DataFrame,
    month: str | pd.Period,
    settings: ActionSettings | Mapping[str, Any],
    escalation: Escalation | Mapping[str, str],
) -> pd.DataFrame:
    """This month's register (:data:`REGISTER_COLUMNS`, then the columns the team added): every
    action of ``review`` not closed (carried with what was filled in; ``no action`` and ``removed``
    ones only while the item still needs one) and a new ``open`` action for each item needing one
    without an open action. ``carry``: ``new``, ``carried``, ``overdue``, ``escalated`` or
    ``restored`` (a deleted row whose item still needs an action, back with its opening month and
    clock); an item of a rep who has left is owned by the region lead and not escalated (module
    docstring). A new action's added columns are blank. Sorted by :data:`REGISTER_ORDER`: the largest
    shortfall (``target - actual = -gap``) first, items no longer flagged last, then item."""
    settings, escalation = _typed(settings, escalation)
    p = as_period(month)
    current = _current(flags, settings.period)
    statuses = list(settings.statuses)
    extras = [c for c in review.columns if c not in REVIEW_COLUMNS]
    still = review["flag_status"].isin(statuses)
    keep = ~review["state"].isin(CLOSED) & (~review["state"].isin(["no action", "removed"]) | still)
    carried = review.loc[keep & (review["state"] != "new")]
    new = review.loc[review["state"] == "new"]
    closed_still = review.loc[review["state"].isin(CLOSED) & still & ~review["action_id"].isin(carried["action_id"])]
    fresh = pd.concat([new, closed_still], ignore_index=True).drop_duplicates("action_id")
    fresh = fresh.assign(
        opened_month=p.to_timestamp(),
        months_open=0,
        escalated=False,
        escalation_level=fresh["flag_status"].map(LEVEL_OF_STATUS).fillna(1).astype(int),
        due_date=pd.NaT,
        action_status="open",
        next_step="",
        cause_5why="",
        resources="",
        **{col: "" for col in extras},
    )
    carry = np.select(
        [carried["escalated"], carried["state"] == "overdue", carried["state"] == "removed"],
        ["escalated", "overdue", "restored"],
        default="carried",
    )
    out = pd.concat([carried.assign(carry=carry), fresh.assign(carry="new")], ignore_index=True)
    level = out["escalation_level"].astype(int)
    out = out.assign(
        register_month=p.to_timestamp(),
        gap=pd.to_numeric(out["action_id"].map(current["gap"]), errors="coerce"),
        escalation_level=level,
        escalation=_escalation_text(level, escalation),
        left=out["action_id"].map(current["left"]).fillna(""),
    )
    out = _leavers_not_escalated(out)
    out = out.assign(
        opened_month=as_dates(out["opened_month"]).astype("datetime64[ns]"),
        register_month=as_dates(out["register_month"]).astype("datetime64[ns]"),
        due_date=as_dates(out["due_date"]).astype("datetime64[ns]"),
        months_open=out["months_open"].astype("int64"),
    )
    return (
        out.sort_values(["gap", "item"], na_position="last", kind="stable")
        .reset_index(drop=True)
        .reindex(columns=REGISTER_COLUMNS + extras)
    )


def flags_with_actions(
    flags: pd.DataFrame, review: pd.DataFrame, settings: ActionSettings | Mapping[str, Any]
) -> pd.DataFrame:
    """``flags`` with each flag of the register's period (``retro.actions.period``) showing its
    action's :data:`FLAG_ACTION_COLUMNS` as the review has them (owner, 5-Why cause, next step,
    due date, resources, action status), so the flag list and the action list agree in every
    export. Flags of other periods and items without an action keep their own owner and blank
    meeting columns."""
    period = ActionSettings.model_validate(settings).period
    out = flags.copy()
    ids = action_ids(out["level"], out["key"])
    on = (out["period"] == period).to_numpy()
    by_id = review.drop_duplicates("action_id").set_index("action_id")
    for col in FLAG_ACTION_COLUMNS:
        base = out[col] if col in out else pd.Series(pd.NaT if col == "due_date" else "", index=out.index)
        mapped = ids.map(by_id[col]) if len(by_id) else pd.Series(np.nan, index=out.index)
        taken = pd.Series(on, index=out.index) & ids.isin(by_id.index)
        out[col] = mapped.where(taken, base)
    out["due_date"] = pd.to_datetime(out["due_date"], errors="coerce").astype("datetime64[ns]")
    for col in ("owner", "cause_5why", "next_step", "resources", "action_status"):
        out[col] = _text(out[col])
    return out


def register_file_name(month: str | pd.Period, suffix: str = "xlsx") -> str:
    """``actions_YYYY-MM.<suffix>``: named like the ``actions`` table, so the filled-in file is read
    as one when dropped into the data folder."""
    return f"actions_{as_period(month)}.{suffix}"


def write_register(register: pd.DataFrame, folder: str | os.PathLike[str], month: str | pd.Period) -> list[Path]:
    """Write the register as ``actions_YYYY-MM.xlsx`` (one sheet, dates as dates, deviation as a
    percentage, text neutralised against formulas) and the same as ``actions_YYYY-MM.csv``
    (UTF-8 with BOM). Put one of the two, filled in, into the data folder. Returns both paths."""
    from salesplan.excel import write_workbook

    kinds = {"deviation": "pct", "gap": "money"}
    kinds.update({c: "date" for c in ("register_month", "opened_month", "due_date")})
    xlsx = write_workbook(Path(folder) / register_file_name(month), {"Actions": (register, kinds)})
    out = register.copy()
    for col in ("register_month", "opened_month", "due_date"):
        out[col] = as_dates(out[col]).dt.strftime("%Y-%m-%d")
    out["deviation"] = out["deviation"].round(4)
    out["gap"] = out["gap"].round(2)
    csv = write_spreadsheet_csv(out, Path(folder) / register_file_name(month, "csv"))
    return [xlsx, csv]
