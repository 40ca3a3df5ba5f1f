"""Aggregates of the order lines, built once per set of input files and stored beside them.

The notebooks need the order lines only summed: by month and dimension (the cube), by
customer and month, by SKU and month, and per order. Summing ten million lines takes
seconds; loading them into every notebook kernel takes gigabytes. So the sums are built
**once per input hash** and written as Parquet into the validated-data cache entry of
:mod:`salesplan.io` (``data/interim/cache/<key>/aggregates/``, the same key: file contents,
header mapping, validation settings, package version), and every reader loads only the
small tables, only the columns it asks for::

    agg = aggregates.load("data/raw", config)
    agg.cube                      # month x region x product_line x tier x rep x customer x channel
    agg.customer_month            # month x customer
    agg.sku_month                 # month x SKU x rep
    agg.order_totals              # one row per order, date and sign of its lines
    agg.read("order_totals", columns=["customer_id", "order_date", "net_amount"])
    aggregates.order_lines("data/raw", config, columns=["order_date", "sku"])   # the rare line reader

The tables (keys first, every key combination that has lines, sorted by the keys with
missing labels last):

``cube``
    :func:`salesplan.cube.cube_from_lines`: ``month, region, product_line, tier, rep_id,
    customer_id, channel`` with ``net_amount, cost_amount, paid_amount, quantity, lines,
    gross_amount, return_amount``.
``customer_month``
    ``month, customer_id`` with ``net_amount, gross_amount, return_amount, quantity, lines``
    and ``orders`` (distinct ``order_id`` with a line in the month): tiers, retention,
    active and new customers, purchase months.
``sku_month``
    ``month, sku, rep_id`` with ``quantity, net_amount, lines``: price-volume-mix (summed
    over reps) and each rep's high-margin share.
``order_totals``
    ``order_id, customer_id, order_date, positive, rep_id, region`` with ``net_amount,
    quantity, lines, paid_amount``, where ``positive`` tells the order's lines with a positive
    ``net_amount`` from its other lines (returns, zero lines): at most two rows per order and
    date when, as exports have it, an order has one customer, rep and region. ``paid_amount``
    is the sum of the lines' paid amounts, missing when none of them has one. Every
    order-level formula of the library gives on this table what it gives on the lines,
    because each only sums ``net_amount`` per order, customer or date and asks whether an
    order has a positive line: RFM (recency and frequency of orders with positive net),
    repeat-purchase rate, first purchase and new vs returning, average order value
    (orders with positive net, or with a positive line), and the receivables position (signed
    and paid per order, with its customer, rep and region). Tested against the lines in
    ``tests/test_aggregates.py``.

Plus the orders table's profile (``lines``, ``first_date``, ``last_date``, missing values per
column) for the data check, without the lines.

Two engines give the same tables (counts exactly, sums to rounding; tested): **pandas** in
memory (integer codes and bincount, :class:`salesplan.cube.Groups`), and **DuckDB** over the
validated ``orders.parquet``, out of core within ``engine.aggregation_memory_mb`` (spilling to
a temporary folder beside the cache), for order lines that do not fit. ``engine.aggregation:
auto`` picks DuckDB when the lines' pandas working set (:data:`PANDAS_BYTES_PER_LINE` per
line) would exceed that budget, and whenever the lines would have to be read back from the
cache anyway (:func:`choose_engine`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from salesplan.config import as_settings
from salesplan.cube import DIMENSIONS, MEASURES, Groups, cube_from_lines, month_start
from salesplan.dates import as_dates
from salesplan.files import replace_folder_atomically
from salesplan.io import Dataset, input_files, load_data
from salesplan.schema import ARROW_STR, TABLES, to_object_str
from salesplan.settings import Settings

log = logging.getLogger(__name__)

# Bump when a table's layout or meaning changes: older stored aggregates are then rebuilt.
AGGREGATES_FORMAT = 2
SUBDIR = "aggregates"
ENGINES = ("pandas", "duckdb")
# Peak memory of the pandas build per order line (the line columns it reads, their integer
# codes and the group arrays): about 380 bytes a line from 0.3 M to 3 M lines, measured by
# benchmarks/scale.py (benchmarks/README.md, "Scale").
PANDAS_BYTES_PER_LINE = 400

# The line columns the aggregates read (cost and paid are optional: NaN when absent).
LINE_COLUMNS = [
    "order_date",
    "order_id",
    "customer_id",
    "rep_id",
    "region",
    "sku",
    "channel",
    "quantity",
    "net_amount",
    "cost_amount",
    "paid_amount",
]

# Column kinds of every stored table, in order: the loader gives each its documented dtype
# whichever engine wrote it (text -> str objects, dates -> datetime64[ns], ...).
SCHEMAS: dict[str, dict[str, str]] = {
    "cube": {
        "month": "date",
        **dict.fromkeys(DIMENSIONS, "str"),
        "net_amount": "float",
        "cost_amount": "float",
        "paid_amount": "float",
        "quantity": "int",
        "lines": "int",
        "gross_amount": "float",
        "return_amount": "float",
    },
    "customer_month": {
        "month": "date",
        "customer_id": "str",
        "net_amount": "float",
        "gross_amount": "float",
        "return_amount": "float",
        "quantity": "int",
        "lines": "int",
        "orders": "int",
    },
    "sku_month": {
        "month": "date",
        "sku": "str",
        "rep_id": "str",
        "quantity": "int",
        "net_amount": "float",
        "lines": "int",
    },
    "order_totals": {
        "order_id": "str",
        "customer_id": "str",
        "order_date": "date",
        "positive": "bool",
        "rep_id": "str",
        "region": "str",
        "net_amount": "float",
        "quantity": "int",
        "lines": "int",
        "paid_amount": "float",
    },
}
KEYS: dict[str, list[str]] = {
    "cube": ["month", *DIMENSIONS],
    "customer_month": ["month", "customer_id"],
    "sku_month": ["month", "sku", "rep_id"],
    "order_totals": ["order_id", "customer_id", "order_date", "positive", "rep_id", "region"],
}
assert list(SCHEMAS["cube"]) == ["month", *DIMENSIONS, *MEASURES]


class AggregationError(RuntimeError):
    """The aggregates could not be built (e.g. the DuckDB engine failed or is missing)."""


# --------------------------------------------------------------------------- dtypes


def normalise(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with the columns of ``kinds`` (those present, in that order) in their
    documented dtypes: ``str`` -> Python str objects (missing = NaN, one object per distinct
    value), ``date`` -> ``datetime64[ns]``, ``int`` -> int64, ``float`` -> float64, ``bool``."""
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        col = frame[name].reset_index(drop=True)
        if kind == "str":
            col = to_object_str(col) if col.dtype != object else col.where(col.notna(), np.nan)
        elif kind == "date":
            col = as_dates(col).astype("datetime64[ns]")
        elif kind == "int":
            col = col.astype("int64")
        elif kind == "float":
            col = col.astype("float64")
        else:
            col = col.astype(bool)
        out[name] = col
    return out


def _release_arrow_memory() -> None:
    # The Arrow buffers of a table read are freed once it is in pandas, but Arrow's allocator
    # keeps them for reuse; handing them back keeps a page's memory at what it holds.
    pa.default_memory_pool().release_unused()


def _read_parquet(path: Path, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
    # Text comes back Arrow-backed and becomes shared str objects in normalise: far faster
    # than letting pyarrow build one Python object per cell.
    table = pq.read_table(path, columns=list(columns) if columns is not None else None, filters=filters)
    return table.to_pandas(types_mapper={pa.string(): ARROW_STR, pa.large_string(): ARROW_STR}.get)


# --------------------------------------------------------------------------- pandas engine


def build_pandas(orders: pd.DataFrame, products: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The four aggregates (module docstring) from order lines in memory.

    ``orders`` needs the columns of :data:`LINE_COLUMNS` (``cost_amount`` / ``paid_amount``
    may be absent); ``products`` gives ``product_line`` and ``tier`` by ``sku``."""
    n = len(orders)
    net = orders["net_amount"].to_numpy(dtype="float64")
    qty = orders["quantity"].to_numpy(dtype="float64")
    dates = as_dates(orders["order_date"]).to_numpy(dtype="datetime64[ns]")
    month_codes, months = pd.factorize(month_start(pd.Series(dates)).to_numpy())
    month_labels = pd.DatetimeIndex(months).astype("datetime64[ns]")
    codes: dict[str, np.ndarray] = {}
    uniques: dict[str, Any] = {}
    for name in ("customer_id", "sku", "rep_id", "order_id", "region"):
        codes[name], uniques[name] = pd.factorize(orders[name], use_na_sentinel=False)
    date_codes, date_uniques = pd.factorize(dates)
    positive = net > 0
    out: dict[str, pd.DataFrame] = {"cube": cube_from_lines(orders, products)}

    def keyed(groups: Groups, columns: dict[str, tuple[np.ndarray, Any]]) -> pd.DataFrame:
        return pd.DataFrame({name: groups.labels(c, u) for name, (c, u) in columns.items()})

    # customer x month; "orders" counts distinct orders per group through the groups of
    # (customer, month, order): one row each, counted back onto their customer-month.
    cm = Groups([month_codes, codes["customer_id"]], [len(months), len(uniques["customer_id"])])
    frame = keyed(
        cm, {"month": (month_codes, month_labels), "customer_id": (codes["customer_id"], uniques["customer_id"])}
    )
    frame["net_amount"] = cm.sum(net)
    frame["gross_amount"] = cm.sum(np.where(positive, net, 0.0))
    frame["return_amount"] = cm.sum(np.where(net < 0, net, 0.0))
    frame["quantity"] = np.rint(cm.sum(qty)).astype("int64")
    frame["lines"] = cm.count()
    per_order = Groups([cm.group, codes["order_id"]], [cm.size, len(uniques["order_id"])])
    frame["orders"] = np.bincount(cm.group[per_order.first], minlength=cm.size).astype("int64") if n else []
    out["customer_month"] = frame

    sm = Groups(
        [month_codes, codes["sku"], codes["rep_id"]], [len(months), len(uniques["sku"]), len(uniques["rep_id"])]
    )
    frame = keyed(
        sm,
        {
            "month": (month_codes, month_labels),
            "sku": (codes["sku"], uniques["sku"]),
            "rep_id": (codes["rep_id"], uniques["rep_id"]),
        },
    )
    frame["quantity"] = np.rint(sm.sum(qty)).astype("int64")
    frame["net_amount"] = sm.sum(net)
    frame["lines"] = sm.count()
    out["sku_month"] = frame

    sign = positive.astype(np.int64)
    ot = Groups(
        [codes["order_id"], codes["customer_id"], date_codes, sign, codes["rep_id"], codes["region"]],
        [
            len(uniques["order_id"]),
            len(uniques["customer_id"]),
            len(date_uniques),
            2,
            len(uniques["rep_id"]),
            len(uniques["region"]),
        ],
    )
    frame = keyed(
        ot,
        {
            "order_id": (codes["order_id"], uniques["order_id"]),
            "customer_id": (codes["customer_id"], uniques["customer_id"]),
            "order_date": (date_codes, pd.DatetimeIndex(date_uniques).astype("datetime64[ns]")),
            "positive": (sign, np.array([False, True])),
            "rep_id": (codes["rep_id"], uniques["rep_id"]),
            "region": (codes["region"], uniques["region"]),
        },
    )
    frame["net_amount"] = ot.sum(net)
    frame["quantity"] = np.rint(ot.sum(qty)).astype("int64")
    frame["lines"] = ot.count()
    paid = orders["paid_amount"].to_numpy(dtype="float64") if "paid_amount" in orders else np.full(n, np.nan)
    frame["paid_amount"] = ot.sum_present(paid)  # as SQL's SUM: NaN only where no line has one
    out["order_totals"] = frame

    for name in ("customer_month", "sku_month", "order_totals"):
        table = normalise(out[name], SCHEMAS[name])
        out[name] = table.sort_values(KEYS[name], kind="stable").reset_index(drop=True)
    return out


def profile_pandas(orders: pd.DataFrame) -> dict[str, Any]:
    """The orders table's profile: ``lines``, ``first_date``, ``last_date`` (ISO text, None
    without lines), ``columns`` and ``missing`` (empty cells per column)."""
    dates = orders["order_date"]
    return _profile(
        len(orders),
        dates.min() if len(orders) else None,
        dates.max() if len(orders) else None,
        {str(c): int(v) for c, v in orders.isna().sum().items()},
    )


def _profile(lines: int, first: Any, last: Any, missing: dict[str, int]) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()

    return {
        "lines": int(lines),
        "first_date": iso(first),
        "last_date": iso(last),
        "columns": list(missing),
        "missing": missing,
    }


def missing_table(profile: Mapping[str, Any]) -> pd.DataFrame:
    """Empty cells per column from a profile: ``column, missing, share`` (of its rows)."""
    counts = pd.Series(profile["missing"], dtype="int64")
    share = counts / profile["lines"] if profile["lines"] else counts * 0.0
    return pd.DataFrame({"column": counts.index, "missing": counts.to_numpy(), "share": share.to_numpy()})


def profile_parquet(path: Path, date_column: str = "order_date") -> dict[str, Any]:
    """The profile (:func:`profile_pandas`; first and last of ``date_column``) of a Parquet file
    of validated rows, from its footer's statistics where they are complete (no data read),
    else by reading the column."""
    meta = pq.read_metadata(path)
    names = meta.schema.to_arrow_schema().names
    missing: dict[str, int] = {}
    first = last = None
    for i, name in enumerate(names):
        stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
        if all(st is not None and st.has_null_count for st in stats):
            missing[name] = int(sum(st.null_count for st in stats))
        else:
            missing[name] = int(pq.read_table(path, columns=[name]).column(0).null_count)
        if name == date_column and meta.num_rows:
            dates = pq.read_table(path, columns=[name]).column(0)
            first, last = pc.min(dates).as_py(), pc.max(dates).as_py()
    return _profile(meta.num_rows, first, last, missing)


# --------------------------------------------------------------------------- DuckDB engine


def _duckdb_sql(columns: Sequence[str]) -> dict[str, str]:
    """One SELECT per aggregate over the view ``lines`` (and ``products``), same formulas as
    :func:`build_pandas`; the sort puts missing labels last, as pandas does."""
    cost = "cost_amount" if "cost_amount" in columns else "CAST(NULL AS DOUBLE)"
    paid = "paid_amount" if "paid_amount" in columns else "CAST(NULL AS DOUBLE)"
    dims = ", ".join(DIMENSIONS)
    order = {name: ", ".join(f"{k} ASC NULLS LAST" for k in KEYS[name]) for name in KEYS}
    gross = "SUM(CASE WHEN net_amount > 0 THEN net_amount ELSE 0 END)"
    returns = "SUM(CASE WHEN net_amount < 0 THEN net_amount ELSE 0 END)"
    return {
        "cube": f"""
            SELECT month, {dims},
                   SUM(net_amount) AS net_amount, SUM({cost}) AS cost_amount, SUM({paid}) AS paid_amount,
                   CAST(SUM(quantity) AS BIGINT) AS quantity, COUNT(*) AS lines,
                   {gross} AS gross_amount, {returns} AS return_amount
            FROM lines LEFT JOIN products USING (sku)
            GROUP BY month, {dims} ORDER BY {order["cube"]}""",
        "customer_month": f"""
            SELECT month, customer_id, SUM(net_amount) AS net_amount, {gross} AS gross_amount,
                   {returns} AS return_amount, CAST(SUM(quantity) AS BIGINT) AS quantity, COUNT(*) AS lines,
                   COUNT(DISTINCT order_id) AS orders
            FROM lines GROUP BY month, customer_id ORDER BY {order["customer_month"]}""",
        "sku_month": f"""
            SELECT month, sku, rep_id, CAST(SUM(quantity) AS BIGINT) AS quantity, SUM(net_amount) AS net_amount,
                   COUNT(*) AS lines
            FROM lines GROUP BY month, sku, rep_id ORDER BY {order["sku_month"]}""",
        "order_totals": f"""
            SELECT order_id, customer_id, order_date, net_amount > 0 AS positive, rep_id, region,
                   SUM(net_amount) AS net_amount, CAST(SUM(quantity) AS BIGINT) AS quantity, COUNT(*) AS lines,
                   SUM({paid}) AS paid_amount
            FROM lines GROUP BY order_id, customer_id, order_date, positive, rep_id, region
            ORDER BY {order["order_totals"]}""",
    }


def build_duckdb(
    orders_files: Path | Sequence[Path],
    products: pd.DataFrame,
    out_dir: Path | None = None,
    *,
    memory_mb: int = 2048,
    threads: int | None = None,
    temp_dir: Path | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The four aggregates and the orders profile computed by DuckDB over Parquet files of
    validated order lines (the cache's ``orders.parquet``), within ``memory_mb`` of memory.

    With ``out_dir`` each aggregate is written there as ``<name>.parquet`` straight from
    DuckDB (never held in pandas) and the returned dict is empty; without it, the tables
    are returned (normalised dtypes). Returns ``(tables, profile)``."""
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - duckdb is a dependency
        raise AggregationError("the DuckDB aggregation engine needs the duckdb package") from exc

    files = [str(orders_files)] if isinstance(orders_files, str | os.PathLike) else [str(f) for f in orders_files]
    present = set(pq.read_schema(files[0]).names)
    columns = [c for c in LINE_COLUMNS if c in present]
    spill = Path(tempfile.mkdtemp(prefix=".duckdb-", dir=temp_dir))
    con = duckdb.connect(config={"memory_limit": f"{int(memory_mb)}MB", "temp_directory": str(spill)})
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        # Insertion order is irrelevant (every result is sorted): not keeping it lets DuckDB
        # stream and spill more freely.
        con.execute("SET preserve_insertion_order = false")
        lookup = products.drop_duplicates("sku")[["sku", "product_line", "tier"]].astype(object)
        con.register("products_frame", lookup)
        con.execute("CREATE TEMP TABLE products AS SELECT * FROM products_frame")
        selected = ", ".join(c for c in columns if c != "order_date")
        con.execute(
            "CREATE TEMP VIEW lines AS SELECT CAST(order_date AS TIMESTAMP) AS order_date, "
            f"CAST(date_trunc('month', CAST(order_date AS TIMESTAMP)) AS TIMESTAMP) AS month, {selected} "
            f"FROM read_parquet({files!r})"
        )
        tables: dict[str, pd.DataFrame] = {}
        for name, sql in _duckdb_sql(columns).items():
            if out_dir is not None:
                target = Path(out_dir) / f"{name}.parquet"
                con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            else:
                relation = con.sql(sql)
                # DuckDB 2 names it to_arrow_table, 1.x arrow.
                fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
                tables[name] = normalise(fetch().to_pandas(), SCHEMAS[name])
        all_columns = list(pq.read_schema(files[0]).names)
        counts = ", ".join(f'COUNT(*) - COUNT("{c}")' for c in all_columns)
        row = con.execute(
            f"SELECT COUNT(*), MIN(order_date), MAX(order_date), {counts} FROM read_parquet({files!r})"
        ).fetchone()
    except duckdb.Error as exc:
        raise AggregationError(f"DuckDB aggregation failed: {exc}") from exc
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    assert row is not None
    profile = _profile(row[0], row[1], row[2], dict(zip(all_columns, (int(v) for v in row[3:]), strict=True)))
    return tables, profile


# --------------------------------------------------------------------------- the store


@dataclass
class Aggregates:
    """The stored aggregates of one set of input files (module docstring). Tables are read on
    first use (``cube``, ``customer_month``, ``sku_month``, ``order_totals``) or column-pruned
    with :meth:`read`; ``profile`` describes the orders table. ``folder`` is None when the
    cache could not be written and the tables live in memory only."""

    folder: Path | None
    meta: dict[str, Any]
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def read(self, name: str, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
        """Table ``name`` with only ``columns`` (default all) and rows matching ``filters``
        (pyarrow's ``[(column, op, value), ...]``, e.g. ``[("month", ">=", ts)]``)."""
        if name not in SCHEMAS:
            raise KeyError(f"no aggregate {name!r}; there are {', '.join(SCHEMAS)}")
        unknown = [c for c in columns or () if c not in SCHEMAS[name]]
        if unknown:
            raise KeyError(f"aggregate {name} has no column(s) {unknown}; it has {list(SCHEMAS[name])}")
        if name in self._frames or self.folder is None:
            frame = self._frames[name]
            if filters is not None:
                table = pa.Table.from_pandas(frame, preserve_index=False).filter(pq.filters_to_expression(filters))
                frame = normalise(table.to_pandas(), SCHEMAS[name])
            return frame[list(columns)] if columns is not None else frame
        kinds = {c: k for c, k in SCHEMAS[name].items() if columns is None or c in columns}
        frame = normalise(_read_parquet(self.folder / f"{name}.parquet", list(kinds), filters), kinds)
        _release_arrow_memory()
        if columns is None and filters is None:
            self._frames[name] = frame
        return frame[list(columns)] if columns is not None else frame

    @property
    def cube(self) -> pd.DataFrame:
        """Monthly facts, as :func:`salesplan.cube.build_cube` gives them."""
        return self.read("cube")

    @property
    def customer_month(self) -> pd.DataFrame:
        """Net sales, lines and orders per customer and month."""
        return self.read("customer_month")

    @property
    def sku_month(self) -> pd.DataFrame:
        """Quantity and net sales per SKU, rep and month."""
        return self.read("sku_month")

    @property
    def order_totals(self) -> pd.DataFrame:
        """One row per order, date and sign of its lines (module docstring)."""
        return self.read("order_totals")

    def sku_lines(self, filters: Any = None) -> pd.DataFrame:
        """``sku_month`` as dated lines (``order_date, sku, rep_id, quantity, net_amount,
        lines``, each month's sums dated on its first day): what the line-level formulas
        that window by month (price-volume-mix, high-end and high-margin shares) read."""
        return self.read("sku_month", filters=filters).rename(columns={"month": "order_date"})

    @property
    def profile(self) -> dict[str, Any]:
        """The orders table: ``lines``, ``first_date``, ``last_date``, ``columns``, ``missing``."""
        return self.meta["profile"]

    @property
    def lines(self) -> int:
        """Number of order lines aggregated."""
        return int(self.profile["lines"])

    @property
    def first_date(self) -> pd.Timestamp:
        """The first order date (NaT without lines)."""
        return pd.Timestamp(self.profile["first_date"]) if self.profile["first_date"] else pd.NaT

    @property
    def last_date(self) -> pd.Timestamp:
        """The last order date (NaT without lines): the data's as-of date."""
        return pd.Timestamp(self.profile["last_date"]) if self.profile["last_date"] else pd.NaT

    @property
    def date_span(self) -> pd.Series:
        """The first and the last order date: all :func:`salesplan.workbook.resolve_month` needs."""
        return pd.Series([self.first_date, self.last_date], name="order_date")

    def missing(self) -> pd.DataFrame:
        """Empty cells per column of the orders table: ``column, missing, share`` (of the lines)."""
        return missing_table(self.profile)

    @property
    def engine(self) -> str:
        """The engine that built the tables (``pandas`` or ``duckdb``)."""
        return str(self.meta["engine"])


def from_data(data: Dataset) -> Aggregates:
    """The aggregates of validated data in memory, kept in memory (nothing is written)."""
    meta = {"format": AGGREGATES_FORMAT, "engine": "pandas", "profile": profile_pandas(data.orders)}
    return Aggregates(None, meta, build_pandas(data.orders, data.products))


def choose_engine(setting: str, lines: int, memory_mb: int, in_memory: bool = True) -> str:
    """The aggregation engine for ``lines`` order lines: ``setting`` when it names one, else
    (``auto``) DuckDB when the pandas working set (:data:`PANDAS_BYTES_PER_LINE` a line)
    would exceed ``memory_mb``, or when the lines are not in memory already: read from the
    Parquet cache, DuckDB was twice as fast as pandas with under half its peak memory at
    0.3 M and 3 M lines (benchmarks/README.md, "Scale")."""
    if setting in ENGINES:
        return setting
    if setting != "auto":
        raise ValueError(f"engine.aggregation {setting!r}: expected auto, pandas or duckdb")
    too_big = lines * PANDAS_BYTES_PER_LINE > int(memory_mb) * 2**20
    return "duckdb" if too_big or not in_memory else "pandas"


def cache_entry(
    data_dir: str | os.PathLike[str],
    config: Settings | Mapping[str, Any] | None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The validated-data cache entry of the exports in ``data_dir`` (as :func:`salesplan.io.load_data`
    keys it: the files' SHA-256, header mapping, validation settings, package version),
    whether or not it exists yet."""
    return input_files(data_dir, config, cache_dir)[2]


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != AGGREGATES_FORMAT or any(not (folder / f"{n}.parquet").exists() for n in SCHEMAS):
        return None
    return meta


def _products(entry: Path) -> pd.DataFrame:
    return normalise(_read_parquet(entry / "products.parquet"), {"sku": "str", "product_line": "str", "tier": "str"})


def _write(tables: dict[str, pd.DataFrame], meta: dict[str, Any], staged: Path) -> None:
    """Write the tables (those not already written into ``staged``) and meta.json into the
    staging folder (:func:`salesplan.files.replace_folder_atomically` moves it into place)."""
    for name, frame in tables.items():
        frame.to_parquet(staged / f"{name}.parquet", index=False, compression="zstd")
    (staged / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def load(
    data_dir: str | os.PathLike[str] = "data/raw",
    config: Settings | Mapping[str, Any] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    engine: str | None = None,
    today: pd.Timestamp | None = None,
) -> Aggregates:
    """The aggregates of the exports in ``data_dir``: read from the cache entry when they were
    built for these input files, else built once (validating the exports first if the
    validated cache does not exist yet: :func:`salesplan.io.load_data`, which raises
    ``DataValidationError``) and stored there.

    ``config``: the settings (:class:`~salesplan.settings.Settings`; a nested dict is validated
    over the defaults, None gives the defaults). ``engine`` overrides ``engine.aggregation``
    (``auto``, ``pandas``, ``duckdb``); the budget is ``engine.aggregation_memory_mb``.
    Concurrent callers (notebook kernels run side by side) build once: the others wait on a
    lock and read the result."""
    from filelock import FileLock

    config = as_settings(config)
    settings = config.engine
    entry = cache_entry(data_dir, config, cache_dir)
    folder = entry / SUBDIR
    meta = _read_meta(folder)
    if meta is not None:
        return Aggregates(folder, meta)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry.parent / f".{entry.name[:16]}.aggregates.lock")):
        meta = _read_meta(folder)
        if meta is not None:
            return Aggregates(folder, meta)
        data: Dataset | None = None
        if not (entry / "meta.json").exists():
            data = load_data(data_dir, config, cache_dir=cache_dir, today=today)
            if not (entry / "meta.json").exists():
                # The cache could not be written (read-only disk ...): aggregate in memory.
                log.warning("no cache entry at %s: aggregates are built in memory and not kept", entry)
                return from_data(data)
        lines = len(data.orders) if data is not None else pq.read_metadata(entry / "orders.parquet").num_rows
        chosen = choose_engine(
            engine or settings.aggregation, lines, settings.aggregation_memory_mb, in_memory=data is not None
        )
        started = time.perf_counter()
        # Built aside and moved into place whole: a kernel reading meanwhile never sees half of it.
        with replace_folder_atomically(folder) as staged:
            if chosen == "duckdb":
                data = None  # DuckDB reads the lines from Parquet: free the in-memory copy first
                tables, profile = build_duckdb(
                    entry / "orders.parquet",
                    _products(entry),
                    staged,
                    memory_mb=settings.aggregation_memory_mb,
                    temp_dir=entry.parent,
                )
            elif data is not None:
                tables, profile = build_pandas(data.orders, data.products), profile_pandas(data.orders)
                data = None
            else:
                present = pq.read_schema(entry / "orders.parquet").names
                orders = _lines_dtypes(
                    _read_parquet(entry / "orders.parquet", [c for c in LINE_COLUMNS if c in present])
                )
                tables, profile = build_pandas(orders, _products(entry)), profile_parquet(entry / "orders.parquet")
                del orders
            meta = {
                "format": AGGREGATES_FORMAT,
                "engine": chosen,
                "seconds": round(time.perf_counter() - started, 3),
                "profile": profile,
            }
            _write(tables, meta, staged)
    meta = _read_meta(folder)
    if meta is None:  # pragma: no cover - written just above
        raise AggregationError(f"aggregates at {folder} could not be read back")
    return Aggregates(folder, meta)


def cached_table(
    data_dir: str | os.PathLike[str],
    config: Settings | Mapping[str, Any] | None,
    table: str,
    columns: Sequence[str] | None = None,
    *,
    filters: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    today: pd.Timestamp | None = None,
) -> pd.DataFrame | None:
    """The validated ``table`` with only ``columns`` (default all) and the rows matching
    ``filters`` (pyarrow's ``[(column, op, value), ...]``), read from the validated cache
    (validating the exports first when it does not exist); None when the data has no such
    table. For the rare reader that needs rows of a line table (:data:`salesplan.io.LINE_TABLES`);
    dtypes as :class:`salesplan.io.Dataset` documents them."""
    config = as_settings(config)
    entry = cache_entry(data_dir, config, cache_dir)
    if not (entry / "meta.json").exists():
        data = load_data(data_dir, config, cache_dir=cache_dir, today=today)
        if not (entry / "meta.json").exists():
            frame = getattr(data, table)
            return None if frame is None else select(frame, table, columns, filters)
    return read_validated(entry, table, columns, filters)


def read_validated(
    entry: Path, table: str, columns: Sequence[str] | None = None, filters: Any = None
) -> pd.DataFrame | None:
    """``table`` from the validated-data cache entry ``entry`` (columns and rows as
    :func:`cached_table`); None when the data has no such table."""
    path = entry / f"{table}.parquet"
    if not path.exists():
        return None
    frame = _table_dtypes(table, _read_parquet(path, columns, filters))
    _release_arrow_memory()
    return frame


def select(frame: pd.DataFrame, table: str, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
    """An in-memory validated ``table`` with only ``columns`` and the rows matching pyarrow
    ``filters``, dtypes kept: what :func:`read_validated` gives from the cache."""
    frame = frame if columns is None else frame[list(columns)]
    if filters is None:
        return frame
    arrow = pa.Table.from_pandas(frame, preserve_index=False).filter(pq.filters_to_expression(filters))
    return _table_dtypes(table, arrow.to_pandas(types_mapper={pa.string(): ARROW_STR}.get))


def order_lines(
    data_dir: str | os.PathLike[str] = "data/raw",
    config: Settings | Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
    *,
    filters: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    today: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The validated order lines (:func:`cached_table` of ``orders``)."""
    frame = cached_table(data_dir, config, "orders", columns, filters=filters, cache_dir=cache_dir, today=today)
    assert frame is not None  # orders is a required table
    return frame


def _lines_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    return _table_dtypes("orders", frame)


def _table_dtypes(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    kinds = {f.name: f.kind for f in TABLES[table] if f.name in frame.columns}
    extra = {c: "str" for c in frame.columns if c not in kinds and isinstance(frame[c].dtype, pd.StringDtype)}
    keep = [c for c in frame.columns if c not in kinds and c not in extra]
    out = normalise(frame, {**kinds, **extra})
    for c in keep:
        out[c] = frame[c].to_numpy()
    return out[list(frame.columns)]
