"""The monthly retrospective: deviation flags, variance explanation, landing views, KPI
table, actions carried over, risks and early warnings, process targets, commissions, quarter / half / year views
and month-over-month changes.

Modules (each a set of pure functions over the monthly cube and the plan):

* :mod:`~salesplan.retro.periods`: month, quarter-, half- and year-to-date windows; which views a month's report holds
* :mod:`~salesplan.retro.flags`: actual vs plan per region / product line / region x product line / rep, status
  by the configured thresholds, escalation level and owner
* :mod:`~salesplan.retro.variance`: actual - plan split by dimension and into price / volume / mix, exact to the cent
* :mod:`~salesplan.retro.landing`: run-rate, seasonal run-rate, rest-on-plan and statistical landing, P(hit)
* :mod:`~salesplan.retro.kpi`: the KPIs the method names (and two extras) with goals, trends and status; signed vs
  collected
* :mod:`~salesplan.retro.actions`: the action register carried from month to month (done, open, overdue, escalated)
* :mod:`~salesplan.retro.risks`: the probability x impact risk matrix and the early warnings
* :mod:`~salesplan.retro.process`: process targets (leads, stages, conversion, visits) tracked against the plan year's
* :mod:`~salesplan.retro.pay`: the month's commission statements through :mod:`salesplan.commission`
* :mod:`~salesplan.retro.mom`: flags that turned and why the landing moved since the previous report
* :mod:`~salesplan.retro.report`: the first screen, the index-page figures, the year view
* :mod:`~salesplan.retro.export`: ``flags.csv`` (Excel-safe) and ``retro_summary.json``
"""

from salesplan.retro.periods import RetroInputError

__all__ = ["RetroInputError"]
