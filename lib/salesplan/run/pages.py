"""The published pages: a notebook's HTML export (no code, no parameter cells, no stderr,
nothing loaded from the network), the safety scan that refuses active content, the month's
and the reports' index pages, and the scrubbing of machine paths from everything published.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

from salesplan.config import PROJECT_ROOT
from salesplan.publish import HEADLINE_MIME, headline_payload
from salesplan.run.folders import replace_atomically, report_months
from salesplan.run.results import NotebookResult

# Cells hidden in the HTML export: papermill's injected values, the defaults cell, and cells
# an author marks as scaffolding.
HTML_REMOVE_TAGS = frozenset({"injected-parameters", "parameters", "remove_cell"})
TEMPLATES_DIR = Path(__file__).parent.parent / "templates"
PAGE_TEMPLATE = TEMPLATES_DIR / "notebook_page.html.j2"


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of the notebook, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or fallback
    return fallback


def read_headlines(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Headline blocks published with ``salesplan.publish.headline`` in an executed notebook.

    Malformed payloads are skipped: the index page shows what it can read.
    """
    blocks = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") in {"display_data", "execute_result"} else {}
            payload = data.get(HEADLINE_MIME)
            if isinstance(payload, str):
                with contextlib.suppress(ValueError):
                    payload = json.loads(payload)
            if not isinstance(payload, Mapping):
                continue
            try:
                blocks.append(
                    headline_payload(payload.get("title"), payload.get("figures", []), primary=payload.get("primary"))
                )
            except (ValueError, TypeError):
                continue
    return blocks


_exporter = None


def _html_exporter():
    # Building the exporter loads templates; one instance serves every notebook of a run.
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        # Our page template drops everything the lab template loads from a CDN (require.js,
        # MathJax, mermaid, widgets): a page opens complete offline and leaks nothing to the web.
        exporter = HTMLExporter(
            template_file=str(PAGE_TEMPLATE),
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=set(HTML_REMOVE_TAGS)), enabled=True)
        # nbconvert warns once per notebook that chart images lack alt text; the titles say what they show.
        exporter.log.setLevel(logging.ERROR)
        _exporter = exporter
    return _exporter


def stderr_outputs(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Every ``stderr`` stream of an executed notebook (warnings, log lines): cell index and
    text. A page never shows them (:func:`export_html`); the run lists them so they get fixed."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append({"cell_index": index, "text": str(output.get("text", "")).strip()})
    return found


def export_html(nb: nbformat.NotebookNode, html_path: str | os.PathLike[str], title: str) -> None:
    """Write the notebook as HTML without code, prompts, parameter cells or ``stderr`` output
    (warnings are for the person running the pack, not the reader), charts inline, nothing
    loaded from the network."""
    page = copy.deepcopy(nb)
    for cell in page.cells:
        if "outputs" in cell:
            cell.outputs = [
                o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    body, _ = _html_exporter().from_notebook_node(page, resources={"metadata": {"name": title}})
    Path(html_path).write_text(body, encoding="utf-8")


_ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "applet", "base", "frame", "frameset"})


def active_content(page: str) -> list[str]:
    """What in an exported page could run or load something in the reader's browser: script-like
    elements, ``on*`` event attributes, ``javascript:`` links and remote sources (``src=https://…``;
    a link to a web page in prose is fine).

    The page template adds none of these, and every table, headline and index value is escaped,
    so anything found came from a notebook output that put raw text into HTML (a name from the
    data, say). The run refuses to publish such a page rather than mail it around.
    """
    from html.parser import HTMLParser

    found: list[str] = []

    class _Scan(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in _ACTIVE_TAGS:
                found.append(f"<{tag}> element")
            for name, value in attrs:
                text = (value or "").strip().lower()
                scripted = text.startswith(("javascript:", "vbscript:"))
                # A link to a web page in prose is fine; something the browser would fetch is not.
                remote = name != "href" and text.startswith(("http:", "https:", "//"))
                if name.lower().startswith("on"):
                    found.append(f"{name}= attribute on <{tag}>")
                elif name in ("src", "href", "action", "formaction", "data", "srcset") and (scripted or remote):
                    found.append(f"{name}={text[:60]!r} on <{tag}>")

        handle_startendtag = handle_starttag

    scan = _Scan(convert_charrefs=True)
    scan.feed(page)
    scan.close()
    return found


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as published files record it: relative to the project root when inside it, else
    only its last part (a folder or file name). Published pages and run.json travel by e-mail
    and sit on shared drives; machine paths (home folders, user names, temp folders) stay home.
    A relative path is kept as given (relative paths are taken from the project root)."""
    raw = Path(path)
    if not raw.is_absolute():
        return raw.as_posix()
    for candidate in (raw, raw.resolve()):
        with contextlib.suppress(ValueError):
            return candidate.relative_to(PROJECT_ROOT.resolve()).as_posix() or "."
        with contextlib.suppress(ValueError):
            return candidate.relative_to(PROJECT_ROOT).as_posix() or "."
    return raw.name


class PathScrubber:
    """Replaces this machine's absolute paths in published text by their :func:`display_path`.

    ``known`` maps absolute paths (the build folder, the reports, data and notebooks folders)
    to what a published file shows instead; the project root and the home folder are always
    known. Longer paths are replaced first, so a build folder inside the project becomes the
    month folder, not "the project root + .tmp-...".
    """

    def __init__(self, known: Mapping[str | os.PathLike[str], str] = ()) -> None:
        pairs: dict[str, str] = {}
        for path, shown in dict(known).items():
            for form in {str(Path(path)), str(Path(path).resolve())}:
                pairs[form] = shown
        for root in {str(PROJECT_ROOT), str(PROJECT_ROOT.resolve())}:
            pairs.setdefault(root + os.sep, "")
            pairs.setdefault(root, ".")
        home = os.path.expanduser("~")
        if home not in ("", "/", "~"):
            pairs.setdefault(home, "~")
        self.pairs = sorted(((k, v) for k, v in pairs.items() if k not in ("", "/")), key=lambda kv: -len(kv[0]))

    def text(self, text: str) -> str:
        """``text`` with every known absolute path replaced."""
        for path, shown in self.pairs:
            if path in text:
                text = text.replace(path, shown)
        return text

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed; a string that is an absolute path of its
        own (``data_dir=/srv/exports``) becomes its :func:`display_path`."""
        if isinstance(value, str):
            scrubbed = self.text(value)
            if scrubbed.startswith("/") and "\n" not in scrubbed and len(scrubbed) < 4096:
                return display_path(scrubbed)
            return scrubbed
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def notebook(self, nb: nbformat.NotebookNode, *, input_path: str, output_path: str) -> None:
        """Scrub an executed notebook in place: papermill's metadata (``input_path``,
        ``output_path``, ``parameters``), the injected parameters cell and every text output
        (a path printed while the report was being built would point at a folder that no
        longer exists after the swap anyway)."""
        meta = nb.metadata.get("papermill")
        if meta is not None:
            meta["input_path"] = input_path
            meta["output_path"] = output_path
            for key in ("parameters", "default_parameters", "environment_variables"):
                if key in meta:
                    meta[key] = self.value(meta[key])
            if meta.get("exception") and isinstance(meta.get("exception"), str):
                meta["exception"] = self.text(meta["exception"])
        for cell in nb.cells:
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                cell.source = self.text(cell.source)
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = self.text(str(output["text"]))
                if output.get("output_type") == "error":
                    output["traceback"] = [self.text(line) for line in output.get("traceback", [])]
                for mime, data in (output.get("data") or {}).items():
                    if isinstance(data, str) and mime.startswith("text/"):
                        output["data"][mime] = self.text(data)


def _chip(status: str | None) -> Any:
    """The status chip of the index's cards: the pages' own chip (:func:`salesplan.cards.chip`)."""
    import markupsafe

    from salesplan.cards import chip

    return markupsafe.Markup(chip(status))


def _jinja_env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )


def write_month_index(
    build: Path,
    run_info: Mapping[str, Any],
    results: Sequence[NotebookResult],
    other_months: Sequence[str],
    extra_files: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` of one month's report (primary headlines first, then notebooks)."""
    primary = [
        {**block, "notebook": r.name, "from_run": r.from_run}
        for r in results
        for block in r.headlines
        if block.get("primary")
    ]
    page = (
        _jinja_env()
        .get_template("month_index.html.j2")
        .render(
            month=run_info["month"],
            run=run_info,
            primary=primary,
            notebooks=results,
            other_months=other_months,
            extra_files=extra_files,
            chip=_chip,
        )
    )
    path = build / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_reports_index(reports_dir: str | os.PathLike[str]) -> Path:
    """Rewrite ``reports_dir/index.html`` listing every month's report, newest first."""
    folder = Path(reports_dir)
    months = []
    for month in report_months(folder):
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((folder / month / "run.json").read_text(encoding="utf-8"))
        months.append(
            {
                "month": month,
                "finished": info.get("finished", ""),
                "notebooks": len(info.get("notebooks", [])),
                "commit": (info.get("git") or {}).get("commit", "")[:10],
            }
        )
    page = _jinja_env().get_template("reports_index.html.j2").render(months=months)
    path = folder / "index.html"
    with replace_atomically(path) as staged:  # readers never see a half-written page
        staged.write_text(page, encoding="utf-8")
    return path
