"""One vocabulary for the method, in English and Chinese.

The notebooks, the handouts and the facilitator's kit use these terms, so a team speaks of the same
thing whichever language a trainee thinks in. :func:`term` shows a term in both languages.
"""

from __future__ import annotations

import pandas as pd

# English term -> (Chinese term, one-line meaning). Keys are lower case; the order follows the method.
GLOSSARY: dict[str, tuple[str, str]] = {
    "annual target": ("年度目标", "the year's sales number everyone's targets add up to"),
    "last year (LY)": ("上年实际", "net sales of the last 12 months before the plan year"),
    "baseline": ("历史基线", "last year grown at the historical CAGR, plus stated increments"),
    "CAGR": ("复合年增长率", "compound annual growth rate: (last / first) ^ (1 / years) - 1"),
    "increment": ("增量", "growth the history cannot know: new products, new regions, price changes"),
    "base + elastic space": ("基础 + 弹性空间", "the base value and the stretch band above it"),
    "base target": ("基础目标", "the number everyone must reach: the base value of the annual number, carried down"),
    "stretch target": ("挑战目标", "the challenge target: the base value x (1 + stretch %), with its own reward"),
    "flexible target": ("弹性目标", "the elastic space between the base and the challenge target"),
    "top-down": ("自上而下", "HQ's number: industry growth x multiplier, or market share x market size"),
    "industry growth rate": ("行业增长率", "how fast the market grows"),
    "multiplier": ("倍数", "how much faster than the market to grow (1.3-1.5)"),
    "market share": ("市场份额", "the company's sales as a share of the market"),
    "market size": ("市场规模", "the whole market's sales"),
    "bottom-up": ("自下而上", "the sum of what the regions or reps say they can do"),
    "resource-input factor": ("资源投入系数", "more people or budget in a region raise its number"),
    "potential index": ("市场潜力指数", "a region's market potential against the average (0.8-1.2)"),
    "personal growth rate": ("个人增长率", "a rep's own growth on their last-year base"),
    "level coefficient": ("职级系数", "weight of a rep's level: junior 0.7 ... lead 1.2"),
    "gap": ("差距", "top-down minus bottom-up"),
    "reconciliation": ("上下对齐", "closing the gap by a stated rule (scale, or blend with a weight)"),
    "phasing": ("时间分解", "splitting the year into quarters and months"),
    "seasonality index": ("季节性指数", "a month's sales over its year's monthly mean, averaged over years"),
    "quarterly template": ("季度模板", "fixed quarter shares, e.g. 28 / 32 / 27 / 13 %"),
    "campaign season": (
        "营销季",
        "the method's seasons: spring push March-May, summer June-August, autumn sprint September-November; "
        "January-February preparation and the December close share the rest",
    ),
    "quarterly adjustment coefficient": ("季度调节系数", "a quarter's weight in the year: 15 / 20 / 30 / 35 %"),
    "quarterly revision": (
        "季度调整",
        "a quarter's revision of the annual plan stays within 10 %; more only as an explicit exception",
    ),
    "weekly split": ("周分解", "a month's target split into weeks for the weekly rhythm"),
    "allocation": ("目标分配", "splitting the target to regions, product lines and reps"),
    "region tier": ("区域分级", "strategic (deepen), potential (expand), opportunistic (probe cheaply)"),
    "strategic region": ("战略区域", "a region to deepen: defend and grow the position"),
    "potential region": ("潜力区域", "a region to expand into with more resources"),
    "opportunistic region": ("机会区域", "a region to probe cheaply"),
    "product-line tier": (
        "产品线分级",
        "core (profit, defend share), emerging (growth), long-tail (activate dormant SKUs)",
    ),
    "core product line": ("核心产品", "the profit base: defend share, work on efficiency"),
    "emerging product line": ("新兴产品", "the growth line: penetration, may spend more on marketing"),
    "long-tail product line": ("长尾产品", "dormant SKUs to activate; inventory turnover"),
    "capacity": ("团队承载力", "what a sales team can carry: sum of level coefficient x availability"),
    "production capacity": ("产能", "what a plant can produce: not a sales team's capacity (团队承载力)"),
    "availability": ("在岗率", "a rep's share of a full quota in a month"),
    "ramp": ("新人爬坡", "a new hire's 25 / 50 / 75 / 100 % in the first months"),
    "leaver": ("离职人员", "a rep with a leave date: no quota after it"),
    "largest remainder": ("最大余数法", "rounding parts so they add up exactly to the whole"),
    "whole units": ("整数单位", "targets in whole currency units, no fractions"),
    "result target": ("结果目标", "what the year must deliver: revenue (signed and collected), market share"),
    "process target": (
        "过程目标",
        "what leads to the result: gross margin, leads, visits per rep, conversion rates along the funnel",
    ),
    "funnel": ("销售漏斗", "lead -> contact -> needs analysis -> proposal -> negotiation -> contract -> payment"),
    "collection rate": ("回款率", "cash collected / invoiced (goal >= 95 %)"),
    "attainment": ("达成率", "actual / target"),
    "deviation": ("偏差", "actual / plan - 1 (negative: behind)"),
    "red / yellow / green": (
        "红 / 黄 / 绿灯",
        "status by how far behind plan: green within 5 %, yellow 5-10 %, red 10-15 %, dark red beyond 15 %",
    ),
    "dark red": ("深红", "more than 15 % behind plan: the level 3 response"),
    "escalation level": (
        "响应级别",
        "who acts: 一级响应 department head, 二级响应 sales steering group, 三级响应 general manager",
    ),
    "level 1 response": ("一级响应", "yellow, 5-10 % behind: the department head reallocates internal resources"),
    "level 2 response": ("二级响应", "red, 10-15 % behind: escalated to the sales steering group"),
    "level 3 response": (
        "三级响应",
        "dark red, > 15 % behind: the general manager steps in; target or owner may change",
    ),
    "variance": ("差异", "actual minus plan"),
    "price effect": ("价格影响", "the variance from selling at other prices than planned"),
    "volume effect": ("数量影响", "the variance from selling more or fewer units"),
    "mix effect": ("结构影响", "the variance from selling a different mix of products"),
    "5-Why": ("五问法", "asking why five times to reach a cause the team controls"),
    "owner": ("责任人", "the one person who acts on a flagged item"),
    "next step": ("下一步行动", "what will be done, by when"),
    "commission tier": ("提成阶梯", "the commission rate for an attainment band"),
    "high-margin coefficient": ("高毛利系数", "high-margin products count x 1.2 toward commission"),
    "what-if": ("假设分析", "changing one assumption to see what moves"),
}

_LOOKUP = {k.casefold(): k for k in GLOSSARY}
_LOOKUP.update(
    {
        "ly": "last year (LY)",
        "last year": "last year (LY)",
        "5 why": "5-Why",
        "five why": "5-Why",
        "challenge target": "stretch target",
        "team capacity": "capacity",
    }
)


class UnknownTerm(KeyError):
    """A term that is not in the glossary (the message lists the closest ones)."""


def _find(name: str) -> str:
    key = _LOOKUP.get(name.strip().casefold())
    if key is None:
        near = [k for k in GLOSSARY if name.strip().casefold()[:4] in k.casefold()]
        raise UnknownTerm(f"{name!r} is not in the glossary{'; did you mean ' + ', '.join(near) if near else ''}")
    return key


def term(name: str) -> str:
    """The term in both languages: ``term("annual target")`` -> ``"annual target (年度目标)"``."""
    key = _find(name)
    return f"{key} ({GLOSSARY[key][0]})"


def chinese(name: str) -> str:
    """The Chinese term alone."""
    return GLOSSARY[_find(name)][0]


def glossary_table(terms: list[str] | None = None) -> pd.DataFrame:
    """The glossary (or the given terms) as a table: ``term, 术语, meaning``."""
    keys = [_find(t) for t in terms] if terms else list(GLOSSARY)
    return pd.DataFrame(
        [(k, GLOSSARY[k][0], GLOSSARY[k][1]) for k in keys], columns=["term", "术语", "meaning"]
    ).set_index("term")
