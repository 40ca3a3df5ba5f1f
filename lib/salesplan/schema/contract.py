"""The data contract: the tables, their columns and types, keys and references."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from salesplan.config import as_settings
from salesplan.settings import Settings, ValidationSettings

FILE_COL = "__file__"

Kind = Literal["str", "date", "int", "float", "bool"]


@dataclass(frozen=True)
class Field:
    """One contract column.

    ``allowed`` names the ``config["validation"]`` list of permitted values; ``in_date_range``
    applies the ``min_date`` .. today + ``max_days_after_today`` window; ``non_negative`` is
    the rule a negative value is refused with.
    """

    name: str
    kind: Kind = "str"
    required: bool = True
    nullable: bool = False
    allowed: str | None = None
    in_date_range: bool = False
    bounds: tuple[float, float] | None = None
    # An amount of money: may carry a currency marker (see read_numbers).
    money: bool = False
    # When set, a negative value is refused with this rule (the text says what to do instead).
    non_negative: str | None = None


RULE_NEGATIVE_SPEND = (
    "negative spend: amounts are >= 0; book a credit or refund as its own category "
    "(e.g. marketing_credit) with a positive amount"
)

TABLES: dict[str, tuple[Field, ...]] = {
    "orders": (
        Field("order_date", "date", in_date_range=True),
        Field("order_id"),
        Field("customer_id"),
        Field("rep_id"),
        Field("region"),
        Field("sku"),
        Field("channel", allowed="channels"),
        Field("quantity", "int"),
        Field("net_amount", "float", money=True),
        Field("cost_amount", "float", required=False, nullable=True, money=True),
        Field("paid_amount", "float", required=False, nullable=True, money=True),
    ),
    "products": (
        Field("sku"),
        Field("product_line"),
        Field("tier", allowed="product_tiers"),
        Field("high_margin", "bool", required=False, nullable=True),
    ),
    "customers": (
        Field("customer_id"),
        Field("customer_name"),
        Field("industry", required=False, nullable=True),
        Field("region", required=False, nullable=True),
    ),
    "reps": (
        Field("rep_id"),
        Field("rep_name"),
        Field("region"),
        Field("team", required=False, nullable=True),
        Field("level", allowed="rep_levels"),
        Field("hire_date", "date"),
        Field("leave_date", "date", required=False, nullable=True),
    ),
    "pipeline": (
        Field("opportunity_id"),
        Field("snapshot_date", "date", in_date_range=True),
        Field("customer_id"),
        Field("rep_id"),
        Field("region"),
        Field("product_line"),
        Field("stage"),
        Field("amount", "float", money=True),
        Field("expected_close_date", "date", in_date_range=True),
        Field("status", allowed="pipeline_status"),
        Field("probability", "float", required=False, nullable=True, bounds=(0.0, 1.0)),
    ),
    "targets": (
        Field("year", "int"),
        Field("month", "int", bounds=(1, 12)),
        Field("region"),
        Field("product_line"),
        # Region- or line-level target rows have no rep.
        Field("rep_id", nullable=True),
        Field("target_amount", "float", money=True),
        Field("version", required=False, nullable=True),
    ),
    # The action register a month's retrospective publishes (actions_YYYY-MM.xlsx), filled in
    # at the meeting and dropped back into the data folder for the next month's run.
    "actions": (
        Field("action_id"),
        Field("register_month", "date", in_date_range=True),
        Field("opened_month", "date", in_date_range=True),
        Field("level"),
        Field("item"),
        Field("owner"),
        Field("action_status", allowed="action_status"),
        Field("flag_status", required=False, nullable=True),
        Field("deviation", "float", required=False, nullable=True),
        # A float: an optional whole-number column would need a nullable integer type.
        Field("escalation_level", "float", required=False, nullable=True, bounds=(1, 3)),
        Field("cause_5why", required=False, nullable=True),
        Field("next_step", required=False, nullable=True),
        Field("due_date", "date", required=False, nullable=True, in_date_range=True),
        Field("resources", required=False, nullable=True),
    ),
    # Sales activities from the CRM: visits, calls, meetings (one row each).
    "activities": (
        Field("activity_date", "date", in_date_range=True),
        Field("rep_id"),
        Field("customer_id"),
        Field("activity_type"),
    ),
    # Sales and marketing spend per month (and region or channel where known) and category.
    # Never negative: a credit (refund, rebate, agency credit note) is a row of its own category
    # (e.g. "marketing_credit") with a positive amount, so no category's spend turns negative
    # and acquisition cost (kpi.acquisition_spend_categories) counts only what it names.
    "spend": (
        Field("month", "date", in_date_range=True),
        Field("category"),
        Field("amount", "float", money=True, non_negative=RULE_NEGATIVE_SPEND),
        Field("region", required=False, nullable=True),
        Field("channel", required=False, nullable=True, allowed="channels"),
    ),
    # Net Promoter Score survey answers (0-10, "how likely are you to recommend us?").
    "nps": (
        Field("survey_date", "date", in_date_range=True),
        Field("customer_id"),
        Field("score", "int", bounds=(0, 10)),
    ),
    # Cash received against orders, with its date: one row per payment, never dated before its
    # order; paid_amount >= 0, except a refund against a return order (an order whose net_amount
    # adds up to less than zero), which is negative as the orders' own paid_amount is
    # (check_payments).
    "receivables": (
        Field("order_id"),
        Field("paid_date", "date", in_date_range=True),
        Field("paid_amount", "float", money=True),
    ),
}

REQUIRED_TABLES: tuple[str, ...] = ("orders", "products", "customers", "reps")
OPTIONAL_TABLES: tuple[str, ...] = ("pipeline", "targets", "actions", "activities", "spend", "nps", "receivables")

# Primary keys: a repeated key is a failure (checked over all files of a table together).
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "sku"),
    "products": ("sku",),
    "customers": ("customer_id",),
    "reps": ("rep_id",),
    "pipeline": ("opportunity_id", "snapshot_date"),
    # One line per action and register month (several months' registers may sit side by side).
    "actions": ("action_id", "register_month"),
}

# table -> column -> (referenced table, referenced key column)
REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "orders": {"rep_id": ("reps", "rep_id"), "sku": ("products", "sku"), "customer_id": ("customers", "customer_id")},
    "pipeline": {"rep_id": ("reps", "rep_id"), "customer_id": ("customers", "customer_id")},
    "targets": {"rep_id": ("reps", "rep_id")},
    "activities": {"rep_id": ("reps", "rep_id"), "customer_id": ("customers", "customer_id")},
    "nps": {"customer_id": ("customers", "customer_id")},
    "receivables": {"order_id": ("orders", "order_id")},
}

# Tables without a primary key whose rows are counted or summed (visits, spend, answers, cash):
# an exact duplicate row (every column equal, extra columns included) is refused, since a
# repeated export line would count twice. Rows that legitimately repeat are told apart by a
# column of their own, named here; any extra column that differs makes rows distinct.
DISTINCT_ROWS: dict[str, str] = {
    "activities": "two equal activities on one day need a column telling them apart, e.g. activity_id or time",
    "spend": "two equal spend lines need a column telling them apart, e.g. invoice_id or campaign",
    "nps": "two equal answers on one day need a column telling them apart, e.g. response_id",
    "receivables": "two equal instalments on one day need a column telling them apart, e.g. payment_id",
}

# Labels another table should know, but whose absence is only worth a warning (a target for
# a product line about to launch is legitimate).
SOFT_REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "pipeline": {"product_line": ("products", "product_line")},
    "targets": {"product_line": ("products", "product_line")},
}


def validation_settings(config: Settings | ValidationSettings | Mapping[str, Any] | None) -> ValidationSettings:
    """The typed ``validation`` section of ``config``: the section itself, the settings' section,
    or, for a mapping (a plan read on its own, a test's small dict), the section of the mapping
    validated over the package's ``defaults.yaml`` (:func:`salesplan.config.as_settings`), so a
    key it lacks takes the method's default, never a second copy of it written in code."""
    if isinstance(config, ValidationSettings):
        return config
    return as_settings(config).validation


def validation_section(config: Settings | ValidationSettings | Mapping[str, Any] | None) -> dict[str, Any]:
    """:func:`validation_settings` as a plain mapping (every key present), for the rules that
    look a permitted-values list up by the contract's ``allowed`` name."""
    return validation_settings(config).model_dump()
