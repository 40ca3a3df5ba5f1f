"""The deterministic sample company.

A fictional industrial supplier with four regions, six product lines, about forty reps and
about two thousand customers, selling for three complete years plus the current year to
date (``as_of``). Every report of the workbook runs on it, so it is built to show the
effects the method looks for: regions growing at clearly different rates, a product line
launched during the period, a price rise on the core lines, Chinese-New-Year dip and Q4
peak, customer churn and new customers, new hires ramping up and reps leaving, returns,
late payers, an opportunity pipeline and last and this year's official targets.

Determinism: everything is drawn from one ``numpy.random.Generator(PCG64(seed))`` in a
fixed order; nothing depends on today's date, hash seeds or dict ordering. Amounts are
rounded to cents and written with a fixed float format, so the same ``seed``, ``scale`` and
``as_of`` give byte-identical CSV files on any machine.

``scale`` multiplies the number of order lines (``scale=1`` gives about 300,000 lines,
``scale=30`` about 9 million). Up to ``scale=1`` the company is the same - 2,000 customers,
about 1.2 billion a year - with fewer, bigger orders. Above 1 the customer base, the
planned revenue and the pipeline grow with ``sqrt(scale)`` while order lines grow with
``scale``, so orders get smaller but stay plausible against the fixed unit prices. Lines
cannot sell less than one unit, so at large scales revenue lands above plan: ``scale=30``
gives ~11,000 customers and about 8 billion a year. Products and the forty reps stay the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator

from salesplan.config import default_settings, resolve_path
from salesplan.dates import as_dates

FORMATS = ("csv", "parquet")

REGIONS = ("North", "East", "South", "West")
# Yearly growth per region (the story every review should find), and the share of customers.
REGION_GROWTH = {"North": 0.03, "East": 0.15, "South": 0.10, "West": -0.02}
REGION_CUSTOMER_SHARE = {"North": 0.25, "East": 0.32, "South": 0.26, "West": 0.17}
CHANNELS = ("direct", "distributor", "online")
# Channel mix per region (direct, distributor, online).
CHANNEL_MIX = {
    "North": (0.55, 0.35, 0.10),
    "East": (0.45, 0.30, 0.25),
    "South": (0.35, 0.45, 0.20),
    "West": (0.30, 0.62, 0.08),
}
# List-price discount by channel.
CHANNEL_DISCOUNT = (0.10, 0.18, 0.05)

# name, tier, share of lines at the start, yearly mix growth, list price range, SKU count,
# launched during the period.
PRODUCT_LINES = (
    ("Industrial Pumps", "core", 0.30, 0.02, (900.0, 6500.0), 6, False),
    ("工业阀门", "core", 0.27, 0.00, (120.0, 950.0), 6, False),
    ("智能传感器", "emerging", 0.16, 0.22, (300.0, 2600.0), 5, False),
    ("IoT Gateways", "emerging", 0.09, 0.25, (1500.0, 8000.0), 4, True),
    ("Spare Parts", "long_tail", 0.11, -0.06, (20.0, 220.0), 5, False),
    ("Tools & Accessories", "long_tail", 0.07, -0.04, (45.0, 420.0), 4, False),
)
PRICE_RISE = 0.05  # on core list prices from 1 April of last year
PRICE_RISE_VOLUME_KEEP = 0.03  # share of the price rise that shows up as extra revenue

# Monthly seasonality (Jan..Dec); January and February are set by the Chinese New Year.
SEASON = np.array([0.0, 0.0, 1.02, 1.00, 1.02, 1.06, 0.96, 0.95, 1.06, 0.97, 1.12, 1.34])
CNY_IN_JANUARY = (0.72, 0.86)
CNY_IN_FEBRUARY = (0.90, 0.66)
# Chinese New Year's day; years not listed fall back to a February New Year.
CNY_DATE = {
    2019: "02-05", 2020: "01-25", 2021: "02-12", 2022: "02-01", 2023: "01-22", 2024: "02-10",
    2025: "01-29", 2026: "02-17", 2027: "02-06", 2028: "01-26", 2029: "02-13", 2030: "02-03",
    2031: "01-23", 2032: "02-11", 2033: "01-31", 2034: "02-19", 2035: "02-08",
}  # fmt: skip

LEVELS = ("junior", "mid", "senior", "lead")
LEVEL_WEIGHT = {"junior": 0.6, "mid": 1.0, "senior": 1.4, "lead": 1.3}
RAMP = (0.25, 0.50, 0.75, 1.00)

# This year's plan: growth on last year's sales, company-wide and per product tier.
PLAN_GROWTH = 1.04
LINE_PLAN_GROWTH = {"core": 1.03, "emerging": 1.20, "long_tail": 0.96}

STAGES = ("lead", "contact", "needs_analysis", "proposal", "negotiation", "contract")
# Chance to move on from each stage; from `contract` it is the chance to win.
STAGE_ADVANCE = (0.50, 0.60, 0.62, 0.70, 0.80, 0.88)

# Share of revenue that comes through tracked opportunities (projects won in the pipeline,
# booked as orders of the same customer, rep, product line, close month and amount); the rest
# is run-rate business (repeat orders, small deals) that never enters the CRM.
PROJECT_SHARE = 0.25

# Month-to-month variability, measured on the M3 competition's monthly MICRO (N1402-N1875) and
# INDUSTRY (N1876-N2209) series (benchmarks/README.md, "A realistic sample"): after removing
# seasonality (ratio to a centred 2x12 moving average), the median standard deviation of the
# month-over-month log change is 0.27 (MICRO) and 0.07 (INDUSTRY), 0.17 pooled; split as a local
# level (noise variance = -lag-1 autocovariance of the changes, persistent variance = the
# rest), the noise sd is 0.18 / 0.04 and the persistent (random-walk) sd 0.04 / 0.04 per month.
# The sample's regions already carry INDUSTRY-sized month noise from their many customers; what
# it lacked were persistent shocks (a good or bad quarter that lasts). They are AR(1) on the log
# level, which looks like a random walk over a few months yet keeps each region's growth story
# over three years: innovation sd per month and persistence, for a region and for a product line
# within a region (the bottom series, MICRO-like).
REGION_SHOCK = (0.02, 0.85)
LINE_SHOCK = (0.04, 0.85)
REGION_NOISE = 0.045  # month-only shock of a region's total (on top of its customers' own noise)

# Opportunities opened per month (times the company size factor).
OPPORTUNITIES_PER_MONTH = 600

BASE_CUSTOMERS = 2000
BASE_LINES = 300_000
# Revenue of the last complete year (currency units).
ANNUAL_REVENUE = 1.2e9
# Customer tier sizes: (count, low, high) of yearly purchases; the rest are small accounts.
KEY_ACCOUNTS = {"A": (20, 13e6, 40e6), "B": (32, 5.8e6, 9.2e6), "C": (300, 0.65e6, 4.3e6)}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = _words(
    "伟 芳 娜 敏 静 磊 洋 勇 艳 杰 军 强 丽 涛 明 超 霞 平 刚 桂英 秀英 志强 建华 海燕 晓东 文博 子涵 "
    "思远 雨婷 浩然 欣怡 俊杰 佳琪 宇航 梦瑶 振国 国庆 立新 春梅 晓峰"
)
_CITIES = {
    "North": _words("北京 天津 沈阳 大连 济南 青岛 哈尔滨 石家庄"),
    "East": _words("上海 杭州 苏州 南京 宁波 无锡 合肥 常州"),
    "South": _words("广州 深圳 东莞 佛山 厦门 福州 珠海 中山"),
    "West": _words("成都 重庆 西安 昆明 兰州 贵阳 乌鲁木齐 银川"),
}
_CORES = _words(
    "精密 华信 恒达 博远 金泰 宏图 天成 瑞丰 新纪元 中科 永盛 鼎力 海川 立达 嘉禾 盛世 鸿运 远航 东方 联创 "
    "汇通 正泰 万通 凯达 星辰 晨光 宝利 安信 华盛 长城 力源 腾飞 优创 德盛 国泰 富达 创新 九州 明辉 光华"
)
_INDUSTRIES = (
    ("机械", "机械制造"),
    ("电子", "电子电气"),
    ("化工", "化工"),
    ("汽车零部件", "汽车"),
    ("食品", "食品饮料"),
    ("医药", "医药"),
    ("能源", "能源"),
    ("建材", "建材"),
    ("物流", "物流"),
    ("纺织", "纺织"),
)
_SUFFIXES = ("有限公司", "股份有限公司", "集团有限公司", "科技有限公司")


class SampleError(ValueError):
    """An argument of the sample generator is out of range."""


# --------------------------------------------------------------------------- helpers


def _day(value: str | pd.Timestamp) -> np.int64:
    """Days since 1970-01-01 (dates are handled as integer days for vectorised arithmetic)."""
    return np.int64(pd.Timestamp(value).to_datetime64().astype("datetime64[D]").astype(np.int64))


def _days_to_str(days: np.ndarray) -> pd.Categorical:
    """Integer days -> 'YYYY-MM-DD' strings, built once per distinct day."""
    uniq, inverse = np.unique(days, return_inverse=True)
    labels = pd.Index(uniq.astype("datetime64[D]")).strftime("%Y-%m-%d")
    return pd.Categorical.from_codes(inverse.astype(np.int32), categories=labels)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _pick(rng: Generator, cum: np.ndarray) -> np.ndarray:
    """Draw one category per row from row-wise cumulative (unnormalised) weights."""
    u = rng.random(cum.shape[0]) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def _stochastic_round(rng: Generator, x: np.ndarray) -> np.ndarray:
    """Integer with the same expectation as ``x`` (floor plus a Bernoulli of the fraction)."""
    base = np.floor(x)
    return (base + (rng.random(x.shape[0]) < (x - base))).astype(np.int64)


class _Calendar:
    """The months of the sample: 1 January three years before ``as_of`` up to ``as_of``."""

    def __init__(self, as_of: str) -> None:
        try:
            end = pd.Timestamp(as_of)
        except (ValueError, TypeError) as exc:
            raise SampleError(f"as_of={as_of!r} is not a date (expected YYYY-MM-DD)") from exc
        if end.year < 1990 or end.year > 2200:
            raise SampleError(f"as_of={as_of!r} is out of range (years 1990-2200)")
        self.as_of = end.normalize()
        self.start = pd.Timestamp(year=end.year - 3, month=1, day=1)
        months = pd.period_range(self.start, self.as_of, freq="M")
        self.months = months
        self.n = len(months)
        self.month_start = np.array([_day(p.start_time) for p in months])
        self.month_end = np.array([_day(p.end_time.normalize()) for p in months])
        self.end_day = _day(self.as_of)
        self.month_end[-1] = self.end_day
        self.year = np.array([p.year for p in months])
        self.moy = np.array([p.month for p in months])
        # Years from the middle of the last complete year, for growth factors.
        self.t = (np.arange(self.n) - (self.n - 1 - (self.as_of.month - 1)) + 12 - 5.5) / 12.0
        full = self.month_end - self.month_start + 1
        days_in_month = np.array([p.days_in_month for p in months])
        self.fraction = full / days_in_month
        self.price_rise_day = _day(pd.Timestamp(year=end.year - 1, month=4, day=1))
        self.launch_day = _day(pd.Timestamp(year=end.year - 1, month=6, day=1))
        self.last_full_year = end.year - 1

    def season(self) -> np.ndarray:
        out = SEASON[self.moy - 1].copy()
        for year in np.unique(self.year):
            cny = CNY_DATE.get(int(year), "02-05")
            jan, feb = CNY_IN_JANUARY if cny < "01-26" else CNY_IN_FEBRUARY
            out[(self.year == year) & (self.moy == 1)] = jan
            out[(self.year == year) & (self.moy == 2)] = feb
        return out


# --------------------------------------------------------------------------- dimensions


def _products(rng: Generator, cal: _Calendar) -> pd.DataFrame:
    rows = []
    number = 1
    for line_index, (name, tier, _share, _growth, (lo, hi), n_skus, launched) in enumerate(PRODUCT_LINES):
        prices = np.exp(rng.uniform(np.log(lo), np.log(hi), n_skus))
        high_margin = rng.random(n_skus) < (0.5 if tier == "emerging" else 0.25)
        high_margin[0] = tier == "core" and line_index == 0  # the flagship pump is a high-margin product
        cost_ratio = np.where(high_margin, rng.uniform(0.40, 0.47, n_skus), rng.uniform(0.56, 0.65, n_skus))
        # A few popular SKUs and a tail, as in any catalogue.
        weight = rng.pareto(1.5, n_skus) + 0.3
        for k in range(n_skus):
            rows.append(
                {
                    "sku": f"SKU-{number:03d}",
                    "product_line": name,
                    "tier": tier,
                    "high_margin": bool(high_margin[k]),
                    "sku_name": f"{name} {chr(ord('A') + k)}{int(prices[k]) % 90 + 10}",
                    "list_price": round(float(prices[k]), 2),
                    "launch_date": pd.Timestamp(int(cal.launch_day), unit="D").strftime("%Y-%m-%d") if launched else "",
                    "_line": line_index,
                    "_cost_ratio": float(cost_ratio[k]),
                    "_weight": float(weight[k]),
                }
            )
            number += 1
    return pd.DataFrame(rows)


def _reps(rng: Generator, cal: _Calendar) -> pd.DataFrame:
    """Ten reps per region at four levels; one new hire per region this year and two leavers."""
    year = cal.as_of.year
    names = rng.choice(len(_SURNAMES) * len(_GIVEN), size=4 * 10, replace=False)
    rows = []
    number = 1
    plan = ["lead", "senior", "senior", "mid", "mid", "mid", "junior", "junior", "junior", "junior"]
    for region_index, region in enumerate(REGIONS):
        for k, level in enumerate(plan):
            first_year = {"lead": (year - 14, year - 8), "senior": (year - 12, year - 5), "mid": (year - 9, year - 3)}
            if level in first_year:
                lo, hi = first_year[level]
            else:
                lo, hi = year - 4, year - 1  # juniors joined recently, some during the period
            hire = pd.Timestamp(year=int(rng.integers(lo, hi + 1)), month=int(rng.integers(1, 13)), day=1)
            hire = hire + pd.Timedelta(days=int(rng.integers(0, 28)))
            if k == len(plan) - 1:
                # This year's new hire (hired between March and August).
                hire = pd.Timestamp(year=year, month=int(3 + region_index + (region_index > 1)), day=1)
                hire = hire + pd.Timedelta(days=int(rng.integers(0, 20)))
            if hire > cal.as_of - pd.Timedelta(days=30):
                hire = cal.as_of - pd.Timedelta(days=60)
            name_code = int(names[number - 1])
            rows.append(
                {
                    "rep_id": f"R{number:03d}",
                    "rep_name": _SURNAMES[name_code // len(_GIVEN)] + _GIVEN[name_code % len(_GIVEN)],
                    "region": region,
                    "team": f"{region} {'A' if k % 2 == 0 else 'B'}",
                    "level": level,
                    "hire_date": hire,
                    "leave_date": pd.NaT,
                    "_perf": float(np.exp(rng.normal(0.0, 0.22))),
                }
            )
            number += 1
    reps = pd.DataFrame(rows)
    # Two leavers: a senior in the West last September, a mid-level rep in the North this May.
    reps.loc[(reps["region"] == "West") & (reps["level"] == "senior"), "leave_date"] = [
        pd.Timestamp(year=year - 1, month=9, day=30),
        pd.NaT,
    ]
    reps.loc[(reps["region"] == "North") & (reps["level"] == "mid"), "leave_date"] = [
        pd.NaT,
        pd.Timestamp(year=year, month=5, day=31),
        pd.NaT,
    ]
    too_late = reps["leave_date"] > cal.as_of
    reps.loc[too_late, "leave_date"] = pd.NaT
    return reps


def _company_size(scale: float) -> float:
    """How many times the ``scale=1`` company: 1 up to scale 1, then ``sqrt(scale)``."""
    return max(scale, 1.0) ** 0.5


def _customers(rng: Generator, cal: _Calendar, size_factor: float) -> pd.DataFrame:
    n = int(round(BASE_CUSTOMERS * size_factor))
    region = rng.choice(len(REGIONS), size=n, p=np.array(list(REGION_CUSTOMER_SHARE.values())))
    # Heavy-tailed sizes: a fixed set of key accounts and a long tail of small ones.
    size = np.exp(rng.normal(np.log(85_000), 0.85, n)).clip(6_000, 430_000)
    tier = np.full(n, "D", dtype=object)
    order = rng.permutation(n)
    pos = 0
    for name, (count, lo, hi) in KEY_ACCOUNTS.items():
        count = int(round(count * size_factor))
        idx = order[pos : pos + count]
        size[idx] = np.exp(rng.uniform(np.log(lo), np.log(hi), count))
        tier[idx] = name
        pos += count
    key = np.isin(tier, ["A", "B"])
    # Lifecycle: most customers exist before the period, new ones join each year, some stop.
    cohort = rng.choice(5, size=n, p=[0.66, 0.09, 0.09, 0.09, 0.07])
    cohort[key & (cohort > 0) & (rng.random(n) < 0.9)] = 0
    # New accounts start smaller than the established ones.
    size = np.where(cohort > 0, size * 0.45, size)
    start_month = np.where(cohort == 0, -1, (cohort - 1) * 12 + rng.integers(0, 12, n))
    # the current year's cohort joins before as_of
    start_month = np.where(start_month >= cal.n, rng.integers(max(cal.n - 11, 0), cal.n, n), start_month)
    hazard = np.select([key, tier == "C"], [0.025, 0.06], 0.10)  # yearly churn
    life = rng.exponential(12.0 / hazard)
    end_month = np.floor(np.maximum(start_month, 0) + life).astype(np.int64)
    end_month = np.where(end_month >= cal.n, cal.n + 1_000, end_month)
    # Slow payers pay later and leave more unpaid.
    slow = rng.random(n) < np.where(key, 0.10, 0.14)
    mix = np.array([CHANNEL_MIX[r] for r in REGIONS])
    cum = mix.cumsum(axis=1)[region]
    channel = _pick(rng, cum)
    channel = np.where(key & (rng.random(n) < 0.7), 0, channel)  # key accounts mostly buy direct
    # Names: city + core + industry + legal form, unique.
    n_comb = len(_CORES) * len(_INDUSTRIES) * len(_SUFFIXES)
    names = np.empty(n, dtype=object)
    industry = np.empty(n, dtype=object)
    for r_index, r_name in enumerate(REGIONS):
        members = np.flatnonzero(region == r_index)
        cities = _CITIES[r_name]
        codes = rng.choice(len(cities) * n_comb, size=members.size, replace=False)
        for i, code in zip(members, codes, strict=True):
            city, rest = divmod(int(code), n_comb)
            core, rest = divmod(rest, len(_INDUSTRIES) * len(_SUFFIXES))
            ind, suf = divmod(rest, len(_SUFFIXES))
            names[i] = cities[city] + _CORES[core] + _INDUSTRIES[ind][0] + _SUFFIXES[suf]
            industry[i] = _INDUSTRIES[ind][1]
    width = max(4, len(str(n)))
    # Line preference per customer around the company mix.
    base_mix = np.array([p[2] for p in PRODUCT_LINES])
    affinity = rng.gamma(base_mix * 6.0, 1.0, (n, base_mix.size))  # Dirichlet rows, unnormalised
    affinity = affinity / affinity.sum(axis=1, keepdims=True) + 0.02 * base_mix
    return pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:0{width}d}" for i in range(n)],
            "customer_name": names,
            "industry": industry,
            "region": np.array(REGIONS, dtype=object)[region],
            "_region": region,
            "_size": size,
            "_tier": tier,
            "_key": key,
            "_start": start_month,
            "_end": end_month,
            "_slow": slow,
            "_channel": channel,
            "_drift": rng.normal(0.0, 0.05, n),
            "_affinity": list(affinity),
        }
    )


def _rep_books(rng: Generator, cal: _Calendar, customers: pd.DataFrame, reps: pd.DataFrame) -> np.ndarray:
    """The rep serving each customer in each month (customers x months, rep index).

    An exponential race: each customer ranks its region's reps by ``Exp(1) / weight`` once;
    each month the best-ranked active rep serves it. A new hire (weight times ramp) takes over
    a share of accounts, a leaver's accounts go to each customer's next choice, the rest stay.
    """
    n_c, n_r = len(customers), len(reps)
    level = reps["level"].to_numpy()
    weight = np.array([LEVEL_WEIGHT[x] for x in level]) * reps["_perf"].to_numpy()
    senior = np.isin(level, ["senior", "lead"])
    key = customers["_key"].to_numpy()
    w = np.broadcast_to(weight, (n_c, n_r)) * np.where(key[:, None], np.where(senior, 3.0, 0.4), 1.0)
    same_region = customers["_region"].to_numpy()[:, None] == np.array([REGIONS.index(r) for r in reps["region"]])
    race = np.where(same_region, rng.exponential(1.0, (n_c, n_r)) / w, np.inf)
    mid = cal.month_start + 14
    hire = np.array([_day(x) for x in reps["hire_date"]])
    leave = np.array([_day(x) if pd.notna(x) else np.iinfo(np.int64).max for x in reps["leave_date"]])
    first = np.searchsorted(mid, hire, side="left")  # first month with the rep in place mid-month
    books = np.empty((n_c, cal.n), dtype=np.int64)
    # Same in-post rule and ramp as the quotas (see _availability).
    for m in range(cal.n):
        active = (hire <= mid[m]) & (leave >= mid[m])
        ramp = np.array(RAMP)[np.clip(m - first, 0, len(RAMP) - 1)]
        books[:, m] = np.argmin(np.where(active, race / ramp, np.inf), axis=1)
    return books


# --------------------------------------------------------------------------- orders


def _ar1(rng: Generator, rows: int, months: int, sd: float, phi: float) -> np.ndarray:
    """``rows x months`` AR(1) paths ``x_t = phi x_{t-1} + e_t``, ``e_t ~ N(0, sd)``, started in their
    stationary distribution (sd ``sd / sqrt(1 - phi^2)``): persistent log-level shocks."""
    e = rng.normal(0.0, sd, (rows, months))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1.0 - phi**2)
    for t in range(1, months):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def _expected_revenue(rng: Generator, cal: _Calendar, customers: pd.DataFrame, size_factor: float) -> np.ndarray:
    """Expected net sales per customer and month (customers x months).

    Each customer: size / 12 x season x own drift x noise while active (new ones onboard over
    half a year). Each region's monthly total is then set to its trend, ``(1 + growth)^t x
    season x shock``, so the regions' growth rates show clearly whatever the few key accounts
    do; the customers' own ups and downs, churn and arrivals shift shares within the region.
    """
    n = len(customers)
    region = customers["_region"].to_numpy()
    growth = np.array([REGION_GROWTH[r] for r in REGIONS])
    region_trend = (1.0 + growth[:, None]) ** cal.t[None, :]
    shock = np.exp(rng.normal(0.0, REGION_NOISE, (len(REGIONS), cal.n)) + _ar1(rng, len(REGIONS), cal.n, *REGION_SHOCK))
    m = np.arange(cal.n)
    start = customers["_start"].to_numpy()[:, None]
    end = customers["_end"].to_numpy()[:, None]
    active = (m[None, :] >= start) & (m[None, :] < end)
    # New customers start small and grow into their size over half a year.
    tenure = m[None, :] - start
    onboarding = np.where((start >= 0) & (tenure < 6), 0.45 + 0.09 * tenure, 1.0)
    drift = np.exp(customers["_drift"].to_numpy()[:, None] * cal.t[None, :])
    noise = rng.lognormal(-0.5 * 0.3**2, 0.3, (n, cal.n))
    season = cal.season()
    expected = customers["_size"].to_numpy()[:, None] / 12.0 * season[None, :] * drift * onboarding * noise * active
    last_year = cal.year == cal.last_full_year
    by_region = np.zeros((len(REGIONS), cal.n))
    np.add.at(by_region, region, expected)
    level = by_region[:, last_year].sum(axis=1) / (region_trend * season[None, :])[:, last_year].sum(axis=1)
    wanted = level[:, None] * region_trend * season[None, :] * shock
    expected *= (wanted / np.where(by_region > 0, by_region, 1.0))[region] * cal.fraction[None, :]
    return expected * (ANNUAL_REVENUE * size_factor / expected[:, last_year].sum())


def _orders(
    rng: Generator,
    cal: _Calendar,
    scale: float,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
    books: np.ndarray,
) -> tuple[pd.DataFrame, int]:
    """Sale lines (internal columns) and the number of orders they belong to."""
    # Run-rate business only: the rest of the revenue comes as won opportunities (_deal_lines).
    expected = _expected_revenue(rng, cal, customers, _company_size(scale)) * (1.0 - PROJECT_SHARE)
    n_c = len(customers)
    # Lines per order after merging repeated SKUs (measured: 1 + Poisson(1.4) capped, deduplicated).
    mean_lines = 2.15
    # Bigger accounts order more often and in bigger orders (order count ~ revenue^0.6).
    intensity = np.where(expected > 0, expected, 0.0) ** 0.6
    lam = intensity * (BASE_LINES * scale * 0.99 / mean_lines / intensity.sum())
    n_orders = rng.poisson(lam.ravel())
    cell = np.repeat(np.arange(n_c * cal.n), n_orders)
    cust, month = np.divmod(cell, cal.n)
    amount = (expected.ravel() / np.where(lam.ravel() > 0, lam.ravel(), 1.0))[cell] * rng.gamma(2.0, 0.5, cell.size)

    # Date inside the month, within the serving rep's time in post, weekdays preferred.
    rep = books[cust, month]
    hire = np.array([_day(x) for x in reps["hire_date"]])
    leave = np.array([_day(x) if pd.notna(x) else np.iinfo(np.int64).max for x in reps["leave_date"]])
    lo = np.maximum(cal.month_start[month], hire[rep])
    hi = np.minimum(cal.month_end[month], leave[rep])
    span = hi - lo + 1
    day = lo + (rng.random(cell.size) * span).astype(np.int64)
    weekend = ((day + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    redraw = lo + (rng.random(cell.size) * span).astype(np.int64)
    day = np.where(weekend & (rng.random(cell.size) < 0.8), redraw, day)

    region = customers["_region"].to_numpy()[cust]
    mix = np.array([CHANNEL_MIX[r] for r in REGIONS]).cumsum(axis=1)
    other = _pick(rng, mix[region])
    channel = np.where(rng.random(cell.size) < 0.85, customers["_channel"].to_numpy()[cust], other)

    # Lines: product line by customer preference and the line's momentum, then a SKU.
    n_lines = 1 + np.minimum(rng.poisson(1.4, cell.size), 7)
    order = np.repeat(np.arange(cell.size), n_lines)
    l_cust, l_month, l_day = cust[order], month[order], day[order]
    n_pl = len(PRODUCT_LINES)
    momentum = (1.0 + np.array([p[3] for p in PRODUCT_LINES]))[None, :] ** cal.t[:, None]
    launched = np.array([p[6] for p in PRODUCT_LINES])
    month_open = np.where(launched[None, :], (cal.month_end[:, None] >= cal.launch_day), True)
    line_weight = momentum * month_open  # months x lines
    # Persistent shocks of each product line within each region (regions x months x lines).
    line_shock = np.exp(_ar1(rng, len(REGIONS) * n_pl, cal.n, *LINE_SHOCK)).reshape(len(REGIONS), n_pl, cal.n)
    line_shock = line_shock.transpose(0, 2, 1)
    l_region = customers["_region"].to_numpy()[l_cust]
    affinity = np.vstack(customers["_affinity"].to_numpy())
    pl = np.empty(order.size, dtype=np.int64)
    chunk = 1_000_000
    for s in range(0, order.size, chunk):
        sl = slice(s, s + chunk)
        probs = affinity[l_cust[sl]] * line_weight[l_month[sl]] * line_shock[l_region[sl], l_month[sl]]
        probs[:, launched] *= (l_day[sl] >= cal.launch_day)[:, None]
        pl[sl] = _pick(rng, probs.cumsum(axis=1))
    sku_line = products["_line"].to_numpy()
    offsets = np.searchsorted(sku_line, np.arange(n_pl))
    counts = np.bincount(sku_line, minlength=n_pl)
    cum_sku = np.zeros((n_pl, counts.max()))
    for k in range(n_pl):
        cum_sku[k, : counts[k]] = np.cumsum(products["_weight"].to_numpy()[sku_line == k])
        cum_sku[k, counts[k] :] = np.inf
    u = rng.random(order.size) * cum_sku[pl, counts[pl] - 1]
    within = np.zeros(order.size, dtype=np.int64)
    for j in range(counts.max() - 1):
        within += u > cum_sku[pl, j]
    sku = offsets[pl] + within

    # One line per SKU and order.
    _, first = np.unique(order * 1_000 + sku, return_index=True)
    keep = np.sort(first)
    order, sku, pl = order[keep], sku[keep], pl[keep]
    l_cust, l_day = l_cust[keep], l_day[keep]

    share = rng.gamma(1.5, 1.0, order.size)
    share /= np.bincount(order, weights=share, minlength=cell.size)[order]
    core = np.array([p[1] == "core" for p in PRODUCT_LINES])[pl]
    risen = core & (l_day >= cal.price_rise_day)
    line_amount = amount[order] * share * np.where(risen, 1.0 + PRICE_RISE_VOLUME_KEEP, 1.0)
    list_price = products["list_price"].to_numpy()[sku] * np.where(risen, 1.0 + PRICE_RISE, 1.0)
    l_channel = channel[order]
    key = customers["_key"].to_numpy()[l_cust]
    discount = np.array(CHANNEL_DISCOUNT)[l_channel] + 0.04 * key + rng.uniform(-0.02, 0.02, order.size)
    unit_net = np.round(list_price * (1.0 - discount), 2)
    quantity = np.maximum(_stochastic_round(rng, line_amount / unit_net), 1)
    unit_cost = products["list_price"].to_numpy()[sku] * products["_cost_ratio"].to_numpy()[sku]

    lines = pd.DataFrame(
        {
            "_order": order,
            "_day": l_day,
            "_cust": l_cust,
            "_rep": rep[order],
            "_region": region[order],
            "_sku": sku,
            "_channel": l_channel,
            "quantity": quantity,
            "_unit_net": unit_net,
            "_unit_cost": unit_cost,
        }
    )
    return lines, cell.size


def _returns(rng: Generator, cal: _Calendar, lines: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """About 1 % of lines: part of an earlier sale sent back 5-60 days later."""
    leave = np.array([_day(x) if pd.notna(x) else np.iinfo(np.int64).max for x in reps["leave_date"]])
    pick = np.flatnonzero(rng.random(len(lines)) < 0.0112)
    back = lines.iloc[pick].copy()
    back["_day"] = back["_day"].to_numpy() + rng.integers(5, 61, len(back))
    ok = (back["_day"].to_numpy() <= cal.end_day) & (back["_day"].to_numpy() <= leave[back["_rep"].to_numpy()])
    back = back[ok]
    q = back["quantity"].to_numpy()
    back["quantity"] = -np.minimum(1 + (rng.random(len(back)) * q).astype(np.int64), q)
    return back


def _finish_orders(
    rng: Generator,
    cal: _Calendar,
    lines: pd.DataFrame,
    n_orders: int,
    back: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
) -> pd.DataFrame:
    """Sales and returns as the contract's order lines: amounts (quantity x unit price, in
    cents), payment state and order ids numbered in date order; ID columns categorical."""
    back = back.assign(_order=n_orders + np.arange(len(back)))
    allx = pd.concat([lines, back], ignore_index=True)
    quantity = allx["quantity"].to_numpy()
    net = np.round(quantity * allx["_unit_net"].to_numpy(), 2)
    cost = np.round(quantity * allx["_unit_cost"].to_numpy(), 2)
    # Payment: paid in full or not yet, by age; slow payers pay later and less.
    cust = allx["_cust"].to_numpy()
    slow = customers["_slow"].to_numpy()[cust]
    age = cal.end_day - allx["_day"].to_numpy() - np.where(slow, 45, 0)
    chance = np.select([age < 30, age < 60, age < 90], [0.35, 0.70, 0.88], 0.975) * np.where(slow, 0.88, 1.0)
    paid = np.where((rng.random(len(allx)) < chance) | (quantity < 0), net, 0.0)
    # Order ids follow the calendar.
    order_key = allx["_order"].to_numpy()
    first_day = np.zeros(n_orders + len(back), dtype=np.int64)
    first_day[order_key] = allx["_day"].to_numpy()
    rank = np.empty_like(first_day)
    rank[np.lexsort((np.arange(first_day.size), first_day))] = np.arange(first_day.size)
    number = rank[order_key] + 1
    width = max(7, len(str(first_day.size)))
    sort = np.lexsort((allx["_sku"].to_numpy(), number))
    skus = products["sku"].to_numpy()
    cust_ids = customers["customer_id"].to_numpy()
    rep_ids = reps["rep_id"].to_numpy()
    out = pd.DataFrame(
        {
            "order_date": _days_to_str(allx["_day"].to_numpy()[sort]),
            "order_id": _ids("O", number[sort], width),
            "customer_id": pd.Categorical.from_codes(cust[sort], categories=cust_ids),
            "rep_id": pd.Categorical.from_codes(allx["_rep"].to_numpy()[sort], categories=rep_ids),
            "region": pd.Categorical.from_codes(allx["_region"].to_numpy()[sort], categories=list(REGIONS)),
            "sku": pd.Categorical.from_codes(allx["_sku"].to_numpy()[sort], categories=skus),
            "channel": pd.Categorical.from_codes(allx["_channel"].to_numpy()[sort], categories=list(CHANNELS)),
            "quantity": quantity[sort],
            "net_amount": net[sort],
            "cost_amount": cost[sort],
            "paid_amount": np.round(paid[sort], 2),
        }
    )
    return out


# --------------------------------------------------------------------------- pipeline


def _opportunities(
    rng: Generator, cal: _Calendar, customers: pd.DataFrame, size_factor: float, scale: float
) -> dict[str, np.ndarray]:
    """Every opportunity of the period (created from eight months before the calendar's start
    up to ``as_of``): customer, product line, raw amount, stage walk and dates (integer days).

    Each opportunity walks the stages with fixed chances to advance (``STAGE_ADVANCE``). Its
    owner plans a close date when creating it (``planned``, about three months out); the walk
    to a win takes that long give or take a quarter (lognormal, sd 0.25), so the expected
    close dates the pipeline shows carry real information about when revenue lands. Customers
    open deals in proportion to ``size^0.6`` and their region's growth trend (so the regions'
    growth story holds for the project business too), only while active. Below ``scale=1``
    there are fewer, bigger deals, as there are fewer, bigger orders.
    """
    first_created = int(cal.month_start[0]) - 240
    n_opp = int(round((cal.end_day - first_created) / 30.4 * OPPORTUNITIES_PER_MONTH * size_factor * min(scale, 1.0)))
    created = np.sort(rng.integers(first_created, cal.end_day + 1, n_opp))
    month_of = np.clip(np.searchsorted(cal.month_start, created, side="right") - 1, 0, cal.n - 1)
    size = customers["_size"].to_numpy()
    start = customers["_start"].to_numpy()
    end = customers["_end"].to_numpy()
    growth = np.array([REGION_GROWTH[r] for r in REGIONS])[customers["_region"].to_numpy()]
    cust = np.empty(n_opp, dtype=np.int64)
    for m in np.unique(month_of):
        idx = np.flatnonzero(month_of == m)
        w = np.where((start <= m) & (end > m), size**0.6 * (1.0 + growth) ** cal.t[m], 0.0)
        cust[idx] = rng.choice(len(customers), size=idx.size, p=w / w.sum())
    affinity = np.vstack(customers["_affinity"].to_numpy())
    launched = np.array([p[6] for p in PRODUCT_LINES])
    probs = affinity[cust] * np.where(launched[None, :], (created >= cal.launch_day)[:, None], True)
    line = _pick(rng, probs.cumsum(axis=1))
    amount = np.exp(rng.normal(0.0, 0.5, n_opp)) * (size[cust] / 12.0) ** 0.5
    advance = rng.random((n_opp, len(STAGES))) < np.array(STAGE_ADVANCE)
    stops = np.argmin(np.column_stack([advance, np.zeros(n_opp, dtype=bool)]), axis=1)
    won = stops == len(STAGES)
    final_stage = np.minimum(stops, len(STAGES) - 1)
    planned = created + np.ceil(rng.lognormal(np.log(95.0), 0.35, n_opp)).astype(np.int64)
    # Days in each stage: the planned span times a lognormal surprise, shared out over the stages.
    span = (planned - created) * rng.lognormal(0.0, 0.25, n_opp)
    shares = rng.gamma(2.0, 1.0, (n_opp, len(STAGES)))
    durations = np.maximum(np.ceil(span[:, None] * shares / shares.sum(axis=1, keepdims=True)), 1).astype(np.int64)
    # entry[:, k] is the day the opportunity reached stage k.
    entry = created[:, None] + np.column_stack([np.zeros(n_opp, dtype=np.int64), durations[:, :-1].cumsum(axis=1)])
    rows = np.arange(n_opp)
    close = entry[rows, final_stage] + durations[rows, final_stage]
    return {
        "created": created,
        "cust": cust,
        "line": line,
        "amount": amount,
        "won": won,
        "final_stage": final_stage,
        "entry": entry,
        "close": close,
        "planned": planned,
        "slip": rng.integers(15, 46, n_opp),
    }


def _scale_deals(opp: dict[str, np.ndarray], cal: _Calendar, revenue: float) -> np.ndarray:
    """Opportunity amounts rounded to hundreds, scaled so that the deals won in the last
    complete year are ``PROJECT_SHARE`` of that year's ``revenue``."""
    last_year = (opp["close"] >= _day(f"{cal.last_full_year}-01-01")) & (
        opp["close"] <= _day(f"{cal.last_full_year}-12-31")
    )
    won_last = float(opp["amount"][opp["won"] & last_year].sum())
    return np.round(opp["amount"] * (PROJECT_SHARE * revenue / max(won_last, 1e-9)), -2)


def _deal_rep(opp: dict[str, np.ndarray], cal: _Calendar, books: np.ndarray) -> np.ndarray:
    """The rep who owns each opportunity at its close: the customer's rep in the close month
    (the month of ``as_of`` for opportunities still open)."""
    close_month = np.clip(np.searchsorted(cal.month_start, opp["close"], side="right") - 1, 0, cal.n - 1)
    return books[opp["cust"], close_month]


def _deal_lines(
    rng: Generator,
    cal: _Calendar,
    opp: dict[str, np.ndarray],
    amounts: np.ndarray,
    rep: np.ndarray,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
    first_order: int,
) -> tuple[pd.DataFrame, int]:
    """Won opportunities closed by ``as_of`` as orders: one order per deal, on its close day
    (kept inside the owner's time in post), one to three SKUs of the deal's product line, the
    customer's usual channel, priced at the deal amount (``quantity x unit price`` rounds to
    within a few cents per unit of it). Order numbers start at ``first_order``."""
    deal = np.flatnonzero(opp["won"] & (opp["close"] <= cal.end_day) & (opp["close"] >= cal.month_start[0]))
    hire = np.array([_day(x) for x in reps["hire_date"]])
    leave = np.array([_day(x) if pd.notna(x) else np.iinfo(np.int64).max for x in reps["leave_date"]])
    day = opp["close"][deal]
    month = np.searchsorted(cal.month_start, day, side="right") - 1
    day = np.clip(
        day, np.maximum(hire[rep[deal]], cal.month_start[month]), np.minimum(leave[rep[deal]], cal.month_end[month])
    )
    sku_line = products["_line"].to_numpy()
    n_skus = 1 + np.minimum(rng.poisson(0.6, deal.size), 2)
    order = np.repeat(np.arange(deal.size), n_skus)
    line = opp["line"][deal][order]
    # SKUs of the deal's line by catalogue popularity, one line per SKU.
    weight = products["_weight"].to_numpy()
    sku = np.empty(order.size, dtype=np.int64)
    for k, ln in enumerate(line):
        cand = np.flatnonzero(sku_line == ln)
        sku[k] = cand[_pick(rng, np.cumsum(weight[cand])[None, :])[0]]
    _, first = np.unique(order * 1_000 + sku, return_index=True)
    keep = np.sort(first)
    order, sku = order[keep], sku[keep]
    share = rng.gamma(2.0, 1.0, order.size)
    share /= np.bincount(order, weights=share, minlength=deal.size)[order]
    line_amount = amounts[deal][order] * share
    cust = opp["cust"][deal][order]
    l_day = day[order]
    core = np.array([p[1] == "core" for p in PRODUCT_LINES])[products["_line"].to_numpy()[sku]]
    list_price = products["list_price"].to_numpy()[sku] * np.where(
        core & (l_day >= cal.price_rise_day), 1.0 + PRICE_RISE, 1.0
    )
    channel = customers["_channel"].to_numpy()[cust]
    discount = np.array(CHANNEL_DISCOUNT)[channel] + 0.04 * customers["_key"].to_numpy()[cust]
    quantity = np.maximum(np.round(line_amount / (list_price * (1.0 - discount))), 1).astype(np.int64)
    lines = pd.DataFrame(
        {
            "_order": first_order + order,
            "_day": l_day,
            "_cust": cust,
            "_rep": rep[deal][order],
            "_region": customers["_region"].to_numpy()[cust],
            "_sku": sku,
            "_channel": channel,
            "quantity": quantity,
            # The negotiated price: the deal amount over the units.
            "_unit_net": np.round(line_amount / quantity, 2),
            "_unit_cost": products["list_price"].to_numpy()[sku] * products["_cost_ratio"].to_numpy()[sku],
        }
    )
    return lines, int(deal.size)


def _pipeline(
    cal: _Calendar,
    opp: dict[str, np.ndarray],
    amounts: np.ndarray,
    rep: np.ndarray,
    books: np.ndarray,
    stage_probability: Mapping[str, float],
) -> pd.DataFrame:
    """Month-end snapshots of the opportunity pipeline over the last twelve months and at ``as_of``.

    An opportunity appears in every snapshot from its creation up to the first snapshot after
    it closed (won or lost), with its amount; open ones show the planned close date (or, once
    that has passed, a slipped one) and the customer's rep of the snapshot month; closed ones
    their close date and the rep who closed them (a won one is an order of that customer,
    rep, product line, month and amount: :func:`_deal_lines`).
    """
    ends = [p.end_time.normalize() for p in cal.months[-13:-1]]
    snapshot_days = np.array([_day(x) for x in ends] + [cal.end_day])
    snapshot_month = np.arange(cal.n - 13, cal.n)
    created, close, planned, slip = opp["created"], opp["close"], opp["planned"], opp["slip"]
    frames = []
    previous = snapshot_days[0] - 31
    for snap, snap_month in zip(snapshot_days, snapshot_month, strict=True):
        present = (created <= snap) & (close > previous)
        idx = np.flatnonzero(present)
        is_open = close[idx] > snap
        final = opp["final_stage"][idx]
        stage = np.where(is_open, np.minimum((opp["entry"][idx] <= snap).sum(axis=1) - 1, final), final)
        status = np.where(is_open, "open", np.where(opp["won"][idx], "won", "lost"))
        expected_close = np.where(is_open, np.where(planned[idx] < snap, snap + slip[idx], planned[idx]), close[idx])
        frames.append(
            pd.DataFrame(
                {
                    "_opp": idx,
                    "_snapshot": snap,
                    "_cust": opp["cust"][idx],
                    "_rep": np.where(is_open, books[opp["cust"][idx], snap_month], rep[idx]),
                    "_line": opp["line"][idx],
                    "_stage": stage,
                    "amount": amounts[idx],
                    "_expected_close": expected_close,
                    "status": status,
                }
            )
        )
        previous = snap
    pipe = pd.concat(frames, ignore_index=True)
    stage_prob = np.array([float(stage_probability[s]) for s in STAGES])
    pipe["probability"] = np.where(
        pipe["status"] == "open", stage_prob[pipe["_stage"]], np.where(pipe["status"] == "won", 1.0, 0.0)
    )
    # Opportunity numbers follow creation order.
    used = np.unique(pipe["_opp"])
    number = np.searchsorted(used, pipe["_opp"].to_numpy()) + 1
    width = max(5, len(str(used.size)))
    return pipe.assign(opportunity_id=_ids("OPP-", number, width)).sort_values(
        ["_snapshot", "opportunity_id"], kind="stable", ignore_index=True
    )


# --------------------------------------------------------------------------- targets


def _availability(month_start: np.ndarray, reps: pd.DataFrame) -> np.ndarray:
    """Share of a full quota per rep and month (reps x months starting on ``month_start`` days).

    A rep counts for a month when in post on its 15th; the first months after hire carry
    ``RAMP`` shares of a full quota, months after leaving none.
    """
    mid = month_start + 14
    hire = np.array([_day(x) for x in reps["hire_date"]])
    leave = np.array([_day(x) if pd.notna(x) else np.iinfo(np.int64).max for x in reps["leave_date"]])
    first = np.searchsorted(mid, hire, side="left")
    m = np.arange(month_start.size)
    active = (hire[:, None] <= mid[None, :]) & (leave[:, None] >= mid[None, :])
    ramp = np.array(RAMP)[np.clip(m[None, :] - first[:, None], 0, len(RAMP) - 1)]
    return active * ramp


def _targets(
    rng: Generator, cal: _Calendar, orders: pd.DataFrame, reps: pd.DataFrame, products: pd.DataFrame
) -> pd.DataFrame:
    """Official targets of last year and this year, per rep, product line and month (version v1).

    Last year's plan is set so that attainment ends near 98.5 % overall with a realistic spread
    per rep (personal factor ~ lognormal, sd 11 %); this year's plan asks every rep for about
    10 % growth on last year (more on emerging lines), which the fast regions beat and the slow
    ones miss. Months are phased with the seasonality of the earlier years; new hires ramp.
    """
    n_r, n_pl = len(reps), len(PRODUCT_LINES)
    # Orders still hold categorical columns here: work on their codes.
    day_of_category = as_dates(orders["order_date"].cat.categories).to_numpy().astype("datetime64[D]")
    month_of_category = np.searchsorted(cal.month_start, day_of_category.astype(np.int64), side="right") - 1
    m_idx = month_of_category[orders["order_date"].cat.codes.to_numpy()]
    r_idx = orders["rep_id"].cat.codes.to_numpy()
    l_idx = products["_line"].to_numpy()[orders["sku"].cat.codes.to_numpy()]
    actual = np.zeros((n_r, n_pl, cal.n))
    np.add.at(actual, (r_idx, l_idx, m_idx), orders["net_amount"].to_numpy())

    # Targets cover whole years, beyond as_of: a calendar of every month from the start
    # to December of this year.
    plan_months = pd.period_range(cal.start, pd.Timestamp(year=cal.as_of.year, month=12, day=1), freq="M")
    plan_start = np.array([_day(p.start_time) for p in plan_months])
    plan_end = np.array([_day(p.end_time.normalize()) for p in plan_months])
    plan_year = np.array([p.year for p in plan_months])
    plan_moy = np.array([p.month for p in plan_months])
    availability = _availability(plan_start, reps)
    launched = np.array([p[6] for p in PRODUCT_LINES])
    line_open = np.where(launched[:, None], plan_end[None, :] >= cal.launch_day, True)
    history = cal.year < cal.last_full_year
    phase = np.array([actual[:, :, history & (cal.moy == k)].sum() for k in range(1, 13)])
    phase = phase / phase.sum()

    last, this = cal.last_full_year, cal.as_of.year
    last_m = cal.year == last
    plan_last, plan_this = plan_year == last, plan_year == this
    region = np.array([REGIONS.index(x) for x in reps["region"]])
    actual_last = actual[:, :, last_m].sum(axis=2)

    # Last year: what each rep then sold, moved by a personal factor (optimistic or modest
    # planning), scaled so the company ends at 98.5 %.
    personal = np.exp(rng.normal(0.0, 0.11, n_r))
    line_noise = np.exp(rng.normal(0.0, 0.05, (n_r, n_pl)))
    base_last = actual_last * personal[:, None] * line_noise
    base_last *= actual_last.sum() / 0.985 / base_last.sum()

    # This year: each region's last-year sales per line times one company growth plan, shared
    # among the reps by their books in the second half of last year; new hires carry the
    # average junior share of their region, leavers keep their quota until they leave.
    line_growth = np.array([LINE_PLAN_GROWTH[p[1]] for p in PRODUCT_LINES])
    region_plan = np.zeros((len(REGIONS), n_pl))
    # A line launched during last year is annualised over the months it was on sale.
    sold_share = (line_open[:, plan_last] * phase[plan_moy[plan_last] - 1][None, :]).sum(axis=1)
    annualised = actual_last / np.where(sold_share > 0, sold_share, 1.0)[None, :]
    np.add.at(region_plan, region, annualised * line_growth[None, :] * PLAN_GROWTH)
    recent = last_m & (cal.moy >= 7)
    # A rep whose returns outweighed the sales of a line has no share of it (not a negative one).
    share = np.maximum(actual[:, :, recent].sum(axis=2), 0.0)
    in_post_this = availability[:, plan_this].sum(axis=1) > 0
    fresh = in_post_this & ((availability[:, plan_last & (plan_moy >= 7)] > 0).sum(axis=1) < 3)
    level = reps["level"].to_numpy()
    for r in range(len(REGIONS)):
        peers = (region == r) & (level == "junior") & ~fresh & in_post_this
        share[fresh & (region == r)] = share[peers].mean(axis=0) if peers.any() else 0.0
    share = share * in_post_this[:, None] * np.exp(rng.normal(0.0, 0.08, n_r))[:, None]
    region_share = np.zeros((len(REGIONS), n_pl))
    np.add.at(region_share, region, share)
    base_this = region_plan[region] * share / np.where(region_share[region] > 0, region_share[region], 1.0)

    frames = []
    for year, months, base in ((last, plan_last, base_last), (this, plan_this, base_this)):
        cols = np.flatnonzero(months)
        season = phase[plan_moy[cols] - 1][None, None, :]
        weight = availability[:, None, cols] * line_open[None, :, cols] * season
        # Last year's base is what was sold while in post: spread it over exactly those months.
        # This year's base is a full year: months out of post or still ramping carry less.
        norm = weight.sum(axis=2) if year == last else (line_open[None, :, cols] * season).sum(axis=2)
        monthly = base[:, :, None] * weight / np.where(norm > 0, norm, 1.0)[:, :, None]
        rr, ll, mm = np.nonzero(availability[:, None, cols] * line_open[None, :, cols] > 0)
        frames.append(
            pd.DataFrame(
                {
                    "year": year,
                    "month": plan_moy[cols][mm],
                    "region": reps["region"].to_numpy()[rr],
                    "product_line": np.array([p[0] for p in PRODUCT_LINES], dtype=object)[ll],
                    "rep_id": reps["rep_id"].to_numpy()[rr],
                    "target_amount": np.round(monthly[rr, ll, mm]).astype(np.int64),
                    "version": "v1",
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["year", "month", "region", "rep_id", "product_line"], kind="stable", ignore_index=True)
        .astype({"year": np.int64, "month": np.int64})
    )


# --------------------------------------------------------------------------- public API


def generate_sample(
    seed: int = 7,
    scale: float = 1.0,
    as_of: str = "2026-11-15",
    stage_probability: Mapping[str, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate the sample company's tables (no I/O).

    Returns ``orders, products, customers, reps, pipeline, targets`` with the contract
    column names of docs/architecture.md (customers still with contract names; the Chinese
    CRM headers are applied by :func:`write_sample`). Dates are ``datetime64`` columns, IDs
    strings. ``scale`` multiplies the number of order lines (about ``300,000 * scale``);
    ``stage_probability`` (stage -> probability of open opportunities) defaults to
    ``forecast.pipeline.stage_probability`` of the package defaults.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SampleError(f"seed={seed!r}: must be a non-negative integer")
    if not isinstance(scale, int | float) or not np.isfinite(scale) or not 0.001 <= scale <= 100:
        raise SampleError(f"scale={scale!r}: must be a number between 0.001 and 100")
    if stage_probability is None:
        stage_probability = default_settings().forecast.pipeline.stage_probability
    missing = [s for s in STAGES if s not in stage_probability]
    if missing:
        raise SampleError(f"stage_probability lacks stage(s) {', '.join(missing)}")
    cal = _Calendar(as_of)
    rng = Generator(PCG64(int(seed)))

    products = _products(rng, cal)
    reps = _reps(rng, cal)
    customers = _customers(rng, cal, _company_size(float(scale)))
    books = _rep_books(rng, cal, customers, reps)
    size_factor = _company_size(float(scale))
    lines, n_orders = _orders(rng, cal, float(scale), products, customers, reps, books)
    # Won opportunities are orders too: the pipeline is generated first, its wins booked.
    opp = _opportunities(rng, cal, customers, size_factor, float(scale))
    amounts = _scale_deals(opp, cal, ANNUAL_REVENUE * size_factor)
    deal_rep = _deal_rep(opp, cal, books)
    deals, n_deals = _deal_lines(rng, cal, opp, amounts, deal_rep, products, customers, reps, n_orders)
    # Returns come from run-rate lines: a project is accepted once delivered.
    back = _returns(rng, cal, lines, reps)
    lines = pd.concat([lines, deals], ignore_index=True)
    n_orders += n_deals
    orders = _finish_orders(rng, cal, lines, n_orders, back, products, customers, reps)
    del lines, back, deals

    dates = pd.DatetimeIndex(as_dates(orders["order_date"].cat.categories))[orders["order_date"].cat.codes]
    pipeline = _pipeline(cal, opp, amounts, deal_rep, books, stage_probability)
    targets = _targets(rng, cal, orders, reps, products)

    def day(values: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]"))

    orders = orders.assign(order_date=dates).astype(
        {c: object for c in ("customer_id", "rep_id", "region", "sku", "channel")}
    )
    line_names = np.array([p[0] for p in PRODUCT_LINES], dtype=object)
    return {
        "orders": orders,
        "products": products.drop(columns=[c for c in products if c.startswith("_")]).assign(
            launch_date=lambda d: as_dates(d["launch_date"].replace("", None))
        ),
        "customers": customers[["customer_id", "customer_name", "industry", "region"]].copy(),
        "reps": reps.drop(columns=["_perf"]),
        "pipeline": pd.DataFrame(
            {
                "opportunity_id": pipeline["opportunity_id"],
                "snapshot_date": day(pipeline["_snapshot"]),
                "customer_id": customers["customer_id"].to_numpy()[pipeline["_cust"]],
                "rep_id": reps["rep_id"].to_numpy()[pipeline["_rep"]],
                "region": reps["region"].to_numpy()[pipeline["_rep"]],
                "product_line": line_names[pipeline["_line"]],
                "stage": np.array(STAGES, dtype=object)[pipeline["_stage"]],
                "amount": pipeline["amount"],
                "expected_close_date": day(pipeline["_expected_close"]),
                "status": pipeline["status"],
                "probability": pipeline["probability"],
            }
        ),
        "targets": targets,
    }


# Chinese headers of the customer export (the CRM's); config/salesplan.yaml maps them back.
CUSTOMER_HEADERS = {"customer_id": "客户编号", "customer_name": "客户名称", "industry": "行业", "region": "区域"}


def _date_strings(values: pd.Series) -> pd.Categorical:
    days = values.to_numpy().astype("datetime64[D]")
    missing = np.isnat(days)
    codes = _days_to_str(np.where(missing, 0, days.astype(np.int64)))
    out = pd.Categorical(codes)
    if missing.any():
        out = out.add_categories([""]) if "" not in out.categories else out
        out[missing] = ""
    return out


_SAMPLE_FILE = re.compile(r"(orders_\d{4}|products|customers|reps|pipeline|targets)\.(csv|parquet)")


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write one table atomically (a temporary file renamed into place); dates as YYYY-MM-DD text."""
    frame = frame.assign(
        **{c: _date_strings(frame[c]) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    )
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n", float_format="%.2f")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        # Plain string columns (no dictionary types, no pandas dtype metadata) for any reader.
        fields = [pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in table.schema]
        table = table.cast(pa.schema(fields)).replace_schema_metadata(None)
        pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def write_sample(
    out_dir: Path | str = "data/raw",
    seed: int = 7,
    scale: float = 1.0,
    as_of: str = "2026-11-15",
    fmt: str = "csv",
) -> dict[str, Path]:
    """Generate the sample company and write it to ``out_dir`` (relative to the project root).

    Files: ``orders_<year>`` (one per calendar year), ``products``, ``customers`` (Chinese CRM
    headers 客户编号, 客户名称, 行业, 区域), ``reps``, ``pipeline``, ``targets``; ``.csv``
    (UTF-8, dates YYYY-MM-DD, amounts with two decimals) or ``.parquet`` with ``fmt``.
    Returns table -> path; for orders the key is ``orders_<year>``.

    Sample files of an earlier run in ``out_dir`` (the names above in either format, any
    year) are removed first, so a folder never holds two versions of a table: the readers
    concatenate every ``orders*`` file they find. Other files are left alone.
    """
    if fmt not in FORMATS:
        raise SampleError(f"fmt={fmt!r}: must be one of {', '.join(FORMATS)}")
    tables = generate_sample(seed=seed, scale=scale, as_of=as_of)
    out = resolve_path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in sorted(out.iterdir()):
        if old.is_file() and _SAMPLE_FILE.fullmatch(old.name):
            old.unlink()
    written: dict[str, Path] = {}
    orders = tables.pop("orders")
    years = orders["order_date"].dt.year.to_numpy()
    for year in np.unique(years):
        path = out / f"orders_{year}.{fmt}"
        _write(orders[years == year], path, fmt)
        written[f"orders_{year}"] = path
    del orders
    tables["customers"] = tables["customers"].rename(columns=CUSTOMER_HEADERS)
    for name in ("products", "customers", "reps", "pipeline", "targets"):
        path = out / f"{name}.{fmt}"
        _write(tables[name], path, fmt)
        written[name] = path
    from salesplan.sample_extras import write_extras  # activities, spend, NPS, dated payments

    written.update(write_extras(out, written, seed=seed, as_of=as_of, fmt=fmt))
    return written
