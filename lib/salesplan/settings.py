"""Typed, validated settings: the shape of ``defaults.yaml`` as pydantic models.

The method's default values live in exactly one place, ``defaults.yaml``; these models hold
no defaults of their own. :func:`salesplan.config.load_settings` deep-merges the user's YAML
over the defaults and validates the result here, so every key is present, typed and
checked, and an unknown key at any level is refused with its dotted path
(``targets.top_down.multipler``). Library code reads settings by key, never with a
fallback literal.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from salesplan.merge import deep_merge

Share = Annotated[float, Field(ge=0.0, le=1.0)]
"""A fraction between 0 and 1 (a percentage written as 0.35)."""
NonNegative = Annotated[float, Field(ge=0.0)]
PositiveInt = Annotated[int, Field(ge=1)]
Amount = Annotated[int | float, Field(ge=0)]
"""Currency units (a whole number stays whole)."""


class _Section(BaseModel):
    """A settings section: every key required (defaults come from defaults.yaml), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- data


class ColumnMappings(_Section):
    """Source header -> contract column, per table."""

    orders: dict[str, str]
    products: dict[str, str]
    customers: dict[str, str]
    reps: dict[str, str]
    pipeline: dict[str, str]
    targets: dict[str, str]
    actions: dict[str, str]
    activities: dict[str, str]
    spend: dict[str, str]
    nps: dict[str, str]
    receivables: dict[str, str]


class IoSettings(_Section):
    """How exports are read: a date format per table, the XLSX sheet per table, Excel serials in CSV."""

    date_format: dict[str, str]
    sheet: dict[str, str]
    csv_excel_serial_dates: bool


class ValidationSettings(_Section):
    min_date: str
    max_days_after_today: Annotated[int, Field(ge=0)]
    channels: list[str]
    product_tiers: list[str]
    rep_levels: list[str]
    pipeline_status: list[str]
    action_status: list[str]
    max_failures_per_rule: PositiveInt
    true_values: list[str]
    false_values: list[str]


class CustomerTiers(_Section):
    """Lower bounds of a year's net purchases (currency units) for tiers A, B and C (D below C)."""

    A: Amount
    B: Amount
    C: Amount

    @model_validator(mode="after")
    def _ordered(self) -> CustomerTiers:
        if not self.A > self.B > self.C:
            raise ValueError(f"tiers must fall from A to C (A > B > C), got A={self.A}, B={self.B}, C={self.C}")
        return self


# --------------------------------------------------------------------------- review


class ReviewSettings(_Section):
    top_movers: PositiveInt
    pareto_shares: list[Share]
    rfm_bins: PositiveInt
    attainment_bands: tuple[NonNegative, NonNegative]
    rfm_window_months: PositiveInt
    seasonality_alpha: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _bands(self) -> ReviewSettings:
        low, high = self.attainment_bands
        if low >= high:
            raise ValueError(f"attainment_bands: the first bound must be below the second, got {low}, {high}")
        return self


# --------------------------------------------------------------------------- targets


class Increments(_Section):
    new_products: float
    new_regions: float
    price_change_pct: float


class TopDown(_Section):
    method: Literal["industry_growth", "market_share"]
    industry_growth: float
    multiplier: NonNegative
    market_size: NonNegative | None
    market_share: Share | None

    @model_validator(mode="after")
    def _market(self) -> TopDown:
        if self.method == "market_share" and (self.market_size is None or self.market_share is None):
            raise ValueError("method market_share needs both market_size and market_share")
        return self


class BottomUp(_Section):
    resource_factor: dict[str, NonNegative]
    potential_index: dict[str, NonNegative]
    personal_growth: float
    level_coefficient: dict[str, NonNegative]


class Reconcile(_Section):
    rule: Literal["scale_to_top_down", "blend"]
    top_down_weight: Share
    bottom_up: Literal["regions", "reps"]


class Season(_Section):
    """One campaign season of a seasonal template: its months (1-12) and its share of the year."""

    name: str = ""
    months: Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(min_length=1, max_length=12)]
    share: NonNegative


class Phasing(_Section):
    method: Literal["seasonality", "quarterly_template", "season_template", "monthly_profile"]
    template: str
    quarterly_templates: dict[str, Annotated[list[NonNegative], Field(min_length=4, max_length=4)]]
    season: str = "campaign"
    seasonal_templates: dict[str, Annotated[list[Season], Field(min_length=1)]] = {}
    monthly_profile: Annotated[list[NonNegative], Field(min_length=12, max_length=12)] | None

    @model_validator(mode="after")
    def _template(self) -> Phasing:
        if self.template not in self.quarterly_templates:
            raise ValueError(
                f"template {self.template!r} is not one of the quarterly_templates "
                f"({', '.join(self.quarterly_templates)})"
            )
        if self.method == "monthly_profile" and self.monthly_profile is None:
            raise ValueError("method monthly_profile needs monthly_profile: 12 weights")
        if self.method == "season_template" and self.season not in self.seasonal_templates:
            raise ValueError(
                f"season {self.season!r} is not one of the seasonal_templates ({', '.join(self.seasonal_templates)})"
            )
        for name, seasons in self.seasonal_templates.items():
            months = sorted(m for s in seasons for m in s.months)
            if months != list(range(1, 13)):
                raise ValueError(
                    f"seasonal_templates.{name}: the seasons must cover months 1-12 exactly once, got {months}"
                )
            if sum(s.share for s in seasons) <= 0:
                raise ValueError(f"seasonal_templates.{name}: the shares must have a positive total")
        return self


class Allocation(_Section):
    basis: Literal["last_year", "trailing_12m", "potential", "capacity", "blend"]
    region_totals: Literal["reconciled", "basis"]
    rep_totals: Literal["reconciled", "basis"]
    blend_weights: dict[Literal["last_year", "trailing_12m", "capacity", "potential"], NonNegative]


class RegionTierFactors(_Section):
    """Weight of each region tier (the method's strategic / potential / opportunistic); 1.0 is neutral."""

    strategic: NonNegative
    potential: NonNegative
    opportunistic: NonNegative


class ProductTierFactors(_Section):
    """Weight of each product tier (core / emerging / long_tail, the products' ``tier``); 1.0 is neutral."""

    core: NonNegative
    emerging: NonNegative
    long_tail: NonNegative


class TierFactors(_Section):
    region: RegionTierFactors
    product_line: ProductTierFactors


class ProcessTargets(_Section):
    visits_per_lead: NonNegative
    fallback_win_rate: Share
    min_won_deals: PositiveInt


class TargetsSettings(_Section):
    cagr_years: PositiveInt
    increments: Increments
    stretch_pct: NonNegative
    top_down: TopDown
    bottom_up: BottomUp
    reconcile: Reconcile
    phasing: Phasing
    allocation: Allocation
    region_tiers: dict[str, Literal["strategic", "potential", "opportunistic"]]
    tier_factors: TierFactors
    ramp: Annotated[list[Share], Field(min_length=1)]
    over_assignment_buffer: NonNegative
    gross_margin_goal: Share
    process: ProcessTargets
    # Scenarios are partial overrides of this section; each is checked by applying it (below).
    scenarios: dict[str, dict[str, Any]]
    draft_from_month: Annotated[int, Field(ge=1, le=12)]
    revision_flag_share: Share

    @model_validator(mode="after")
    def _scenarios(self) -> TargetsSettings:
        base = self.model_dump(exclude={"scenarios"})
        for name, override in self.scenarios.items():
            if "scenarios" in (override or {}):
                raise ValueError(f"scenarios.{name}: a scenario cannot define scenarios")
            try:
                ScenarioTargets.model_validate(deep_merge(base, override or {}))
            except ValidationError as exc:
                problems = "; ".join(
                    f"scenarios.{name}.{'.'.join(str(p) for p in err['loc'])}: "
                    + ("unknown key" if err["type"] == "extra_forbidden" else err["msg"])
                    for err in exc.errors()
                )
                raise ValueError(problems) from None
        return self


class ScenarioTargets(TargetsSettings):
    """The targets section as one scenario leaves it (no nested scenarios)."""

    scenarios: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)


# --------------------------------------------------------------------------- commission


class CommissionSettings(_Section):
    tiers: Annotated[list[tuple[NonNegative, NonNegative]], Field(min_length=1)]
    mode: Literal["whole", "marginal"]
    high_margin_multiplier: NonNegative
    quarter_excess_rate: NonNegative
    team_penalty_below: NonNegative
    team_penalty_pct: Share
    team_bonus_above: NonNegative
    team_bonus_months: PositiveInt
    team_bonus_pct: NonNegative

    @model_validator(mode="after")
    def _tiers(self) -> CommissionSettings:
        bounds = [lower for lower, _rate in self.tiers]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError(f"tiers: lower bounds must rise strictly, got {bounds}")
        return self


# --------------------------------------------------------------------------- retrospective


class Thresholds(_Section):
    yellow: Share
    red: Share
    dark_red: Share
    ahead: Share

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.yellow < self.red < self.dark_red:
            raise ValueError(
                f"deviation bands must widen: yellow < red < dark_red, got {self.yellow}, {self.red}, {self.dark_red}"
            )
        return self


class Escalation(_Section):
    yellow: str
    red: str
    dark_red: str


class ActionSettings(_Section):
    """The action register carried from month to month (:mod:`salesplan.retro.actions`)."""

    period: Literal["month", "ytd"]
    statuses: list[Literal["yellow", "red", "dark_red"]]
    escalate_after_months: PositiveInt


class ProcessTracking(_Section):
    """Process targets tracked in the retrospective (:mod:`salesplan.retro.process`)."""

    visit_types: Annotated[list[str], Field(min_length=1)]
    implausible_below: Share


class RetroSettings(_Section):
    thresholds: Thresholds
    escalation: Escalation
    product_owners: dict[str, str]
    variance_dimensions: list[str]
    waterfall_items: PositiveInt
    actions: ActionSettings
    process: ProcessTracking


class KpiSettings(_Section):
    attainment_goal: NonNegative
    gross_margin_goal: Share
    collection_goal: Share
    new_customer_count_share_goal: Share
    new_customer_sales_share_goal: Share
    repeat_purchase_goal: Share
    high_end_share_goal: Share
    retention_goal_A: Share
    churn_goal: Share
    ltv_cac_goal: NonNegative
    cac_goal: NonNegative | None
    acquisition_spend_categories: Annotated[list[str], Field(min_length=1)]
    channel_conversion_goal: Share | None
    nps_goal: Annotated[float, Field(ge=-1.0, le=1.0)]
    aov_growth_goal: float
    trend_months: PositiveInt
    repeat_window_months: PositiveInt


# --------------------------------------------------------------------------- forecast


class HitCalibrationSettings(_Section):
    method: Literal["beta", "logistic", "isotonic", "identity"]
    back: list[PositiveInt]
    plan_factors: list[NonNegative]
    prior_cases: NonNegative
    min_cases: Annotated[int, Field(ge=0)]


class PipelineSettings(_Section):
    min_closed: Annotated[int, Field(ge=0)]
    stage_probability: dict[str, Share]
    blend_weights: list[Share]


class GlobalModelSettings(_Section):
    """The global member (:mod:`salesplan.forecast.global_model`): on or off, its weight in the
    blend with the local ensemble and the shortest history it serves; whether the blend's band
    is calibrated on the blend's own errors, at origins ``calibration_step`` months apart over
    the last ``calibration_span`` months. ``objective``: the loss the trees minimise on the
    monthly changes of ``log(1 + y)``, ``l1`` (absolute: the median change) or ``l2`` (squared:
    the mean change)."""

    enabled: bool
    weight: Share
    min_months: PositiveInt
    objective: Literal["l1", "l2"]
    calibrate: bool
    calibration_span: PositiveInt
    calibration_step: PositiveInt


class ForecastSettings(_Section):
    levels: Annotated[list[Annotated[int, Field(ge=1, le=99)]], Field(min_length=1)]
    horizon: PositiveInt
    season_length: PositiveInt
    max_origins: PositiveInt
    temporal_levels: list[PositiveInt]
    temporal_min_points: PositiveInt
    # The band's tilt with the months ahead (engine step 6); 0 is the flat correction.
    horizon_growth: Annotated[float, Field(ge=0, le=10)]
    global_model: GlobalModelSettings
    cv_windows: PositiveInt
    backtest_horizon: PositiveInt
    backtest_step: PositiveInt
    min_history_months: PositiveInt
    reconciliation: Literal["mint_shrink", "bottom_up", "ols"]
    p_hit_calibration: HitCalibrationSettings
    pipeline: PipelineSettings


class Bands(_Section):
    high: Share
    medium: Share

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if not self.medium < self.high:
            raise ValueError(f"medium must be below high, got medium={self.medium}, high={self.high}")
        return self


class WarningSettings(_Section):
    """Early-warning triggers (:mod:`salesplan.retro.risks`)."""

    payment_terms_days: Annotated[int, Field(ge=0)]
    receivable_overdue_days: Annotated[int, Field(ge=0)]
    churn_rate: Share
    stale_days: Annotated[int, Field(ge=0)]
    large_deal_quantile: Share
    director: str
    largest_items: PositiveInt


class RiskSettings(_Section):
    probability: Bands
    impact: Bands
    warnings: WarningSettings


_EXAMPLE = {"spark": "spark://host:7077 or local[2]", "ray": "ray://host:10001"}


class EngineSettings(_Section):
    """Where the heavy work runs: the aggregation of order lines and the forecast's series."""

    aggregation: Literal["auto", "pandas", "duckdb"]
    aggregation_memory_mb: PositiveInt
    forecast: Literal["local", "dask", "spark", "ray"]
    address: str | None

    @model_validator(mode="after")
    def _address(self) -> EngineSettings:
        # An address for Spark or Ray must name where the cluster is; Dask alone can start a
        # throwaway local cluster, which is still useful for trying the distributed path.
        if self.forecast in ("spark", "ray") and not self.address:
            raise ValueError(f"forecast {self.forecast} needs the cluster's address (e.g. {_EXAMPLE[self.forecast]})")
        return self


class ReportSettings(_Section):
    """How reports state their figures: ``currency``, the ISO 4217 code of the data's money
    (three capital letters, e.g. CNY), printed on every amount people are paid on, and
    ``money_unit``, the unit every page, chart, statement and workbook shows money in
    ("" whole currency units, K thousands, M millions, B billions)."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    money_unit: Literal["", "K", "M", "B"]


class Settings(_Section):
    """Every business assumption the workbook uses (see ``defaults.yaml`` for values and meaning)."""

    columns: ColumnMappings
    io: IoSettings
    validation: ValidationSettings
    customer_tiers: CustomerTiers
    review: ReviewSettings
    targets: TargetsSettings
    commission: CommissionSettings
    retro: RetroSettings
    kpi: KpiSettings
    forecast: ForecastSettings
    risk: RiskSettings
    engine: EngineSettings
    report: ReportSettings

    def as_dict(self) -> dict[str, Any]:
        """The settings as the nested plain dict the library functions take (every key present)."""
        return self.model_dump(mode="python")
