"""Page layout helpers: what a reader sees first, and what waits behind a click.

Pages open with their answer; settings, method notes and long tables go into collapsed
sections (``<details>``), closed on screen and left out of print, with the full lists in the
month's Excel pack and CSV files.
"""

from __future__ import annotations

from html import escape
from typing import Any

from IPython.display import HTML


def _html(content: Any) -> str:
    if hasattr(content, "savefig"):  # a matplotlib Figure: inline PNG, then released
        import base64
        import io

        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        content.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(content)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return f"<img src='data:image/png;base64,{data}' alt='{escape(content.axes[0].get_title() if content.axes else '')}'>"
    if hasattr(content, "to_html") and not hasattr(content, "columns"):  # a pandas Styler
        return content.to_html()
    if hasattr(content, "to_html"):  # a DataFrame: escape its values like every table
        return content.to_html(escape=True)
    if hasattr(content, "_repr_html_"):
        return content._repr_html_()
    if hasattr(content, "data"):  # IPython HTML / Markdown objects
        return str(content.data)
    return f"<pre>{escape(str(content))}</pre>"


def details(content: Any, summary: str, open_: bool = False) -> HTML:
    """``content`` (a Styler, a DataFrame, a matplotlib Figure, an HTML object or text) inside a collapsible section
    titled ``summary`` (escaped), closed unless ``open_``: on screen a click away, in print
    left out."""
    state = " open" if open_ else ""
    return HTML(
        f"<details class='salesplan-details'{state}><summary>{escape(summary)}</summary>{_html(content)}</details>"
    )
