"""One rule per status: how a figure gets its colour, in one place for every page.

* :func:`deviation_status`: actual against plan (the method's 5 / 10 / 15 % bands, and
  "ahead" beyond the ahead threshold), used by flags, first screens and KPI tables.
* :func:`probability_status`: a probability of hitting the plan against the risk bands
  (``risk.probability``: at least ``high`` green, at least ``medium`` yellow, else red).
* :func:`landing_status`: the year-end landing, the worse of the two above (P(hit) and the
  landing's gap to the annual target), the same on the index, the forecast and the
  retrospective.
* :func:`fmt_probability`: P(hit) as pages print it, "< 1 %" and "> 99 %" at the extremes.

Gaps follow one sign convention everywhere: ``gap = actual (or landing) - target``,
negative = behind plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
from pydantic import ValidationError

from salesplan.metrics import attainment
from salesplan.settings import Bands, Thresholds

S = TypeVar("S", Thresholds, Bands)


class StatusInputError(ValueError):
    """Thresholds or bands that cannot classify anything (missing, not numbers, out of order)."""


STATUS_ORDER: tuple[str, ...] = ("dark_red", "red", "yellow", "green", "ahead", "no_target")
"""Statuses, most severe first. ``ahead`` = ahead of plan by more than the ahead threshold."""

SEVERITY: dict[str, int] = {"ahead": 0, "green": 1, "yellow": 2, "red": 3, "dark_red": 4}
"""Rank of a status for "better / worse" comparisons (``no_target`` has no rank)."""

# Deviations are rounded before comparison so 95/100 - 1 = -0.05000000000000004 stays
# exactly 5 % behind (green) instead of flipping to yellow on floating error.
_DEVIATION_DECIMALS = 9


def thresholds_of(thresholds: Thresholds | Mapping[str, float]) -> Thresholds:
    """The flag thresholds as the typed ``retro.thresholds`` section (:class:`~salesplan.settings.Thresholds`:
    fractions behind plan with ``yellow < red < dark_red``, ``ahead`` the fraction ahead of
    plan, each between 0 and 1); a mapping is validated into it, its problems raised as
    :class:`StatusInputError` naming ``retro.thresholds``."""
    return _section(Thresholds, thresholds, "retro.thresholds")


def bands_of(bands: Bands | Mapping[str, float]) -> Bands:
    """The probability bands as the typed ``risk.probability`` section (``medium < high``); a
    mapping is validated into it, its problems raised as :class:`StatusInputError`."""
    return _section(Bands, bands, "risk.probability")


def _section(model: type[S], value: S | Mapping[str, float], where: str) -> S:
    """``value`` as the typed section ``model``: as it is when typed, else the mapping validated
    (every key required, none extra: these rules have no partial form), its problems raised as
    :class:`StatusInputError` naming the section's key ``where``."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(dict(value))
    except (ValidationError, TypeError, ValueError) as exc:
        raise StatusInputError(f"{where}: {_problems(exc)} (got {value!r})") from None


def _problems(exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'values'}: {err['msg']}" for err in exc.errors(include_url=False)
    )


def check_thresholds(thresholds: Thresholds | Mapping[str, float]) -> dict[str, float]:
    """Validate the flag thresholds (:func:`thresholds_of`): ``0 <= yellow < red < dark_red <= 1``
    and ``0 <= ahead <= 1``. Returns them as a mapping of floats."""
    return {name: float(value) for name, value in thresholds_of(thresholds).model_dump().items()}


def deviation(actual: Any, target: Any) -> Any:
    """Deviation from plan: ``actual / target - 1`` (negative = behind), rounded to 1e-9.

    NaN where the target is 0, negative or missing (see :func:`salesplan.metrics.attainment`).
    """
    if isinstance(actual, list | tuple):
        actual = np.asarray(actual, dtype=float)
    if isinstance(target, list | tuple):
        target = np.asarray(target, dtype=float)
    return np.round(attainment(actual, target) - 1.0, _DEVIATION_DECIMALS)


def deviation_status(actual: Any, target: Any, thresholds: Thresholds | Mapping[str, float]) -> np.ndarray:
    """Status of each item from its deviation ``d = actual / target - 1`` (``behind = -d``):

    * ``no_target``: target 0, negative or missing (attainment undefined)
    * ``ahead``:     d > ahead threshold (default: the yellow threshold, 5 %)
    * ``green``:     behind <= yellow (within 5 % of plan, exactly 5 % behind is green)
    * ``yellow``:    yellow < behind <= red (5-10 %, level 1)
    * ``red``:       red < behind <= dark_red (10-15 %, level 2)
    * ``dark_red``:  behind > dark_red (above 15 %, level 3)

    Elementwise on scalars, arrays or Series; returns an array of strings.
    """
    t = thresholds_of(thresholds)
    d = np.atleast_1d(np.asarray(deviation(actual, target), dtype=float))
    behind = -d
    return np.select(
        [np.isnan(d), d > t.ahead, behind <= t.yellow, behind <= t.red, behind <= t.dark_red],
        ["no_target", "ahead", "green", "yellow", "red"],
        default="dark_red",
    ).astype(object)


def probability_status(p_hit: Any, bands: Bands | Mapping[str, float]) -> np.ndarray:
    """Status of a probability of hitting the plan: ``green`` when ``p >= bands.high``,
    ``yellow`` when ``p >= bands.medium``, else ``red``; ``no_target`` where ``p`` is NaN.
    ``bands``: the ``risk.probability`` settings (the method's 70 % / 30 %)."""
    p = np.atleast_1d(np.asarray(p_hit, dtype=float))
    typed = bands_of(bands)
    high, medium = float(typed.high), float(typed.medium)
    return np.select([np.isnan(p), p >= high, p >= medium], ["no_target", "green", "yellow"], default="red").astype(
        object
    )


def worse(a: Any, b: Any) -> np.ndarray:
    """Elementwise the more severe of two statuses (``no_target`` only where both have none)."""
    a = np.atleast_1d(np.asarray(a, dtype=object))
    b = np.atleast_1d(np.asarray(b, dtype=object))
    rank_a = np.array([SEVERITY.get(x, -1) for x in a])
    rank_b = np.array([SEVERITY.get(x, -1) for x in b])
    return np.where(rank_b > rank_a, b, a).astype(object)


def landing_status(
    p_hit: Any,
    landing: Any,
    target: Any,
    thresholds: Thresholds | Mapping[str, float],
    bands: Bands | Mapping[str, float],
) -> np.ndarray:
    """Status of a year-end landing: the worse of :func:`probability_status` of ``p_hit`` and
    :func:`deviation_status` of ``landing`` against the annual ``target``. A landing 3 % short
    with a 0.2 % chance of reaching the target is red, not green; one on target with a 50 %
    chance is yellow. ``no_target`` without a target.

    ``p_hit`` is the landing table's (:func:`salesplan.forecast.hierarchy.landing_table`): 1
    once the YTD actual meets the target, and for a series shorter than any the P(hit)
    recalibration learned from, the model's own probability read from its (wide) band, so a
    coin-flip there stays a coin-flip: yellow, never green."""
    return worse(probability_status(p_hit, bands), deviation_status(landing, target, thresholds))


P_FLOOR = 0.01
"""Probabilities below this (or above 1 - this) print as "< 1 %" / "> 99 %"."""

PROBABILITY_NOTE = (
    'P(hit) is printed as "< 1 %" or "> 99 %" at the extremes: the company\'s own backtests '
    "hold a few hundred cases, too few to tell 0.2 % from 0.9 % apart, and the model's tails "
    "rest on the normal/Student-t shape of its errors, which no data here can confirm that far out."
)


def fmt_probability(p: Any) -> str:
    """P(hit) for pages: "< 1 %", "> 99 %", else a whole percentage ("37 %"); "–" when missing."""
    if p is None:
        return "–"
    value = float(p)
    if np.isnan(value):
        return "–"
    if value < P_FLOOR:
        return "< 1 %"
    if value > 1 - P_FLOOR:
        return "> 99 %"
    return f"{value * 100:.0f} %"


# ------------------------------------------------------------------ attainment bands and wording


def attainment_status(attainment: Any, thresholds: Thresholds | Mapping[str, float]) -> np.ndarray:
    """The status of an attainment (``actual / target``), by the same bands as
    :func:`deviation_status` (which it calls with a target of 1): with the method's
    thresholds, ``ahead`` above 105 %, ``green`` 95-105 % (exactly 95 % is green), ``yellow``
    90-95 %, ``red`` 85-90 %, ``dark_red`` below 85 %, ``no_target`` where attainment is
    missing. Every page colours an attainment through this function, so 98.8 % is green on
    the review page as in the retrospective's flags."""
    a = np.atleast_1d(np.asarray(attainment, dtype=float))
    return deviation_status(a, np.where(np.isnan(a), np.nan, 1.0), thresholds)


STATUS_WORDS: dict[str, str] = {
    "dark_red": "dark red",
    "red": "red",
    "yellow": "yellow",
    "green": "green",
    "ahead": "ahead",
    "no_target": "no target",
}
"""How each status is written on a page. Every word names one status only: "red" never
includes "dark red", "green" never includes "ahead"."""


def status_word(status: str | None) -> str:
    """The page word of one status ("dark_red" -> "dark red"); "–" for a missing one."""
    if status is None or (isinstance(status, float) and np.isnan(status)):
        return "–"
    return STATUS_WORDS.get(str(status), str(status).replace("_", " "))


def counts_text(counts: Mapping[str, Any], sep: str = " / ") -> str:
    """Items per status as one line, every status apart, most severe first:
    "32 dark red / 6 red / 3 yellow / 9 green / 22 ahead" (``no target`` added only when
    there are such items). ``counts``: status -> number, missing statuses count 0."""
    shown = [s for s in STATUS_ORDER if s != "no_target" or int(counts.get(s, 0) or 0)]
    return sep.join(f"{int(counts.get(s, 0) or 0)} {STATUS_WORDS[s]}" for s in shown)


def risk_order(
    frame: Any,
    status: str = "status",
    p_hit: str | None = "p_hit",
    gap: str | None = "gap",
    within: str | None = None,
) -> Any:
    """``frame`` sorted most at risk first: by ``status`` from dark red to ahead (then no
    target), then by the lowest P(hit), then by the largest shortfall (most negative gap);
    ties keep their order. ``p_hit`` / ``gap``: column names, None (or absent) to skip.
    ``within``: a column whose groups keep their order of first appearance (the total, then
    the regions, then the product lines), each group sorted most at risk first."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    keys = {}
    if within is not None:
        first_seen = {g: i for i, g in enumerate(dict.fromkeys(frame[within]))}
        keys["_group"] = frame[within].map(first_seen)
    keys["_rank"] = frame[status].map(lambda s: rank.get(s, len(rank)))
    if p_hit is not None and p_hit in frame.columns:
        keys["_p"] = frame[p_hit].astype(float)
    if gap is not None and gap in frame.columns:
        keys["_gap"] = frame[gap].astype(float)
    return frame.assign(**keys).sort_values(list(keys), kind="stable", na_position="last").drop(columns=list(keys))


# ------------------------------------------------------------------ the status style, one place

STATUS_COLOURS: dict[str, str] = {
    "ahead": "#005AB5",
    "green": "#66C2A5",
    "yellow": "#F0E442",
    "red": "#DC3220",
    "dark_red": "#67000D",
    "no_target": "#BDBDBD",
    "none": "#BDBDBD",
}
"""Background colour of each status on pages, in charts, on the index and in the workbook.

Red is red and dark red a darker red, so a chip reads as its word. The five statuses stay
apart for readers with deuteranopia, protanopia and tritanopia and in greyscale: simulated
with the Machado et al. (2009) matrices at full severity, every pair keeps a CAM02-UCS
distance above 25 (above 15 in greyscale, by lightness alone), so the pages do not rely on
hue; every status also carries a symbol (:data:`STATUS_SYMBOLS`)."""

STATUS_TEXT: dict[str, str] = {
    "ahead": "white",
    "green": "black",
    "yellow": "black",
    "red": "white",
    "dark_red": "white",
    "no_target": "black",
    "none": "black",
}
"""Text colour that stays readable on each status colour (WCAG contrast of at least 4.5:1)."""

STATUS_SYMBOLS: dict[str, str] = {
    "ahead": "★",
    "green": "●",
    "yellow": "▲",
    "red": "■",
    "dark_red": "◆",
    "no_target": "–",
    "none": "–",
}
"""The symbol beside each status word, so colour is never the only signal."""

STATUS_MEANINGS: dict[str, str] = {
    "ahead": "ahead of plan",
    "green": "on plan",
    "yellow": "level 1: behind",
    "red": "level 2: further behind",
    "dark_red": "level 3: furthest behind",
    "no_target": "no target",
}
"""What each status says, for legends without thresholds at hand."""


def status_bands(thresholds: Thresholds | Mapping[str, float] | None = None) -> dict[str, str]:
    """What each status means, with the band limits of ``thresholds`` (the ``retro.thresholds``
    settings) when given: "ahead" = "more than 5 % ahead", "yellow" = "5-10 % behind", …; the
    words of :data:`STATUS_MEANINGS` without them."""
    if not thresholds:
        return {s: STATUS_MEANINGS[s] for s in ("ahead", "green", "yellow", "red", "dark_red")}
    t = thresholds_of(thresholds)

    def pct(v: float) -> str:
        return f"{v * 100:.0f}"

    return {
        "ahead": f"more than {pct(t.ahead)} % ahead",
        "green": f"within {pct(t.yellow)} % of plan",
        "yellow": f"{pct(t.yellow)}-{pct(t.red)} % behind",
        "red": f"{pct(t.red)}-{pct(t.dark_red)} % behind",
        "dark_red": f"more than {pct(t.dark_red)} % behind",
    }


def status_label(status: str | None) -> str:
    """A status as symbol and word ("■ red", "◆ dark red"); "–" for none."""
    if status is None or (isinstance(status, float) and np.isnan(status)) or not str(status) or status == "none":
        return STATUS_SYMBOLS["none"]
    return f"{STATUS_SYMBOLS.get(str(status), '')} {status_word(str(status))}".strip()


def status_css(status: str | None) -> str:
    """The inline style of a cell or chip of ``status``: its background and readable text colour;
    empty for no status or no target (the cell keeps the page's colours)."""
    key = "" if status is None or (isinstance(status, float) and np.isnan(status)) else str(status)
    if key not in STATUS_COLOURS or key in ("none", "no_target", ""):
        return ""
    return f"background-color: {STATUS_COLOURS[key]}; color: {STATUS_TEXT[key]};"


def legend_handles(thresholds: Thresholds | Mapping[str, float] | None = None) -> list[Any]:
    """Matplotlib legend entries of the five statuses: colour patch, symbol, word and band."""
    from matplotlib.patches import Patch  # charts only: status stays importable without matplotlib

    return [
        Patch(
            facecolor=STATUS_COLOURS[s],
            edgecolor="#666666",
            label=f"{STATUS_SYMBOLS[s]} {STATUS_WORDS[s]}: {text}",
        )
        for s, text in status_bands(thresholds).items()
    ]
