"""What-ifs: change one assumption and see what moves, on the workshop company.

Each ``whatif_*`` function returns a :class:`WhatIf`. Shown in JupyterLab (a front-end with a widget
manager) it draws sliders or a drop-down and re-computes and re-draws the table and chart on every
change. Without a front-end (papermill, nbval, nbconvert, a plain Python prompt) it shows the default
state as a static table and chart, so the same notebook cell runs everywhere without widget errors.

What-ifs only compute: they never save a plan version (nothing here writes a file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from salesplan.commission import commission_for
from salesplan.plots.base import PALETTE, apply_theme, money_axis
from salesplan.plots.targets import method_comparison, phasing_vs_last_year
from salesplan.targets import bottom_up_regions, monthly_shares, phase_total, reconcile, top_down
from salesplan.workshop import checks
from salesplan.workshop.company import _build
from salesplan.workshop.glossary import term

DPI = 72
"""Chart resolution: modest, so notebooks with committed outputs stay small."""


@dataclass(frozen=True)
class Control:
    """One assumption a trainee can change: a slider (``low``, ``high``, ``step``) or a drop-down (``options``)."""

    name: str
    label: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: Sequence[str] = ()


def frontend_present() -> bool:
    """True inside a kernel started by a Jupyter server (JupyterLab, Notebook, VS Code), which sets
    ``JPY_SESSION_NAME`` for its kernels; papermill, nbval and nbconvert do not, and nor does plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel") and bool(os.environ.get("JPY_SESSION_NAME"))


@dataclass
class WhatIf:
    """A what-if: ``compute(**values) -> table`` and ``draw(table, **values) -> Figure`` over ``controls``.

    ``interactive``: True draws widgets, False the static default state, None decides by
    :func:`frontend_present`.
    """

    title: str
    controls: list[Control]
    compute: Callable[..., pd.DataFrame]
    draw: Callable[..., Figure]
    interactive: bool | None = None
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = {c.name: c.default for c in self.controls} | self.values

    def table(self, **changes: Any) -> pd.DataFrame:
        """The table for the current values with ``changes`` applied."""
        return self.compute(**(self.values | changes))

    def figure(self, **changes: Any) -> Figure:
        """The chart for the current values with ``changes`` applied."""
        values = self.values | changes
        apply_theme(dpi=DPI)
        return self.draw(self.compute(**values), **values)

    def settings(self) -> pd.DataFrame:
        """The values in use, one row per control."""
        return pd.DataFrame(
            [(c.label, self.values[c.name]) for c in self.controls], columns=["assumption", "value"]
        ).set_index("assumption")

    def _show(self, values: dict[str, Any]) -> None:
        table = self.compute(**values)
        display(table)
        apply_theme(dpi=DPI)
        fig = self.draw(table, **values)
        display(fig)
        plt.close(fig)

    def _ipython_display_(self) -> None:
        display(Markdown(f"**What-if: {self.title}**" + (f" — {self.note}" if self.note else "")))
        interactive = frontend_present() if self.interactive is None else self.interactive
        if not interactive:
            display(self.settings())
            self._show(dict(self.values))
            return
        import ipywidgets as widgets

        boxes: dict[str, Any] = {}
        for c in self.controls:
            if c.options:
                boxes[c.name] = widgets.Dropdown(options=list(c.options), value=c.default, description=c.label)
            else:
                boxes[c.name] = widgets.FloatSlider(
                    value=c.default, min=c.low, max=c.high, step=c.step, description=c.label,
                    readout_format=".2f", continuous_update=False, style={"description_width": "initial"},
                )  # fmt: skip
        out = widgets.Output()

        def redraw(**values: Any) -> None:
            self.values.update(values)
            with out:
                out.clear_output(wait=True)
                self._show(dict(self.values))

        widgets.interactive_output(redraw, boxes)
        display(widgets.VBox([widgets.HBox(list(boxes.values())[i : i + 3]) for i in range(0, len(boxes), 3)] + [out]))


# --------------------------------------------------------------------------------------
# the five what-ifs


def whatif_multiplier(
    multiplier: float | None = None, industry_growth: float | None = None, interactive: bool | None = None
) -> WhatIf:
    """HQ's multiplier and the industry growth rate against the bottom-up sums and the blended target.

    ``top-down = LY x (1 + industry growth x multiplier)`` (:func:`salesplan.targets.top_down`); final by the
    exercise's blend rule (:func:`salesplan.targets.reconcile`).
    """
    co = _build()
    ly = checks.last_year()
    steps = checks.expected_baseline().set_index("step")["amount"]
    bu_regions = float(checks.expected_regions()["bottom_up"].sum())
    bu_reps = float(checks.expected_reps()["bottom_up"].sum())
    weight = float(co.settings.targets.reconcile.top_down_weight)

    def compute(multiplier: float, industry_growth: float) -> pd.DataFrame:
        td = top_down(ly, {"method": "industry_growth", "industry_growth": industry_growth, "multiplier": multiplier})
        rec = reconcile(td, bu_regions, co.reconcile_rule, weight)
        rows = [("Last 12 months", ly), ("Baseline", steps["baseline"]), ("Stretch", steps["stretch"]),
                ("Top-down", td), ("Bottom-up regions", bu_regions), ("Bottom-up reps", bu_reps),
                ("Gap (top-down - bottom-up)", rec["gap"]), ("Reconciled target (blend)", rec["final"])]  # fmt: skip
        return pd.DataFrame(rows, columns=["method", "amount"]).astype({"amount": float})

    def draw(table: pd.DataFrame, multiplier: float, industry_growth: float) -> Figure:
        rows = table.iloc[:6]
        final = float(table["amount"].iloc[-1])
        return method_comparison(
            rows, final, f"Annual number: multiplier {multiplier:.2f}, industry growth {industry_growth:.0%}", "M"
        )

    m = co.market
    return WhatIf(
        f"the top-down {term('multiplier')}",
        [
            Control("multiplier", "multiplier", float(multiplier or m["multiplier"]), 1.0, 2.0, 0.05),
            Control(
                "industry_growth", "industry growth", float(industry_growth or m["industry_growth"]), 0.0, 0.2, 0.01
            ),
        ],
        compute,
        draw,
        interactive,
        note="the method's range is 1.3-1.5",
    )


def whatif_potential_index(potential_index: dict[str, float] | None = None, interactive: bool | None = None) -> WhatIf:
    """Each region's market-potential index (0.8-1.2) and what it does to the bottom-up sum.

    ``region = LY x (1 + CAGR) x resource factor x potential index`` (:func:`salesplan.targets.bottom_up_regions`).
    """
    co = _build()
    start = dict(co.potential_index) | dict(potential_index or {})
    td = checks.expected_top_down()

    def compute(**index: float) -> pd.DataFrame:
        t = bottom_up_regions(checks.history(), co.regions, co.settings.targets.cagr_years, co.resource_factor, index)
        return t[["region", "last_year", "cagr", "resource_factor", "potential_index", "bottom_up"]]

    def draw(table: pd.DataFrame, **index: float) -> Figure:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        x = np.arange(len(table))
        ax.bar(x - 0.2, table["last_year"], width=0.4, color=PALETTE[1], label="Last 12 months")
        ax.bar(x + 0.2, table["bottom_up"], width=0.4, color=PALETTE[0], label="Bottom-up")
        ax.set_xticks(x, table["region"])
        ax.set_xlabel("Region")
        money_axis(ax, unit="M", label="Net sales")
        ax.set_title(
            f"Bottom-up by region: sum {table['bottom_up'].sum() / 1e6:,.1f} M against top-down {td / 1e6:,.1f} M"
        )
        ax.legend()
        return fig

    return WhatIf(
        f"the {term('potential index')} of each region",
        [Control(r, r, float(start.get(r, 1.0)), 0.8, 1.2, 0.05) for r in co.regions],
        compute,
        draw,
        interactive,
        note="the method's range is 0.8-1.2",
    )


def whatif_level_coefficients(levels: dict[str, float] | None = None, interactive: bool | None = None) -> WhatIf:
    """The level coefficients and every rep's annual target (exercise 4c's allocation, month by month)."""
    co = _build()
    start = co.level_coefficient | dict(levels or {})
    team = co.team().set_index("rep_id")

    def compute(**levels: float) -> pd.DataFrame:
        targets = checks.expected_rep_targets(levels=levels)
        return pd.DataFrame(
            {"region": team["region"], "level": team["level"], "level_coefficient": team["level"].map(levels),
             "annual_target": pd.Series(targets)}
        ).rename_axis("rep_id")  # fmt: skip

    def draw(table: pd.DataFrame, **levels: float) -> Figure:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        colours = table["region"].map({r: PALETTE[i] for i, r in enumerate(co.regions)})
        ax.bar(table.index, table["annual_target"], color=colours)
        ax.set_xlabel("Rep (colour: region)")
        money_axis(ax, unit="M", label="Annual target")
        ax.set_title("Rep targets: " + ", ".join(f"{k} {v:.2f}" for k, v in levels.items()))
        return fig

    return WhatIf(
        f"the {term('level coefficient')}s",
        [Control(k, k, float(v), 0.5, 1.5, 0.05) for k, v in start.items()],
        compute,
        draw,
        interactive,
        note="each region's total stays the same; only the split between its reps moves",
    )


def whatif_phasing(method: str = "seasonality", interactive: bool | None = None) -> WhatIf:
    """The annual target phased by the seasonality index, a quarterly template or the campaign seasons, against
    last year's months."""
    co = _build()
    templates = co.settings.targets.phasing.quarterly_templates
    seasonal = co.settings.targets.phasing.seasonal_templates
    total = checks.annual_target()
    last = co.monthly_sales()[co.plan_year - 1]

    def compute(method: str) -> pd.DataFrame:
        if method == "seasonality":
            shares = monthly_shares("seasonality", checks.history())
        elif method in seasonal:
            shares = monthly_shares("season_template", checks.history(), seasons=seasonal[method])
        else:
            shares = monthly_shares("quarterly_template", checks.history(), template=templates[method])
        months = phase_total(total, shares, co.plan_year)
        return months[["month_of_year", "share", "target_amount"]].assign(last_year=last.to_numpy())

    def draw(table: pd.DataFrame, method: str) -> Figure:
        quarters = table.groupby((table["month_of_year"] - 1) // 3)["share"].sum()
        q = " / ".join(f"{s:.0%}" for s in quarters)
        return phasing_vs_last_year(table, last, f"Phasing by {method.replace('_', ' ')}: quarters {q}", "M")

    return WhatIf(
        term("phasing"),
        [Control("method", "phasing", method, options=["seasonality", *templates, *seasonal])],
        compute,
        draw,
        interactive,
        note="the months always add up to the annual target exactly",
    )


def whatif_commission(
    tiers: Sequence[Sequence[float]] | None = None, mode: str | None = None, interactive: bool | None = None
) -> WhatIf:
    """Commission tiers: the rate and payout at each attainment for a month with a 1 M target
    (:func:`salesplan.commission.commission_for`)."""
    co = _build()
    rules = co.settings.commission
    start = [tuple(map(float, t)) for t in (tiers or rules.tiers)]
    target = 1_000_000.0
    attainment = np.round(np.arange(0.5, 1.51, 0.05), 2)
    names = [f"b{i}" for i in range(1, len(start))]

    def tiers_of(values: dict[str, float]) -> list[tuple[float, float]]:
        bounds = [start[0][0], *[values[f"b{i}"] for i in range(1, len(start))]]
        rates = [values[f"r{i}"] for i in range(len(start))]
        # Bounds must increase; a slider pushed past its neighbour is nudged just above it.
        for i in range(1, len(bounds)):
            bounds[i] = max(bounds[i], bounds[i - 1] + 0.01)
        return list(zip(bounds, rates, strict=True))

    def compute(mode: str, **values: float) -> pd.DataFrame:
        t = tiers_of(values)
        amount = attainment * target
        pay = commission_for(amount, attainment, t, mode=mode)
        return pd.DataFrame(
            {"attainment": attainment, "sales": amount, "commission": pay, "effective_rate": pay / amount}
        )

    def draw(table: pd.DataFrame, mode: str, **values: float) -> Figure:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        ax.plot(table["attainment"] * 100, table["commission"], marker="o", markersize=3, color=PALETTE[0])
        for lo, _ in tiers_of(values)[1:]:
            ax.axvline(lo * 100, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("Monthly attainment (%)")
        ax.set_ylabel("Commission on a 1 M target (currency units)")
        ax.set_title(f"Commission by attainment ({mode} mode)")
        return fig

    controls = [Control("mode", "mode", mode or rules.mode, options=["whole", "marginal"])]
    controls += [Control(n, f"tier {i} from", start[i][0], 0.5, 1.5, 0.05) for i, n in enumerate(names, start=1)]
    controls += [Control(f"r{i}", f"tier {i} rate", start[i][1], 0.0, 0.05, 0.0025) for i in range(len(start))]
    return WhatIf(term("commission tier") + "s", controls, compute, draw, interactive, note="1 M monthly target")
