"""Feedback on a trainee's answer: what is off, by how much, and the hint that leads there.

The checks in :mod:`salesplan.workshop.checks` compute the expected values with the library and,
for every typical mistake, the value that mistake would give (a :class:`Mistake`). :func:`compare`
puts the answer next to both: items within the tolerance of the expected value are right; an item
that is off and matches a mistake's value gets that mistake's hint.

Feedback teaches without telling: it names the item that is off, the direction and a coarse size
(under 1 %, 1-10 %, over 10 %), the mistake it matches and the step to re-check, never the expected
value. A facilitator may switch the expected values on (:func:`reveal`, or the environment variable
``SALESPLAN_WORKSHOP_REVEAL=1``), for instance to explain an answer in front of the room.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

STATUS_SYMBOL = {"correct": "✓", "wrong": "✗", "not_answered": "…", "invalid": "?"}
RECORD_ENV = "SALESPLAN_WORKSHOP_RECORD"
"""Environment variable naming a JSON-lines file: when set, every check's result is appended to it
(``{"check", "status"}``), which is how ``salesplan workshop score`` counts a team's checks."""

REVEAL_ENV = "SALESPLAN_WORKSHOP_REVEAL"
"""Environment variable: ``1`` (or ``true``/``yes``) makes feedback show the expected values."""
_REVEAL: list[bool | None] = [None]

UNIT_SLIPS = (
    (1e-6, "your amounts look like millions: give them in currency units (12.5 M is 12_500_000)"),
    (1e-3, "your amounts look like thousands: give them in currency units (350 K is 350_000)"),
    (100.0, "your shares look like percentages: give them as fractions (12.5 % is 0.125)"),
    (0.01, "your numbers look 100 times too small: a percentage given as a fraction of a fraction?"),
)
"""Answer / expected ratios that mean a unit slip, and the one line that says so."""
UNIT_HEADLINE = "the numbers are right, the unit is not."
UNIT_SLIP_TOLERANCE = 0.02
"""A ratio within 2 % of a slip's ratio counts as that slip (the answer may be rounded in its unit)."""


def reveal(on: bool | None = None, *, reset: bool = False) -> bool:
    """Whether feedback shows the expected values (the facilitator's switch).

    ``reveal(True)`` / ``reveal(False)`` set it for this Python process; ``reveal(reset=True)`` goes back to
    the environment variable ``SALESPLAN_WORKSHOP_REVEAL`` (``1``, ``true``, ``yes`` or ``on``); ``reveal()``
    only reads. Returns the value in force. Off by default: a trainee's feedback names the mistake and the
    step to re-check, not the answer.
    """
    if reset:
        _REVEAL[0] = None
    if on is not None:
        _REVEAL[0] = bool(on)
    if _REVEAL[0] is not None:
        return bool(_REVEAL[0])
    return os.environ.get(REVEAL_ENV, "").strip().casefold() in {"1", "true", "yes", "on"}


def size_word(answer: float, expected: float) -> str:
    """How far off, coarsely, relative to the expected value: under 1 %, 1-10 % or over 10 % (enough to
    steer, not enough to back out the answer)."""
    if expected == 0:
        return ""
    r = abs(answer - expected) / abs(expected)
    return "by less than 1 %" if r < 0.01 else "by 1-10 %" if r <= 0.10 else "by more than 10 %"


def unit_slip(answer: Mapping[str, float], expected: Mapping[str, float]) -> str | None:
    """The one-line message when every answered item is the expected value in another unit (K, M, %), else None."""
    pairs = [(float(answer[k]), float(expected[k])) for k in expected if k in answer and float(expected[k]) != 0]
    if not pairs:
        return None
    for ratio, message in UNIT_SLIPS:
        if all(abs(a / e / ratio - 1) <= UNIT_SLIP_TOLERANCE for a, e in pairs):
            return message
    return None


STATUS_COLOUR = {"correct": "#1a9850", "wrong": "#d7301f", "not_answered": "#5a5a5a", "invalid": "#b35806"}


@dataclass
class Feedback:
    """The result of a check: ``status`` (``correct``, ``wrong``, ``not_answered``, ``invalid``), a one-line
    ``headline``, ``details`` (one line per item that is off) and ``hints``. Shows itself as text and HTML."""

    check: str
    status: str
    headline: str
    details: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        record = os.environ.get(RECORD_ENV)
        if record:
            with open(record, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"check": self.check, "status": self.status}, ensure_ascii=False) + "\n")

    @property
    def ok(self) -> bool:
        """True when the answer is right."""
        return self.status == "correct"

    def text(self) -> str:
        """The feedback as plain text (what nbval compares and a terminal shows)."""
        lines = [f"{STATUS_SYMBOL[self.status]} {self.check}: {self.headline}"]
        lines += [f"  - {d}" for d in self.details]
        lines += [f"  Hint: {h}" for h in self.hints]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour = STATUS_COLOUR[self.status]
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.details)
        items = f"<ul style='margin:4px 0'>{items}</ul>" if items else ""
        hints = "".join(f"<p style='margin:4px 0'><b>Hint:</b> {html.escape(h)}</p>" for h in self.hints)
        return (
            f"<div style='border-left:6px solid {colour};padding:6px 12px;margin:4px 0;background:#fafafa'>"
            f"<b style='color:{colour}'>{STATUS_SYMBOL[self.status]} {html.escape(self.check)}</b>: "
            f"{html.escape(self.headline)}{items}"
            f"{hints}</div>"
        )


@dataclass(frozen=True)
class Mistake:
    """A typical mistake: the values it produces (item -> value) and the hint that leads back."""

    name: str
    values: Mapping[str, Any]
    hint: str


def not_answered(check: str, example: str) -> Feedback:
    """Feedback for ``answer = None``: what to put in the answer cell."""
    return Feedback(
        check,
        "not_answered",
        "not answered yet. Replace `answer = None` with your answer and run the two cells again.",
        hints=[f"expected form: {example}"],
    )


def invalid(check: str, message: str, example: str) -> Feedback:
    """Feedback for an answer of the wrong shape (not a wrong number: the check cannot read it)."""
    return Feedback(check, "invalid", message, hints=[f"expected form: {example}"])


def money(value: float) -> str:
    """An amount as people say it: 12.4 M, 350 K, 80."""
    v = abs(float(value))
    if v >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if v >= 1e4:
        return f"{value / 1e3:,.1f} K"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def pct(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.1234 -> 12.3 %."""
    return f"{value * 100:.{decimals}f} %"


class AnswerError(ValueError):
    """The answer cannot be read as the expected form (the message says why)."""


def _key(value: Any) -> str:
    return str(value).strip().casefold()


def as_mapping(
    answer: Any,
    keys: Sequence[str],
    key_columns: Sequence[str] = (),
    value_columns: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
    orders: Sequence[Sequence[str]] = (),
    expected: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Read an answer given per item as ``{expected key: value}``.

    Accepts a dict, a Series (indexed by item), a DataFrame (a key column from ``key_columns``, a column
    named ``index`` as ``reset_index`` leaves it, or the index; and a value column from ``value_columns`` or
    its only numeric column; a one-row frame with the items as columns also works), or a list / array in the
    order of ``keys``. A list may also follow one of ``orders`` (e.g. the order a table in the notebook shows
    the items): with ``expected`` given, the order whose values lie closest to it is taken, so a list is read
    the way it was written. Keys match case-insensitively; ``aliases`` maps other spellings to expected keys.
    Keys not expected are kept as they were written.
    """
    lookup = {_key(k): k for k in keys}
    lookup.update({_key(a): k for a, k in (aliases or {}).items()})
    if isinstance(answer, pd.DataFrame):
        frame = answer
        wanted = {_key(k) for k in key_columns} | {"index", "level_0"}
        key_col = next((c for c in frame.columns if _key(c) in wanted), None)
        if key_col is None:
            # A key column under another name: the only column whose values are the items.
            key_col = next(
                (c for c in frame.columns if len(frame) and frame[c].map(_key).isin(set(lookup)).all()), None
            )
        if key_col is None and len(frame) == 1 and {_key(c) for c in frame.columns} & set(lookup):
            answer = frame.iloc[0]
        else:
            if key_col is not None:
                frame = frame.set_index(key_col)
            value_col = next((c for c in frame.columns if _key(c) in {_key(v) for v in value_columns}), None)
            if value_col is None:
                numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
                if len(numeric) != 1:
                    raise AnswerError(
                        f"a table with columns {', '.join(map(str, frame.columns))}: say which column holds the "
                        f"answer (name it {value_columns[0] if value_columns else 'value'!r}) or give a dict"
                    )
                value_col = numeric[0]
            answer = frame[value_col]
    if isinstance(answer, pd.Series):
        answer = answer.to_dict()
    if isinstance(answer, list | tuple | np.ndarray):
        values = list(np.asarray(answer, dtype=object).reshape(-1)) if isinstance(answer, np.ndarray) else list(answer)
        if len(values) != len(keys):
            raise AnswerError(f"a list of {len(values)} values; expected {len(keys)} ({', '.join(map(str, keys))})")
        candidates = [list(keys), *[list(o) for o in orders if sorted(map(str, o)) == sorted(map(str, keys))]]
        if expected is not None and len(candidates) > 1:
            candidates.sort(key=lambda order: _distance(dict(zip(order, values, strict=True)), expected))
        return dict(zip(candidates[0], values, strict=True))
    if not isinstance(answer, Mapping):
        raise AnswerError(f"a {type(answer).__name__}; expected one value per item ({', '.join(map(str, keys))})")
    return {lookup.get(_key(k), str(k)): v for k, v in answer.items()}


def _distance(answer: Mapping[str, Any], expected: Mapping[str, float]) -> float:
    """Sum of relative distances of the readable values (unreadable ones count as far)."""
    total = 0.0
    for k, e in expected.items():
        try:
            v = float(answer[k])
        except (KeyError, TypeError, ValueError):
            total += 1e9
            continue
        total += abs(v - float(e)) / max(abs(float(e)), 1e-12)
    return total


def as_number(value: Any, what: str) -> float:
    """A single number from a number, a one-element Series or a numeric string with separators."""
    if isinstance(value, pd.Series | pd.DataFrame | np.ndarray | list | tuple):
        flat = np.asarray(value, dtype=object).reshape(-1)
        if flat.size != 1:
            raise AnswerError(f"{what}: expected one number, got {flat.size} values")
        value = flat[0]
    if isinstance(value, str):
        value = value.replace(",", "").replace("_", "").strip()
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise AnswerError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise AnswerError(f"{what}: expected a finite number, got {value!r}")
    return out


def compare(
    check: str,
    answer: Mapping[str, float],
    expected: Mapping[str, float],
    tolerance: float | Callable[[float], float],
    mistakes: Iterable[Mistake] = (),
    label: Callable[[str], str] = str,
    fmt: Callable[[float], str] = money,
    general_hint: str = "",
    tolerance_text: str = "",
) -> Feedback:
    """Compare numbers item by item.

    An item is right when ``|answer - expected| <= tolerance`` (a number or a function of the expected value).
    For each item that is off, the first mistake whose value for that item is also within tolerance of the
    answer (and not of the expected value) supplies the hint. Missing and unknown items are named. When every
    answered item is the expected value in another unit (:data:`UNIT_SLIPS`: M, K, %), one line says so
    instead of a line per item. Expected values appear only when :func:`reveal` is on.
    """
    tol = tolerance if callable(tolerance) else (lambda _e, t=float(tolerance): t)
    missing = [k for k in expected if k not in answer]
    unknown = [k for k in answer if k not in expected]
    details: list[str] = []
    hints: list[str] = []
    if missing:
        details.append(f"missing: {', '.join(label(k) for k in missing)}")
    if unknown:
        details.append(f"not expected here: {', '.join(map(str, unknown))} (items: {', '.join(map(label, expected))})")
    values: dict[str, float] = {}
    for k in expected:
        if k in answer:
            try:
                values[k] = as_number(answer[k], label(k))
            except AnswerError as exc:
                details.append(str(exc))
    off = [k for k, v in values.items() if abs(v - float(expected[k])) > tol(float(expected[k]))]
    if off and not missing and not unknown and (slip := unit_slip(values, expected)) is not None:
        return Feedback(check, "wrong", UNIT_HEADLINE, [slip])
    mistakes = list(mistakes)
    shown = reveal()

    def explains(m: Mistake, k: str) -> bool:
        if k not in m.values or not np.isfinite(float(m.values[k])):
            return False
        e = float(expected[k])
        return abs(values[k] - float(m.values[k])) <= tol(e) and abs(float(m.values[k]) - e) > tol(e)

    # A mistake that explains every item that is off is said once, on top, not on every line.
    whole = next((m for m in mistakes if len(off) > 1 and all(explains(m, k) for k in off)), None)
    if whole is not None:
        hints.append(f"every item that is off matches one mistake: {whole.hint}")
    matched = whole is not None
    if whole is not None and not shown:
        details.append(f"off: {', '.join(label(k) for k in off)}")
    for k in off if whole is None or shown else []:
        v, e = values[k], float(expected[k])
        direction = "too high" if v > e else "too low"
        line = f"{label(k)} is {direction} {size_word(v, e)}".rstrip()
        if shown:
            line += f" (yours {fmt(v)}, expected {fmt(e)})"
        if whole is None:
            m = next((m for m in mistakes if explains(m, k)), None)
            if m is not None:
                line += f": {m.hint}"
                matched = True
        details.append(line)
    if not missing and not unknown and not off and len(values) == len(expected):
        return Feedback(check, "correct", f"correct{f' (within {tolerance_text})' if tolerance_text else ''}.")
    if off and not matched and general_hint:
        hints.append(general_hint)
    n_wrong = len(off) + len(missing)
    single = len(expected) == 1
    headline = (
        "not right yet"
        if single and n_wrong
        else (
            f"{n_wrong} of {len(expected)} {'item is' if n_wrong == 1 else 'items are'} off"
            if n_wrong
            else "the answer cannot be read completely"
        )
    )
    if tolerance_text:
        headline += f" (tolerance {tolerance_text})"
    return Feedback(check, "wrong", headline + ".", details, hints)
