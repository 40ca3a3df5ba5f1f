"""Workshop edition: exercises in target setting and decomposition on a small fixed company.

Trainees practise the method with one logic, one template and one vocabulary: the annual number three
ways, the gap and its reconciliation, phasing, allocation to regions and reps, and reading a
retrospective. Each exercise's ``check_*`` function compares an answer with the library's own result and
says which part is off, in which direction, and which typical mistake it matches, never the expected value
(:func:`reveal` is the facilitator's switch that shows it).

Typical use in a notebook::

    import salesplan.workshop as ws
    co = ws.company()
    ws.task("1a")
    answer = None  # your answer here
    ws.check_baseline(answer)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, TypeAdapter

from salesplan.config import assumptions_table
from salesplan.workshop.checks import (
    annual_target,
    check_availability,
    check_baseline,
    check_bottom_up_regions,
    check_bottom_up_reps,
    check_five_why,
    check_market_share,
    check_phasing,
    check_process_targets,
    check_pvm,
    check_reconciled_regions,
    check_reconciliation,
    check_region_split,
    check_rep_targets,
    check_revision,
    check_season_question,
    check_statuses,
    check_target_levels,
    check_top_down,
    givens,
    region_month_targets,
)
from salesplan.workshop.company import WorkshopCompany, company
from salesplan.workshop.exercises import EXERCISES, task, vocabulary
from salesplan.workshop.feedback import Feedback, reveal
from salesplan.workshop.glossary import GLOSSARY, glossary_table, term
from salesplan.workshop.whatif import (
    WhatIf,
    whatif_commission,
    whatif_level_coefficients,
    whatif_multiplier,
    whatif_phasing,
    whatif_potential_index,
)

__all__ = [
    "EXERCISES",
    "GLOSSARY",
    "Feedback",
    "WhatIf",
    "WorkshopCompany",
    "annual_target",
    "check_availability",
    "check_baseline",
    "check_bottom_up_regions",
    "check_bottom_up_reps",
    "check_five_why",
    "check_market_share",
    "check_phasing",
    "check_process_targets",
    "check_pvm",
    "check_reconciled_regions",
    "check_reconciliation",
    "check_region_split",
    "check_rep_targets",
    "check_revision",
    "check_season_question",
    "check_statuses",
    "check_target_levels",
    "check_top_down",
    "company",
    "copy_exercises",
    "givens",
    "glossary_table",
    "region_month_targets",
    "reveal",
    "settings_table",
    "task",
    "term",
    "vocabulary",
    "whatif_commission",
    "whatif_level_coefficients",
    "whatif_multiplier",
    "whatif_phasing",
    "whatif_potential_index",
]

EXERCISE_DIR = Path(__file__).resolve().parents[3] / "notebooks" / "workshop"
"""The exercise notebooks in the project (``notebooks/workshop``)."""


def _setting(settings: BaseModel, name: str) -> Any:
    """The value of the dotted setting ``name``: a section's fields by attribute, then (inside a mapping
    setting such as ``targets.bottom_up.level_coefficient``) its entries by key; a section, or a setting
    holding sections (``targets.phasing.seasonal_templates``), as plain values."""
    value: Any = settings
    for part in name.split("."):
        if isinstance(value, BaseModel) and part in type(value).model_fields:
            value = getattr(value, part)
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"no setting {name!r}: {part!r} is not a key there")
    # Any-typed dumping turns every section inside the value into a dict, as the settings file spells it.
    return TypeAdapter(Any).dump_python(value)


def settings_table(*names: str) -> pd.DataFrame:
    """The method's settings an exercise uses (dotted names, e.g. ``"targets.top_down"``), one row per
    setting, read from the library's defaults (:func:`salesplan.config.load_settings`). A name that is
    not a setting raises ``KeyError`` naming it."""
    settings = company().settings
    values = {name: _setting(settings, name) for name in names}
    return assumptions_table(values, *names).set_index("key")[["value"]].rename_axis("setting")


def copy_exercises(dest: str | Path, source: str | Path | None = None, *, force: bool = True) -> list[Path]:
    """Fresh trainee copies: the five exercise notebooks (not the solutions) written to ``dest`` with their
    answer cells as shipped (``answer = None``) and every output cleared (a saved what-if or table could
    show an answer). With ``force`` (the default) existing copies in ``dest`` are replaced, so this also
    resets a trainee's folder; with ``force=False`` a ``dest`` that already holds an exercise notebook is
    refused and left untouched (:class:`salesplan.workshop.kit.WorkshopKitError`). The facilitator's
    ``salesplan workshop copy`` (:func:`salesplan.workshop.kit.copy_team`) refuses by default. Returns the
    paths written."""
    from salesplan.workshop.kit import EXERCISE_GLOB, WorkshopKitError, write_exercises

    src = Path(source) if source is not None else EXERCISE_DIR
    out = Path(dest)
    if not force and out.is_dir() and any(out.glob(EXERCISE_GLOB)):
        raise WorkshopKitError(
            f"{out} already holds exercise notebooks: nothing was changed (force=True replaces them)"
        )
    out.mkdir(parents=True, exist_ok=True)
    return write_exercises(out, src)
