"""The action register carried from month to month, on hand-built flags and registers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from salesplan.config import load_settings
from salesplan.retro import actions

RETRO = load_settings().retro
SETTINGS = RETRO.actions  # period ytd, statuses yellow/red/dark_red, escalate after 2 months
ESCALATION = RETRO.escalation


def _flags(rows: list[tuple[str, str, str, float]], period: str = "ytd") -> pd.DataFrame:
    """Flags of one period: (level, key, status, deviation) each."""
    return pd.DataFrame(
        {
            "period": period,
            "level": [r[0] for r in rows],
            "key": [r[1] for r in rows],
            "item": [r[1] for r in rows],
            "owner": ["Owner " + r[1] for r in rows],
            "status": [r[2] for r in rows],
            "deviation": [r[3] for r in rows],
            "gap": [r[3] * 100 for r in rows],
        }
    )


def _register(rows: list[dict], month: str = "2026-09-01") -> pd.DataFrame:
    base = {
        "register_month": pd.Timestamp(month),
        "opened_month": pd.Timestamp(month),
        "level": "region",
        "owner": "old owner",
        "action_status": "open",
        "escalation_level": 1.0,
        "cause_5why": "",
        "next_step": "call them",
        "due_date": pd.NaT,
        "resources": "",
    }
    out = pd.DataFrame([base | r for r in rows])
    out["item"] = out["action_id"].str.split(":").str[1]
    return out


def test_no_register_starts_fresh_and_every_item_needing_action_is_new() -> None:
    flags = _flags([("region", "East", "red", -0.12), ("region", "West", "green", -0.01)])
    previous, source = actions.previous_register(None, "2026-10")
    assert previous is None and "starts fresh" in source
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION)
    assert review["action_id"].tolist() == ["region:East"]
    assert review["state"].tolist() == ["new"] and review["escalation_level"].tolist() == [2]
    assert review["escalation"].iloc[0] == ESCALATION.red
    # Month flags do not open actions when the register follows the year to date.
    assert actions.items_needing_action(_flags([("rep", "R1", "red", -0.2)], "month"), "ytd", ["red"]).empty


def test_latest_register_before_the_month_is_the_one_reviewed() -> None:
    table = pd.concat(
        [
            _register([{"action_id": "region:East"}], "2026-08-01"),
            _register([{"action_id": "region:West"}], "2026-09-01"),
            _register([{"action_id": "region:North"}], "2026-10-01"),  # this month's own register: ignored
        ],
        ignore_index=True,
    )
    previous, source = actions.previous_register(table, "2026-10")
    assert previous["action_id"].tolist() == ["region:West"]
    assert source == "Actions register of 2026-09: 1 action(s) reviewed."
    only_later, source = actions.previous_register(table.iloc[2:], "2026-10")
    assert only_later is None and "holds no register before 2026-10 (only 2026-10)" in source


def test_done_open_overdue_no_action_escalated_and_new() -> None:
    flags = _flags(
        [
            ("region", "East", "red", -0.12),  # done, still behind: a new action
            ("region", "West", "yellow", -0.07),  # overdue
            ("region", "North", "red", -0.11),  # open since July: escalated
            ("region", "South", "green", 0.0),  # open, back on plan
            ("product_line", "Pumps", "dark_red", -0.3),  # no next step written
            ("rep", "R1", "yellow", -0.06),  # not in the register: new
        ]
    )
    previous = _register(
        [
            {"action_id": "region:East", "action_status": "done"},
            {"action_id": "region:West", "action_status": "in_progress", "due_date": pd.Timestamp("2026-10-15")},
            {"action_id": "region:North", "opened_month": pd.Timestamp("2026-07-01"), "escalation_level": 2.0},
            {"action_id": "region:South", "due_date": pd.Timestamp("2026-10-31")},  # due on the last day: not overdue
            {"action_id": "product_line:Pumps", "next_step": "  "},
            {"action_id": "region:Gone", "action_status": "cancelled"},
        ]
    )
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION).set_index("action_id")
    assert review.loc["region:East", "state"] == "done"
    assert "a new one is opened" in review.loc["region:East", "note"]
    assert review.loc["region:West", "state"] == "overdue"
    assert review.loc["region:South", "state"] == "open"
    assert review.loc["region:South", "flag_status"] == "green"
    assert "no longer behind plan" in review.loc["region:South", "note"]
    assert review.loc["product_line:Pumps", "state"] == "no action"
    assert review.loc["region:Gone", "state"] == "cancelled"
    assert review.loc["rep:R1", "state"] == "new"
    # North: opened July, reviewed October = 3 months open > 2: red (level 2) goes one level up.
    assert review.loc["region:North", "months_open"] == 3
    assert bool(review.loc["region:North", "escalated"]) and review.loc["region:North", "escalation_level"] == 3
    assert review.loc["region:North", "escalation"] == ESCALATION.dark_red
    assert not review.loc["region:West", "escalated"]  # opened September: 1 month
    # The owner the team wrote stays; the flag's owner only fills a new row.
    assert review.loc["region:North", "owner"] == "old owner"
    assert review.loc["rep:R1", "owner"] == "Owner R1"
    counts = actions.state_counts(review)
    assert counts[["overdue", "no action", "open", "new", "done", "cancelled", "escalated"]].tolist() == [
        1, 1, 2, 1, 1, 1, 1,
    ]  # fmt: skip
    assert list(review.index[:2]) == ["region:West", "product_line:Pumps"]  # most urgent first


def test_escalation_stops_at_level_three() -> None:
    flags = _flags([("region", "East", "dark_red", -0.3)])
    previous = _register([{"action_id": "region:East", "opened_month": pd.Timestamp("2026-01-01")}])
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION)
    assert review["escalated"].item() and review["escalation_level"].item() == 3


def test_next_register_carries_what_is_not_closed_and_opens_new_actions() -> None:
    flags = _flags(
        [
            ("region", "East", "red", -0.12),
            ("region", "West", "yellow", -0.07),
            ("region", "South", "green", 0.0),
            ("rep", "R1", "yellow", -0.06),
        ]
    )
    previous = _register(
        [
            {"action_id": "region:East", "action_status": "done"},
            {
                "action_id": "region:West",
                "action_status": "in_progress",
                "due_date": pd.Timestamp("2026-10-15"),
                "next_step": "weekly review",
                "cause_5why": "distributor lost",
            },
            {"action_id": "region:South", "next_step": ""},  # no action and back on plan: dropped
            {"action_id": "region:North", "next_step": "visit"},  # open, no longer flagged: carried
        ]
    )
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION)
    register = actions.next_register(review, flags, "2026-10", SETTINGS, ESCALATION)
    assert list(register.columns) == actions.REGISTER_COLUMNS
    reg = register.set_index("action_id")
    assert set(reg.index) == {"region:East", "region:West", "region:North", "rep:R1"}
    assert reg.loc["region:West", "carry"] == "overdue"
    assert reg.loc["region:West", "cause_5why"] == "distributor lost"
    assert reg.loc["region:West", "due_date"] == pd.Timestamp("2026-10-15")
    assert reg.loc["region:West", "opened_month"] == pd.Timestamp("2026-09-01")
    assert reg.loc["region:East", "carry"] == "new" and reg.loc["region:East", "action_status"] == "open"
    assert reg.loc["region:East", "opened_month"] == pd.Timestamp("2026-10-01")
    assert reg.loc["region:East", "gap"] == pytest.approx(-12.0)
    assert reg.loc["region:North", "carry"] == "carried" and reg.loc["region:North", "flag_status"] == "on plan"
    assert (register["register_month"] == pd.Timestamp("2026-10-01")).all()


def test_register_files_are_named_like_the_actions_table(tmp_path: Path) -> None:
    flags = _flags([("region", "East", "red", -0.12)])
    review = actions.review_actions(None, flags, "2026-09", SETTINGS, ESCALATION)
    register = actions.next_register(review, flags, "2026-09", SETTINGS, ESCALATION)
    xlsx, csv = actions.write_register(register, tmp_path, "2026-09")
    assert (xlsx.name, csv.name) == ("actions_2026-09.xlsx", "actions_2026-09.csv")
    back = pd.read_csv(csv, dtype=str, encoding="utf-8-sig")
    assert list(back.columns) == actions.REGISTER_COLUMNS
    assert back["register_month"].item() == "2026-09-01" and back["deviation"].item() == "-0.12"
    assert pd.read_excel(xlsx, sheet_name="Actions")["action_status"].item() == "open"


def test_review_ranks_by_money_at_stake_within_a_state() -> None:
    # Three new items: a small rep far behind in %, a large region a little behind, a product line.
    flags = _flags(
        [("rep", "R9", "dark_red", -0.6), ("region", "West", "red", -0.11), ("product_line", "P", "red", -0.12)]
    )
    flags["gap"] = [-0.7, -16.0, -3.0]  # money: the region is furthest short though the rep is furthest in %
    previous = _register([{"action_id": "region:North", "due_date": pd.Timestamp("2026-09-15")}])  # overdue
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION)
    assert review["action_id"].tolist() == ["region:North", "region:West", "product_line:P", "rep:R9"]
    assert review["shortfall"].tolist()[1:] == pytest.approx([16.0, 3.0, 0.7])
    register = actions.next_register(review, flags, "2026-10", SETTINGS, ESCALATION)
    assert register["action_id"].tolist() == ["region:West", "product_line:P", "rep:R9", "region:North"]
    assert "target - actual" in actions.REVIEW_ORDER and "target - actual" in actions.REGISTER_ORDER
