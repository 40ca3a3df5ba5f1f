"""nbval settings for the notebooks: compare plain-text outputs only.

Cells tagged ``nbval-check-output`` (cell metadata, so readers never see the marker) are
compared as text; HTML tables, scripts, stderr, the headline payload and images differ between
runs for reasons that are not errors (styling ids, warnings, PNG bytes) and are skipped.
"""

from __future__ import annotations

import os

# debugpy inside the kernel warns about frozen modules on stderr at every start.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

SKIP_COMPARE = (
    "text/html",
    "application/javascript",
    "stderr",
    "application/vnd.salesplan.headline+json",
    "image/png",
    "image/svg+xml",
)


def pytest_collectstart(collector) -> None:
    if hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + tuple(
            kind for kind in SKIP_COMPARE if kind not in collector.skip_compare
        )
