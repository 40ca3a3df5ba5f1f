"""End to end: `salesplan run` on a small sample company publishes a working report."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from salesplan import cli
from salesplan.config import PROJECT_ROOT
from salesplan.publish import HEADLINE_MIME
from salesplan.sample import write_sample

pytestmark = pytest.mark.slow  # a published run of the pack: make test-all

# The data check is the notebook every run needs; the others are exercised by nbval.
ONLY = "00"
MONTH = "2026-10"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("e2e")
    data, reports = root / "data", root / "reports"
    write_sample(data, scale=0.02)
    assert cli.main(["run", "--data", str(data), "--reports", str(reports), "--only", ONLY]) == 0
    return data, reports, MONTH


def test_index_links_a_working_data_check_report(published, capsys) -> None:
    data, reports, month = published
    index = reports / month / "index.html"
    page = index.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', page)
    assert "00_data_check.html" in links and "00_data_check.ipynb" in links
    for link in links:
        assert (index.parent / link).resolve().exists(), link

    report = (index.parent / "00_data_check.html").read_text(encoding="utf-8")
    assert "Data check" in report and "Net sales" in report
    assert "data:image/png;base64," in report  # the chart is embedded
    assert "wb = open_workbook(" not in report and "from salesplan" not in report  # no code
    assert HEADLINE_MIME not in report

    # The headline figures on the index page match the data.
    orders = pd.concat([pd.read_csv(p, dtype=str) for p in sorted(data.glob("orders_*.csv"))])
    assert f"{len(orders):,}" in page
    assert f"Data check: {month}" in page
    assert (reports / "index.html").exists()


def test_executed_notebook_has_no_errors_and_received_the_run_parameters(published) -> None:
    data, reports, month = published
    nb = nbformat.read(reports / month / "00_data_check.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f'month = "{month}"' in injected.source and f'data_dir = "{data.name}"' in injected.source
    # The page's first card states the month it covers (its plain text is what nbval compares).
    assert any(f"Month covered: {month}" in str(o.get("data", {}).get("text/plain", "")) for o in outputs)


def test_run_json_records_inputs_versions_and_timing(published) -> None:
    data, reports, month = published
    info = json.loads((reports / month / "run.json").read_text(encoding="utf-8"))
    hashes = {row["file"]: row["sha256"] for row in info["inputs"]}
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir() if p.suffix == ".csv"}
    assert hashes == files
    assert info["parameters"]["month"] == month and info["parameters"]["data_dir"] == data.name
    assert info["versions"]["statsforecast"] and info["versions"]["papermill"]
    (nb,) = info["notebooks"]
    assert nb["name"] == "00_data_check" and nb["status"] == "ok" and 0 < nb["duration_s"] <= info["duration_s"]
    if (PROJECT_ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", info["git"]["commit"])
