"""The published pack in a real browser: headless Chromium over every page of a sample run.

At desktop and phone widths: no console errors, no failed requests, every image decodes, the
headline figures are on the first screen; printed to PDF (A4), every notebook page stays
within the page budget. Screenshots are kept under ``reports/screenshots/`` as artefacts.

Needs Debian's ``chromium`` (``make test`` installs it when missing). Where it cannot be
installed the test is skipped with a message saying so.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from salesplan import cli
from salesplan.config import PROJECT_ROOT
from salesplan.sample import write_sample

MONTH = "2026-10"
PRINT_BUDGET = 15
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = PROJECT_ROOT / "reports" / "screenshots"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it with apt-get when it can)"
)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    write_sample(root / "raw", scale=0.05)
    assert cli.main(["run", "--data", str(root / "raw"), "--reports", str(root / "reports"), "--jobs", "2"]) == 0
    return root / "reports" / MONTH


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _pages(pack: Path) -> list[Path]:
    return [pack / "index.html", *sorted(pack.glob("[0-9][0-9]_*.html"))]


def _pdf_pages(data: bytes) -> int:
    # Each page object of a Chromium PDF is "/Type /Page" (the page tree is "/Type /Pages").
    return len(re.findall(rb"/Type\s*/Page(?!s)", data))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_loads_cleanly_and_opens_with_its_figures(pack: Path, browser, viewport: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    problems: list[str] = []
    for path in _pages(pack):
        page = context.new_page()
        page.on(
            "console",
            lambda m, p=path: problems.append(f"{p.name}: console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("requestfailed", lambda r, p=path: problems.append(f"{p.name}: request failed {r.url}"))
        page.on(
            "request",
            lambda r, p=path: (
                problems.append(f"{p.name}: network request {r.url}") if r.url.startswith("http") else None
            ),
        )
        page.goto(path.as_uri(), wait_until="load")
        broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
        if broken:
            problems.append(f"{path.name}: {broken} image(s) do not decode")
        # The headline block (or the index's first card) must start within the first screen.
        top = page.evaluate(
            "(() => { const e = document.querySelector('.salesplan-headline, .card.primary, .card.plan');"
            " return e ? e.getBoundingClientRect().top : null; })()"
        )
        if top is None or top > VIEWPORTS[viewport]["height"]:
            problems.append(f"{path.name}: no headline figures on the first {viewport} screen (top {top})")
        first_screen = page.evaluate("document.elementFromPoint(10, 10) !== null")
        assert first_screen
        page.screenshot(path=str(SCREENSHOTS / f"{path.stem}_{viewport}.png"))
        page.close()
    context.close()
    assert not problems, "\n".join(problems)


def test_every_notebook_page_prints_within_budget(pack: Path, browser) -> None:
    context = browser.new_context()
    counts = {}
    for path in _pages(pack)[1:]:
        page = context.new_page()
        page.goto(path.as_uri(), wait_until="load")
        page.emulate_media(media="print")
        counts[path.stem] = _pdf_pages(page.pdf(format="A4", landscape=True, print_background=True))
        page.close()
    context.close()
    over = {name: n for name, n in counts.items() if n > PRINT_BUDGET}
    assert not over, f"printed pages over {PRINT_BUDGET}: {over} (all: {counts})"


RAW_NUMBER = re.compile(r"<td[^>]*>\s*(-?\d+\.\d{4,}|-?\d[\d.]*e[+-]\d+|\d{4}-\d\d-\d\d 00:00:00)\s*</td>")
RANGE_INDEX = re.compile(r'class="row_heading level0 row\d+"\s*>\s*\d+\s*</th>')


def test_no_page_shows_raw_numbers_or_a_meaningless_index(pack: Path) -> None:
    problems = []
    for path in _pages(pack):
        text = path.read_text(encoding="utf-8")
        raw = RAW_NUMBER.findall(text)
        if raw:
            problems.append(f"{path.name}: raw numbers {raw[:5]}")
        index = RANGE_INDEX.findall(text)
        if index:
            problems.append(f"{path.name}: {len(index)} row(s) headed by a bare row number")
    assert not problems, "\n".join(problems)
