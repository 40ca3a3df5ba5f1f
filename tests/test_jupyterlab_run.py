"""The retrospective as an analyst runs it: JupyterLab in headless Chromium, Run All, change the
month, Run All again.

JupyterLab is started with ``make lab``'s options (:func:`salesplan.cli.lab_arguments`) on a
free loopback port with a token, rooted at a temporary project: a copy of
``notebooks/04_retrospective.ipynb``, the project's config and a small sample company in
``data/raw`` (``SALESPLAN_ROOT`` points the library there, so the notebook's default
parameters read it and nothing of the project is written). In the browser:
``04_retrospective.ipynb`` opens on the project's kernel; Edit ▸ Clear Outputs of All Cells,
then Run ▸ Run All Cells; when the kernel is idle the headline card names the latest complete
month of the data. The ``month`` line of the parameters cell is then replaced in the editor by
the month before, Run All again, and the card names that month. No cell ends in an error, and
the project's notebook is byte for byte what it was.

Slow (two runs of the retrospective, about a minute each on the sample); needs Debian's
``chromium``, and is skipped with a message saying so where it is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time

import pytest

from salesplan.config import PROJECT_ROOT
from salesplan.publish import CARD_CLASS
from salesplan.run import KERNEL_DISPLAY_NAME
from salesplan.sample import write_sample

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it with apt-get when it can)"
    ),
]

NOTEBOOK = "notebooks/04_retrospective.ipynb"
CONFIG = "config/salesplan.yaml"
VIEWPORT = {"width": 1366, "height": 900}
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 600  # one Run All of the retrospective; about a minute on the sample
# The headline card as the notebook shows it: an output element with the cards' class whose
# title names the month. The class and the title are all the test relies on.
CARD = f".jp-OutputArea-output .{CARD_CLASS}"
TITLE = re.compile(r"Retrospective (\d{4})-(\d{2})")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, jupyterlab_server):
    root = tmp_path_factory.mktemp("lab-run")
    (root / "notebooks").mkdir()
    (root / "config").mkdir()
    shutil.copy2(PROJECT_ROOT / NOTEBOOK, root / NOTEBOOK)
    shutil.copy2(PROJECT_ROOT / CONFIG, root / CONFIG)
    write_sample(root / "data" / "raw", scale=0.05)
    # The kernel inherits the server's environment: the library's project root is the copy.
    with jupyterlab_server(root, env={**os.environ, "SALESPLAN_ROOT": str(root)}) as (base, token, log):
        yield base, token, log


def _menu(page, menu: str, item: str) -> None:
    """Click a main-menu command, as an analyst does."""
    page.locator("#jp-MainMenu").get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).first.click()


def _run_all(page, panel) -> float:
    """Run ▸ Run All Cells and wait until every cell has run and the kernel is idle; seconds taken."""
    indicator = panel.locator(".jp-Notebook-ExecutionIndicator")
    start = time.monotonic()
    _menu(page, "Run", "Run All Cells")
    deadline = start + RUN_TIMEOUT_S
    prompts = panel.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")
    while True:
        # "[*]:" marks a cell queued or running; the indicator says whether the kernel is busy.
        pending = prompts.filter(has_text=re.compile(r"\[\*\]")).count()
        if pending == 0 and indicator.get_attribute("data-status") == "idle":
            unrun = prompts.filter(has_text=re.compile(r"^\s*\[\s*\]:?\s*$")).count()
            if unrun == 0:
                return time.monotonic() - start
        assert time.monotonic() < deadline, f"Run All did not finish within {RUN_TIMEOUT_S} s"
        time.sleep(1)


def _errors(panel) -> list[str]:
    """The error outputs of the notebook (a warning on stderr is not one; a traceback is)."""
    texts = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t]


def _headline_month(panel) -> str:
    """The month the headline card names, with the card scrolled into sight as the analyst would."""
    card = panel.locator(CARD).filter(has_text=TITLE).first
    card.scroll_into_view_if_needed()
    playwright.expect(card).to_be_visible(timeout=UI_TIMEOUT_MS)
    year, month = TITLE.search(card.text_content() or "").groups()
    return f"{year}-{month}"


def test_an_analyst_runs_the_retrospective_and_changes_the_month(lab) -> None:
    base, token, log = lab
    tracked = PROJECT_ROOT / NOTEBOOK
    before = _digest(tracked)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Cell")).first
            panel.wait_for(state="visible")
            playwright.expect(panel.locator(".jp-Toolbar-kernelName")).to_have_text(
                KERNEL_DISPLAY_NAME, timeout=UI_TIMEOUT_MS
            )
            playwright.expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle", timeout=UI_TIMEOUT_MS
            )

            # The saved outputs are the sample's: clear them, so what shows next is this run's.
            _menu(page, "Edit", "Clear Outputs of All Cells")
            playwright.expect(panel.locator(CARD)).to_have_count(0, timeout=UI_TIMEOUT_MS)

            first_s = _run_all(page, panel)
            assert _errors(panel) == []
            first = _headline_month(panel)
            year, month = (int(x) for x in first.split("-"))
            earlier = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"

            # The month line of the parameters cell, replaced in the editor.
            params = panel.locator(".jp-Notebook .jp-Cell").nth(1)
            line = params.locator(".cm-line").filter(has_text=re.compile(r"^month\s*=")).first
            line.click()
            page.keyboard.press("Home")
            page.keyboard.press("Shift+End")
            page.keyboard.insert_text(f'month = "{earlier}"  # report month YYYY-MM')
            playwright.expect(params.locator(".cm-content")).to_contain_text(
                f'month = "{earlier}"', timeout=UI_TIMEOUT_MS
            )
            page.keyboard.press("Escape")

            second_s = _run_all(page, panel)
            assert _errors(panel) == []
            assert _headline_month(panel) == earlier
            print(f"Run All: {first_s:.0f} s for {first}, {second_s:.0f} s for {earlier}")
        except Exception:
            # What the server and the kernel said, beside what the browser showed.
            print(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            browser.close()
    assert _digest(tracked) == before, f"the run in JupyterLab changed {NOTEBOOK}"
