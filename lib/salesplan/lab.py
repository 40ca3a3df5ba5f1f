"""JupyterLab for the project: what a notebook saved from the lab keeps.

A what-if slider moved in JupyterLab leaves live widget state in the notebook (a
``application/vnd.jupyter.widget-view+json`` output, ``metadata.widgets``); autosave would write it
into a tracked notebook two minutes later. :func:`strip_live_state` is the lab's pre-save hook
(``salesplan lab`` sets ``ContentsManager.pre_save_hook``): notebooks are saved without it, so
saving never dirties a tracked file with a widget's state.
"""

from __future__ import annotations

from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
"""The output kind of a live widget, meaningless once the kernel that drew it is gone."""


def strip_live_state(model: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Drop live widget state from a notebook model about to be saved: ``metadata.widgets`` and
    every output whose data is a widget view (other outputs, and a widget output's text/plain
    fallback in the same output, are removed with it only when the view is all it carries).
    Models of other files pass unchanged. Returns the model, changed in place."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return model
    nb = model["content"]
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept = []
        for out in outputs:
            data = out.get("data") or {}
            if WIDGET_VIEW in data:
                rest = {k: v for k, v in data.items() if k not in (WIDGET_VIEW, "text/plain")}
                if not rest:
                    continue
                out = {**out, "data": rest}
            kept.append(out)
        cell["outputs"] = kept
    return model
