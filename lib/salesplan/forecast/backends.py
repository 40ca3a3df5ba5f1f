"""Where the engine's series are fitted: this machine's cores, or a cluster through Fugue.

The forecast of many series is embarrassingly parallel: each series is fitted on its own by
:func:`salesplan.forecast.engine.fit_one`. :func:`fit_series_on` keeps the long-format API
(``unique_id, ds, y`` in, ``{unique_id: SeriesForecast}`` out) and only chooses where the
fits run:

``local``
    :func:`salesplan.forecast.engine.fit_series` (worker processes on this machine).
``dask`` / ``spark`` / ``ray``
    :func:`fit_series_distributed`: the validated series are handed to Fugue (the layer
    statsforecast's own ``FugueBackend`` uses), partitioned by ``unique_id``, and every
    partition runs the same ``fit_one`` with the same options on a worker of an existing
    cluster; the fitted forecasters come back pickled and are identical to the local ones.

Pointing at a cluster (``address``; the workers need the same salesplan, statsforecast and
numpy versions installed, as for any Dask/Spark/Ray job shipping Python functions):

* Dask: the scheduler's address, ``tcp://scheduler-host:8786`` (``dask scheduler`` and
  ``dask worker tcp://scheduler-host:8786`` on the nodes). Without an address a throwaway
  local cluster on 127.0.0.1 is started and stopped around the fit.
* Spark: the master URL, ``spark://master-host:7077`` (or ``local[4]`` for an in-process
  Spark); needs ``pip install "fugue[spark]"`` and Java.
* Ray: the cluster's client address, ``ray://head-host:10001``; needs
  ``pip install "fugue[ray]"``.
"""

import contextlib
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from salesplan.forecast.engine import (
    DEFAULT_HORIZON_GROWTH,
    DEFAULT_LEVELS,
    DEFAULT_MAX_ORIGINS,
    DEFAULT_MODELS,
    DEFAULT_SEASON_LENGTH,
    DEFAULT_TEMPORAL_LEVELS,
    DEFAULT_TEMPORAL_MIN_POINTS,
    ForecastInputError,
    SeriesForecast,
    fit_one,
    fit_series,
    forecast_defaults,
    forecast_file,
    series_items,
    validate_series,
)

ENGINES = ("local", "dask", "spark", "ray")
DISTRIBUTED = ("dask", "spark", "ray")
# What each engine needs beyond salesplan's own dependencies (dask is one of them).
_CLUSTER_EXTRA = "install the cluster extra: pip install -e '.[cluster]'"
_INSTALL = {"spark": 'pip install "fugue[spark]" (and Java)', "ray": 'pip install "fugue[ray]"'}
_SCHEMA = "unique_id:str,fit:bytes"
# How long to wait for a Dask scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = "30s"


class BackendError(RuntimeError):
    """The distributed backend could not run (engine missing, cluster unreachable, a lost series)."""


def _fit_partition(df: pd.DataFrame, job: dict) -> pd.DataFrame:
    """Fit the one series of a partition (Fugue calls this once per ``unique_id`` on a worker)
    with ``job`` = ``{"horizon": h, "options": fit_one keywords}``; returns it pickled:
    ``unique_id, fit``. Fugue reads the annotations to tell data from parameters, which is
    why this module has real (not postponed) annotations and ``job`` is a plain ``dict``."""
    df = df.sort_values("ds")
    uid = str(df["unique_id"].iloc[0])
    y = df["y"].to_numpy(dtype=float)
    last = pd.Timestamp(df["ds"].iloc[-1])
    fit = fit_one(y, int(job["horizon"]), unique_id=uid, last_ds=last, **job["options"])
    return pd.DataFrame({"unique_id": [uid], "fit": [pickle.dumps(fit, protocol=pickle.HIGHEST_PROTOCOL)]})


@contextlib.contextmanager
def fugue_engine(engine: str, address: str | None = None) -> Iterator[Any]:
    """The Fugue execution engine for ``engine`` connected to the cluster at ``address``
    (module docstring); what this opens (a Dask client, a local Dask cluster, a Ray
    connection) is closed on exit, never the cluster itself."""
    if engine == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise BackendError(f"engine dask needs Dask: {_CLUSTER_EXTRA}") from exc
        with contextlib.ExitStack() as stack:
            if address:
                try:
                    client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT))
                except OSError as exc:
                    raise BackendError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
            else:
                # No cluster given: a throwaway one on this machine, bound to loopback only.
                # Its scheduler runs in this process; its per-shuffle notices are noise here.
                logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
                cluster = stack.enter_context(LocalCluster(host="127.0.0.1", dashboard_address=None, processes=True))
                client = stack.enter_context(Client(cluster))
            yield client
        return
    if engine == "spark":
        if not address:
            raise BackendError("engine spark needs the master URL as address, e.g. spark://host:7077 or local[2]")
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise BackendError(f"engine spark needs PySpark: {_INSTALL['spark']}") from exc
        yield SparkSession.builder.master(address).appName("salesplan forecast").getOrCreate()
        return
    if engine == "ray":
        if not address:
            raise BackendError("engine ray needs the cluster's address, e.g. ray://head-host:10001")
        try:
            import ray
        except ImportError as exc:
            raise BackendError(f"engine ray needs Ray: {_INSTALL['ray']}") from exc
        started = not ray.is_initialized()
        if started:
            ray.init(address=address)
        try:
            yield "ray"
        finally:
            if started:
                ray.shutdown()
        return
    raise BackendError(f"unknown forecast engine {engine!r}: use one of {', '.join(ENGINES)}")


def fit_series_distributed(
    df: pd.DataFrame,
    horizon: int,
    engine: str = "dask",
    address: str | None = None,
    *,
    season_length: int = DEFAULT_SEASON_LENGTH,
    max_origins: int = DEFAULT_MAX_ORIGINS,
    combination: str = "mean",
    drop_ratio: float = 2.0,
    keep_errors: bool = False,
    source: str | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    temporal_levels: Sequence[int] = DEFAULT_TEMPORAL_LEVELS,
    temporal_min_points: int = DEFAULT_TEMPORAL_MIN_POINTS,
    partitions: int | None = None,
    global_member: bool | None = None,
    global_weight: float | None = None,
    store: str | os.PathLike[str] | None = None,
    horizon_growth: float = DEFAULT_HORIZON_GROWTH,
) -> dict[str, SeriesForecast]:
    """:func:`salesplan.forecast.engine.fit_series` on a cluster: the same validation, the same
    per-series ``fit_one`` with the same options, run through Fugue on ``engine`` (``dask``,
    ``spark``, ``ray``) at ``address``, partitioned by ``unique_id``. ``partitions``: how many
    partitions Fugue hashes the series into (default: the engine's). ``store``: as
    :func:`~salesplan.forecast.engine.fit_series`, read and written by this process (only the
    series not found are sent to the cluster). Returns
    ``{unique_id: SeriesForecast}`` in ``unique_id`` order, equal to the local engine's."""
    try:
        import fugue.api  # noqa: F401 - refused here, before any series is read, when the extra is missing
    except ImportError as exc:
        raise BackendError(f"engine {engine} runs through Fugue: {_CLUSTER_EXTRA}") from exc

    if engine not in DISTRIBUTED:
        raise BackendError(f"fit_series_distributed: engine must be one of {', '.join(DISTRIBUTED)}, not {engine!r}")
    if int(horizon) < 1:
        raise ForecastInputError(f"horizon must be a positive number of months, got {horizon!r}")
    data = validate_series(df, source=source)
    use_global = forecast_defaults().global_model.enabled if global_member is None else global_member
    options = {
        "season_length": season_length,
        "max_origins": max_origins,
        "combination": combination,
        "drop_ratio": drop_ratio,
        # The global member's band is calibrated on the local errors, as on this machine.
        "keep_errors": keep_errors or bool(use_global),
        "models": tuple(models),
        "temporal_levels": tuple(int(k) for k in temporal_levels),
        "temporal_min_points": int(temporal_min_points),
        "horizon_growth": float(horizon_growth),
    }
    partition: dict[str, Any] = {"by": "unique_id"}
    if partitions:
        partition["num"] = int(partitions)
    if store is None:
        fits = _fit_on_cluster(data, horizon, engine, address, options, partition)
    else:
        from salesplan.forecast import fitstore

        def on_cluster(todo: list, opts: dict[str, Any]) -> Any:
            # Only the series the store lacks go to the cluster.
            part = data[data["unique_id"].astype(str).isin({uid for uid, _, _ in todo})]
            return _fit_on_cluster(part, horizon, engine, address, opts, partition).values()

        made = fitstore.fit_with_store(store, series_items(data), horizon, options, SeriesForecast, on_cluster)
        fits = {f.unique_id: f for f in made}
    fits = {uid: fits[uid] for uid in sorted(fits)}
    if use_global:
        # One model across all series: trained here on the collected history, as the local path does.
        from salesplan.forecast.global_model import with_global_member

        fits = with_global_member(fits, data, horizon, weight=global_weight, season_length=season_length)
        if not keep_errors:
            fits = {uid: replace(f, cv_errors=None, cv_origins=None, y=None) for uid, f in fits.items()}
    return fits


def _fit_on_cluster(
    data: pd.DataFrame,
    horizon: int,
    engine: str,
    address: str | None,
    options: dict[str, Any],
    partition: dict[str, Any],
) -> dict[str, SeriesForecast]:
    """Every series of ``data`` fitted through Fugue on ``engine``; checks none is lost."""
    import fugue.api as fa

    with fugue_engine(engine, address) as execution:
        result = fa.transform(
            data,
            _fit_partition,
            schema=_SCHEMA,
            partition=partition,
            params={"job": {"horizon": int(horizon), "options": options}},
            engine=execution,
            as_local=True,
        )
    result = fa.as_pandas(result)
    fits = {str(uid): pickle.loads(blob) for uid, blob in zip(result["unique_id"], result["fit"], strict=True)}
    expected = data["unique_id"].unique()
    lost = [uid for uid in expected if uid not in fits]
    if lost or len(fits) != len(result):
        raise BackendError(
            f"the {engine} backend returned {len(result)} fits for {len(expected)} series (lost {lost[:5]})"
        )
    return fits


def fit_series_on(
    df: pd.DataFrame,
    horizon: int,
    engine: str = "local",
    address: str | None = None,
    *,
    n_jobs: int | None = None,
    partitions: int | None = None,
    **options: Any,
) -> dict[str, SeriesForecast]:
    """Fit every series of a long ``unique_id, ds, y`` frame where ``engine`` says (``local``:
    this machine with ``n_jobs`` processes; ``dask`` / ``spark`` / ``ray``: the cluster at
    ``address``). ``options`` are :func:`salesplan.forecast.engine.fit_series`'s keywords
    (``season_length``, ``max_origins``, ``temporal_levels``, ``keep_errors`` ...); the
    result is the same wherever it runs. The workbook passes ``config["engine"]["forecast"]``
    and ``config["engine"]["address"]``."""
    if engine == "local":
        return fit_series(df, horizon, n_jobs=n_jobs, **options)
    return fit_series_distributed(df, horizon, engine, address, partitions=partitions, **options)


def forecast_file_on(
    input_path: str | os.PathLike[str],
    horizon: int,
    levels: Sequence[int] = DEFAULT_LEVELS,
    out_path: str | os.PathLike[str] | None = None,
    *,
    engine: str = "local",
    address: str | None = None,
    season_length: int = DEFAULT_SEASON_LENGTH,
) -> pd.DataFrame:
    """:func:`salesplan.forecast.engine.forecast_file` with the series fitted where ``engine``
    says (``salesplan forecast --engine dask --address tcp://host:8786``): read ``input_path``
    (``unique_id, ds, y``), forecast ``horizon`` months, write ``out_path`` (CSV or Parquet)
    if given and return the frame ``unique_id, ds, forecast, lo_L, hi_L ...``."""
    if engine == "local":
        return forecast_file(input_path, horizon, levels, out_path, season_length=season_length)
    if engine not in DISTRIBUTED:
        raise BackendError(f"unknown forecast engine {engine!r}: use one of {', '.join(ENGINES)}")
    return forecast_file(
        input_path,
        horizon,
        levels,
        out_path,
        season_length=season_length,
        fitter=lambda raw, h, **kwargs: fit_series_distributed(raw, h, engine, address, **kwargs),
    )
