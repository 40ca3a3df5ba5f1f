"""Published pages are safe and self-contained: data is shown as text, never run as markup;
nothing is loaded from the network; no machine path travels with a page; warnings stay out."""

from __future__ import annotations

import getpass
import glob
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_runner import MONTH, make_notebook  # noqa: E402

from salesplan import cards, publish, review, tables  # noqa: E402
from salesplan import run as runner  # noqa: E402
from salesplan.retro.report import flag_table  # noqa: E402

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script>"
SVG = '<svg onload="alert(2)">'
HOSTILE = (IMG, SCRIPT, SVG)


class _Elements(HTMLParser):
    """Every element of a page: tag and attributes (html.parser never executes anything)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser


def assert_inert(page: str, shown: tuple[str, ...] = HOSTILE) -> None:
    """No element or event handler came from data, and the hostile names show as text."""
    parsed = parse(page)
    tags = {tag for tag, _ in parsed.elements}
    assert not tags & {"img", "script", "svg", "iframe", "object"}, sorted(tags)
    handlers = [(tag, name) for tag, attrs in parsed.elements for name, _ in attrs if name.lower().startswith("on")]
    assert not handlers, handlers
    text = "".join(parsed.text)
    for name in shown:
        assert name in text, f"{name!r} is not shown as text"


# --------------------------------------------------------------------------- every table builder


def test_style_table_escapes_values_labels_axis_names_and_caption() -> None:
    frame = pd.DataFrame(
        {"rep": [IMG, SCRIPT], "amount": [1_234.0, 5.0], SVG: ["a", "b"]},
        index=pd.Index([SCRIPT + "1", "north"], name=IMG + "idx"),
    )
    page = tables.style_table(frame, money=["amount"], caption=f"Reps {SCRIPT}c").to_html()
    assert_inert(page, (IMG, SCRIPT, SVG, SCRIPT + "1", IMG + "idx", f"Reps {SCRIPT}c"))
    assert "1,234" in page  # formats still apply


def test_rag_style_escapes_the_status_column_even_of_a_foreign_styler() -> None:
    frame = pd.DataFrame({"item": [IMG, "b"], "status": [f"{SCRIPT} red", "green"]})
    page = tables.rag_style(frame.style, "status").to_html()  # a Styler not built by style_table
    parsed = parse(page)
    assert "script" not in {tag for tag, _ in parsed.elements}
    assert f"{SCRIPT} red" in "".join(parsed.text)
    assert_inert(tables.rag_style(tables.style_table(frame), "status").to_html(), (IMG, f"{SCRIPT} red"))


def test_flag_table_escapes_items_owners_and_notes() -> None:
    flags = pd.DataFrame(
        {
            "period": ["month", "month"],
            "level": ["rep", "region"],
            "item": [IMG, "North"],
            "owner": [SCRIPT, SVG],
            "actual": [90.0, 80.0],
            "target": [100.0, 100.0],
            "gap": [-10.0, -20.0],
            "attainment": [0.9, 0.8],
            "deviation": [-0.1, -0.2],
            "status": ["yellow", "red"],
            "escalation": ["manager", "director"],
            "cause_5why": [SCRIPT + "why", ""],
            "next_step": [IMG + "next", ""],
        }
    )
    assert_inert(flag_table(flags, "month", caption=f"Flags {IMG}").to_html())


def test_review_tables_escape_names() -> None:
    table = pd.DataFrame(
        {
            "net_amount": [2e6, 1e6],
            "previous": [1.5e6, 1.2e6],
            "change": [0.5e6, -0.2e6],
            "yoy": [0.33, -0.17],
            "share": [0.66, 0.34],
            "contribution": [0.18, -0.07],
            "attainment": [1.1, 0.7],
            "owner": [SCRIPT, SVG],
        },
        index=pd.Index([IMG, "Total"], name="rep"),
    )
    assert_inert(review.style_breakdown(table, caption=f"By rep {SVG}").to_html())
    styled = review.style_review_table(
        table, money=["net_amount"], rename={"net_amount": IMG + "col", "owner": "Owner"}
    )
    assert_inert(styled.to_html(), (IMG, SCRIPT, IMG + "col"))


def test_headline_html_escapes_every_text() -> None:
    payload = publish.headline_payload(
        SCRIPT, [{"label": IMG, "value": SVG, "note": SCRIPT + "n", "status": "red"}], primary=True
    )
    assert_inert(cards.payload_html(payload), (SCRIPT, IMG, SVG, SCRIPT + "n"))


def test_month_index_escapes_titles_headlines_plan_and_file_names(tmp_path: Path) -> None:
    block = publish.headline_payload(IMG, [{"label": SCRIPT, "value": SVG, "note": IMG + "n"}], primary=True)
    results = [
        runner.NotebookResult(
            name="00_x", status="ok", title=SCRIPT + "t", html="00_x.html", headlines=[block], from_run=None
        )
    ]
    info = {"month": MONTH, "finished": "2026-11-02T06:00:00+00:00", "duration_s": 1.0, "git": None}
    info["plan"] = {"text": SVG + "p"}
    runner.write_month_index(tmp_path, info, results, [], extra_files=[f"{IMG}.csv"])
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert_inert(page, (IMG, SCRIPT + "t", SVG + "p", f"{IMG}.csv"))
    hrefs = [v for tag, attrs in parse(page).elements for k, v in attrs if k == "href"]
    assert all(not (v or "").lower().startswith("javascript") for v in hrefs)


# --------------------------------------------------------------------------- a run of stand-ins

TABLES_CELL = f"""
import pandas as pd
from salesplan import review, tables
from salesplan.cards import headline
frame = pd.DataFrame({{"rep": [{IMG!r}, {SCRIPT!r}], "amount": [1.0, 2.0], "status": ["red", "green"]}})
display(tables.rag_style(tables.style_table(frame, money=["amount"], caption="Reps"), "status"))
headline({SCRIPT!r}, [{{"label": {IMG!r}, "value": "1", "status": "red"}}], primary=True)
"""
CHART_CELL = """
import matplotlib.pyplot as plt
from salesplan import plots
plots.apply_theme()
fig, ax = plt.subplots(figsize=(3, 2))
ax.bar(["<b>北区</b>", "South"], [1, 2])
ax.set_title("Sales by region")
plt.show()
"""


@pytest.fixture(scope="module")
def stand_in_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One run of two small stand-in notebooks (tables, headline, chart, a written file)."""
    base = tmp_path_factory.mktemp("pages")
    folder = base / "notebooks"
    make_notebook(folder / "00_tables.ipynb", "month = None", [TABLES_CELL], title="Tables")
    make_notebook(
        folder / "01_chart.ipynb",
        "month = None\ndata_dir = 'data/raw'\noutput_dir = None",
        [CHART_CELL, "from pathlib import Path\nPath(output_dir, 'out.csv').write_text('a,b')\nprint(output_dir)"],
        title="Chart",
    )
    reports = base / "reports"
    runner.run_notebooks(
        MONTH,
        runner.discover_notebooks(folder),
        parameters={"month": MONTH, "data_dir": str(base / "exports")},
        reports_dir=reports,
        progress=None,
    )
    return base, reports / MONTH


def published_files(month_dir: Path) -> list[Path]:
    return [p for p in sorted(month_dir.rglob("*")) if p.is_file()]


def test_pages_of_a_run_show_data_as_text(stand_in_run: tuple[Path, Path]) -> None:
    _base, month_dir = stand_in_run
    page = (month_dir / "00_tables.html").read_text(encoding="utf-8")
    assert_inert(page, (IMG, SCRIPT))
    assert_inert((month_dir / "index.html").read_text(encoding="utf-8"), (IMG, SCRIPT))


def test_pages_load_nothing_from_the_network(stand_in_run: tuple[Path, Path]) -> None:
    _base, month_dir = stand_in_run
    pages = sorted(month_dir.glob("*.html"))
    assert {p.name for p in pages} == {"00_tables.html", "01_chart.html", "index.html"}
    for page in pages:
        parsed = parse(page.read_text(encoding="utf-8"))
        remote = [
            (tag, name, value)
            for tag, attrs in parsed.elements
            for name, value in attrs
            if name in {"src", "href"} and re.match(r"\s*(https?:)?//", value or "", re.I)
        ]
        assert not remote, (page.name, remote)
        # No script at all: nothing to fetch, nothing to run (MathJax, require.js, widgets dropped).
        assert "script" not in {tag for tag, _ in parsed.elements}, page.name
    chart = parse((month_dir / "01_chart.html").read_text(encoding="utf-8"))
    images = [dict(attrs).get("src", "") for tag, attrs in chart.elements if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)  # charts inline


def test_no_machine_path_user_or_home_in_published_files(stand_in_run: tuple[Path, Path]) -> None:
    base, month_dir = stand_in_run
    files = published_files(month_dir)
    assert {p.name for p in files} >= {"run.json", "out.csv", "00_tables.ipynb", "01_chart.ipynb"}
    forbidden = {str(base), str(base.resolve()), str(runner.PROJECT_ROOT), os.environ.get("HOME", "~") + "/"}
    forbidden.discard("/")
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for bad in forbidden:
            assert bad not in text, f"{bad} in {path.name}"
    user = getpass.getuser()
    info = json.loads((month_dir / "run.json").read_text(encoding="utf-8"))
    # The user name as a word in what describes the run (pages may contain it inside CSS words).
    for path in (month_dir / "run.json", month_dir / "01_chart.ipynb", month_dir / "00_tables.ipynb"):
        nb_meta = path.read_text(encoding="utf-8") if path.suffix == ".json" else None
        if nb_meta is None:
            nb = nbformat.read(path, as_version=4)
            nb_meta = json.dumps(nb.metadata) + "".join(
                c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])
            )
        assert not re.search(rf"(^|[/\\\"'\s]){re.escape(user)}([/\\\"'\s]|$)", nb_meta), path.name
    # Paths are recorded relative to the project root or as a folder name only.
    assert info["parameters"]["data_dir"] == "exports"
    chart = next(n for n in info["notebooks"] if n["name"] == "01_chart")
    assert chart["parameters"]["output_dir"] == MONTH
    assert chart["files"] == ["out.csv"]
    nb = nbformat.read(month_dir / "01_chart.ipynb", as_version=4)
    assert nb.metadata.papermill["input_path"] == "01_chart.ipynb"
    assert nb.metadata.papermill["output_path"] == f"{MONTH}/01_chart.ipynb"
    assert nb.metadata.papermill["parameters"]["output_dir"] == MONTH


def test_display_path_is_project_relative_or_the_last_part() -> None:
    root = runner.PROJECT_ROOT
    assert runner.display_path(root / "reports" / MONTH) == f"reports/{MONTH}"
    assert runner.display_path("/srv/exports/raw") == "raw"
    assert runner.display_path("data/raw") == "data/raw"
    scrub = runner.PathScrubber({"/srv/build/.tmp-x": MONTH})
    assert scrub.text("wrote /srv/build/.tmp-x/flags.csv") == f"wrote {MONTH}/flags.csv"
    assert scrub.text(f"read {root}/data/raw/orders.csv") == "read data/raw/orders.csv"
    assert scrub.value({"a": ["/opt/secret/place"], "b": 3}) == {"a": ["place"], "b": 3}


# --------------------------------------------------------------------------- warnings


def stderr_of(nb: nbformat.NotebookNode) -> list[str]:
    return [
        str(o.get("text", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" or o.get("output_type") == "error"
    ]


def test_executed_stand_ins_have_no_warning_or_stderr(stand_in_run: tuple[Path, Path]) -> None:
    _base, month_dir = stand_in_run
    for path in sorted(month_dir.glob("*.ipynb")):
        assert stderr_of(nbformat.read(path, as_version=4)) == [], path.name
    info = json.loads((month_dir / "run.json").read_text(encoding="utf-8"))
    assert all(n["warnings"] == [] for n in info["notebooks"])


def test_a_warning_stays_out_of_the_page_and_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    make_notebook(
        folder / "00_warns.ipynb",
        "month = None",
        ["import warnings\nwarnings.warn('WARNING_MARKER: old call')\nprint('visible output')"],
    )
    lines: list[str] = []
    result = runner.run_notebooks(
        MONTH, runner.discover_notebooks(folder), parameters={}, reports_dir=tmp_path / "r", progress=lines.append
    )
    page = (result.report_dir / "00_warns.html").read_text(encoding="utf-8")
    assert "visible output" in page and "WARNING_MARKER" not in page
    assert "WARNING_MARKER" in "".join(stderr_of(nbformat.read(result.report_dir / "00_warns.ipynb", as_version=4)))
    (warning,) = result.notebooks[0].warnings
    assert "WARNING_MARKER" in warning["text"]
    assert any("00_warns: 1 stderr output(s)" in line for line in lines)


COMMITTED = sorted(
    {
        *glob.glob(str(runner.PROJECT_ROOT / "notebooks" / "*.ipynb")),
        *glob.glob(str(runner.PROJECT_ROOT / "notebooks" / "workshop" / "**" / "*.ipynb"), recursive=True),
    }
)


@pytest.mark.parametrize("path", COMMITTED, ids=[Path(p).name for p in COMMITTED])
def test_committed_notebooks_carry_no_stderr_output(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    stderr = [
        (i, str(o.get("text", ""))[:200])
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]
    assert stderr == []


def test_the_committed_notebooks_are_found() -> None:
    names = {Path(p).name for p in COMMITTED}
    assert {"00_data_check.ipynb", "04_retrospective.ipynb"} <= names


def test_a_page_with_raw_markup_from_a_notebook_is_not_published(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    raw = "from IPython.display import HTML\nname = " + repr(IMG) + "\nHTML(f'<b>{name}</b>')"
    make_notebook(folder / "00_raw.ipynb", "month = None", [raw])
    reports = tmp_path / "reports"
    with pytest.raises(runner.NotebookFailedError, match=r"00_raw.ipynb failed: UnsafePageError: 00_raw.html would"):
        runner.run_notebooks(
            MONTH, runner.discover_notebooks(folder), parameters={}, reports_dir=reports, progress=None
        )
    assert not (reports / MONTH).exists()


def test_active_content_finds_scripts_handlers_and_remote_sources_not_prose_links() -> None:
    assert runner.active_content('<p>See <a href="https://example.org">the docs</a>.</p><img src="data:x">') == []
    found = runner.active_content(
        '<script src="https://cdn/x.js"></script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>'
    )
    assert any("<script>" in f for f in found) and any("onerror" in f for f in found)
    assert any("javascript:" in f for f in found) and any("https://cdn" in f for f in found)
