"""The retrospective as an analyst first sees it: the real JupyterLab in headless Chromium.

JupyterLab is started with ``make lab``'s options (:func:`salesplan.cli.lab_arguments`) on a
free loopback port with a token, rooted at a temporary copy of the notebook (opening a notebook
must not be able to touch the tracked one), with its own settings and workspaces folders. At a
1366x900 window, ``notebooks/04_retrospective.ipynb`` opens on the project's kernel ("Python
(salesplan)"), with the setup cell collapsed and the headline card (its title,
"Retrospective YYYY-MM", down to its last figure) and the sample note under it on the first
screen, no scrolling.

Needs Debian's ``chromium``; where it is missing the test is skipped with a message saying so.
"""

from __future__ import annotations

import re
import shutil

import pytest

from salesplan.config import PROJECT_ROOT
from salesplan.run import KERNEL_DISPLAY_NAME

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it with apt-get when it can)"
    ),
]

NOTEBOOK = "notebooks/04_retrospective.ipynb"
VIEWPORT = {"width": 1366, "height": 900}
TIMEOUT_MS = 30_000
CARD_TITLE = re.compile(r"^Retrospective \d{4}-\d{2}$")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, jupyterlab_server):
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy2(PROJECT_ROOT / NOTEBOOK, root / NOTEBOOK)
    with jupyterlab_server(root) as (base, token, _log):
        yield base, token, root


def _within_first_screen(element, what: str) -> None:
    box = element.bounding_box()
    assert box is not None, f"no {what} on the page"
    top, bottom = box["y"], box["y"] + box["height"]
    assert top >= 0 and bottom <= VIEWPORT["height"], (
        f"the {what} spans y={top:.0f}..{bottom:.0f}, beyond the first screen ({VIEWPORT['height']} px)"
    )


def test_the_retrospective_opens_on_its_headline_and_the_projects_kernel(lab) -> None:
    base, token, root = lab
    before = (root / NOTEBOOK).read_bytes()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Cell")).first
            panel.wait_for(state="visible")
            # The kernel the notebook names, started and shown in the notebook's toolbar.
            kernel = panel.locator(".jp-Toolbar-kernelName")
            playwright.expect(kernel).to_have_text(KERNEL_DISPLAY_NAME)

            cells = panel.locator(".jp-Notebook .jp-Cell")
            setup = cells.nth(2)
            playwright.expect(setup.locator(".jp-InputPlaceholder")).to_be_visible()
            playwright.expect(setup.get_by_text("open_workbook", exact=False)).to_have_count(0)

            title = panel.get_by_text(CARD_TITLE).first
            playwright.expect(title).to_be_visible()
            scrolled = panel.locator(".jp-WindowedPanel-outer, .jp-Notebook").first.evaluate("e => e.scrollTop")
            assert scrolled == 0, "the notebook opened scrolled"
            # The whole card, from its title to its last figure, then the sample note under it.
            card = cells.filter(has=page.get_by_text(CARD_TITLE)).first.locator(".jp-OutputArea").first
            _within_first_screen(card, "headline card")
            note = panel.locator(".jp-RenderedMarkdown").filter(has_text="bundled sample company").first
            playwright.expect(note).to_be_visible()
            _within_first_screen(note, "sample note")
        finally:
            browser.close()
    assert (root / NOTEBOOK).read_bytes() == before, "opening the notebook changed the file"
