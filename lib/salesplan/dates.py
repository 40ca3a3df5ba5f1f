"""Dates as pandas reads them, without the cost of converting what is already a date."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api.types import is_datetime64_any_dtype


def as_dates(values: Any) -> Any:
    """``values`` as datetimes: a Series or index that already holds datetimes is returned as
    it is; anything else goes through :func:`pandas.to_datetime`.

    Validated tables and the cube carry datetime columns, yet ``pd.to_datetime`` on such a
    column still probes its cache by walking a tenth of it as ``Timestamp`` objects (about
    1.5 s of a retrospective over the sample's 600 calls); text keeps that cache, which pays
    when the same date repeats.
    """
    if isinstance(values, pd.Series | pd.Index) and is_datetime64_any_dtype(values.dtype):
        return values
    return pd.to_datetime(values)
