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

import pandas as pd

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


def settings_table(*names: str) -> pd.DataFrame:
    """The method's settings an exercise uses (dotted names, e.g. ``"targets.top_down"``), one row per
    setting, read from the library's defaults (:func:`salesplan.config.load_config`)."""
    cfg = company().config
    values = {}
    for name in names:
        value = cfg
        for p in name.split("."):
            value = value[p]
        values[name] = value
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
