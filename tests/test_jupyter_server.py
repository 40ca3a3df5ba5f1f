"""A real Jupyter server on loopback, started with ``make lab``'s options, as JupyterLab is.

The server is started from the project's environment with the options ``salesplan lab``
gives JupyterLab (:func:`salesplan.cli.lab_arguments`: rooted at the project, the workshop
solutions out of the file browser, ``--allow-root`` only as root). The whole project is in
reach (``reports/``, ``data/``, ``config/``); the data-check notebook's code cells are sent to
the project's kernel (started in ``notebooks/``, as JupyterLab does for a notebook there) over
the server's websocket, one by one, and must all finish without an error.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import urllib.request
import uuid

import nbformat
import pytest
from server_helpers import free_port, wait_until_serving

from salesplan.cli import lab_arguments
from salesplan.config import PROJECT_ROOT
from salesplan.run import KERNEL_NAME

tornado = pytest.importorskip("tornado.websocket")
pytestmark = pytest.mark.slow  # a Jupyter server and kernels: make test-all


@pytest.fixture(scope="module")
def server():
    port, token = free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.port_retries=0",
            *lab_arguments(),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"127.0.0.1:{port}"
    wait_until_serving(
        proc,
        f"http://{base}/api/status?token={token}",
        lambda: proc.stderr.read().decode(errors="replace"),
        "jupyter server",
    )
    yield base, token
    proc.terminate()
    proc.wait(timeout=20)


def _request(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{base}{path}?token={token}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    return json.loads(text) if text else {}


async def _run_cells(base: str, token: str, kernel_id: str, cells: list[str]) -> list[str]:
    ws = await tornado.websocket_connect(f"ws://{base}/api/kernels/{kernel_id}/channels?token={token}")
    session, problems = uuid.uuid4().hex, []
    for i, code in enumerate(cells):
        msg_id = uuid.uuid4().hex
        await ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }  # fmt: skip
            )
        )
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=300)
            if raw is None:
                problems.append(f"cell {i}: the websocket closed")
                return problems
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                problems.append(f"cell {i}: {msg['content']['ename']}: {msg['content']['evalue']}")
            if msg["msg_type"] == "execute_reply":
                if msg["content"]["status"] != "ok":
                    problems.append(f"cell {i}: {msg['content']['status']}")
                break
    ws.close()
    return problems


def test_the_whole_project_is_in_reach_and_the_solutions_out_of_view(server) -> None:
    base, token = server
    for folder in ("reports", "data", "config", "notebooks"):
        assert _request(base, token, "GET", f"/api/contents/{folder}")["type"] == "directory"
    workshop = _request(base, token, "GET", "/api/contents/notebooks/workshop")
    names = {item["name"] for item in workshop["content"]}
    assert "01_annual_number.ipynb" in names and "solutions" not in names
    # The facilitator opens them by their path.
    solutions = _request(base, token, "GET", "/api/contents/notebooks/workshop/solutions")
    assert any(item["name"].endswith(".ipynb") for item in solutions["content"])


def test_a_notebook_runs_through_the_projects_kernel(server) -> None:
    base, token = server
    specs = _request(base, token, "GET", "/api/kernelspecs")
    assert specs["default"] == KERNEL_NAME and KERNEL_NAME in specs["kernelspecs"]
    kernel = _request(base, token, "POST", "/api/kernels", {"name": KERNEL_NAME, "path": "notebooks"})
    try:
        nb = nbformat.read(PROJECT_ROOT / "notebooks" / "00_data_check.ipynb", as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        cells.append("print(wb.month, wb.agg.lines > 0)")
        problems = asyncio.run(_run_cells(base, token, kernel["id"], cells))
        assert not problems, "\n".join(problems)
    finally:
        _request(base, token, "DELETE", f"/api/kernels/{kernel['id']}")


def _widget_notebook() -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
        "cells": [
            {
                "cell_type": "code",
                "id": "whatif",
                "metadata": {},
                "source": "interact(...)",
                "execution_count": 1,
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "w"},
                    },
                    {"output_type": "stream", "name": "stdout", "text": "kept\n"},
                ],
            }
        ],
    }


def test_a_notebook_saved_from_the_lab_carries_no_live_widget_state(server) -> None:
    """A what-if slider moved and autosaved: the notebook on disk has no widget state."""
    base, token = server
    path = f"data/interim/lab-save-{uuid.uuid4().hex[:8]}.ipynb"
    (PROJECT_ROOT / "data" / "interim").mkdir(parents=True, exist_ok=True)
    try:
        _request(base, token, "PUT", f"/api/contents/{path}", {"type": "notebook", "content": _widget_notebook()})
        saved = json.loads((PROJECT_ROOT / path).read_text(encoding="utf-8"))
    finally:
        (PROJECT_ROOT / path).unlink(missing_ok=True)
    assert "widgets" not in saved["metadata"]
    (cell,) = saved["cells"]
    assert [o["output_type"] for o in cell["outputs"]] == ["stream"]  # the stream output is kept


def test_strip_live_state_keeps_everything_but_the_widgets() -> None:
    from salesplan.lab import strip_live_state

    model = {"type": "notebook", "content": _widget_notebook()}
    mixed = {"image/png": "iVBOR", "application/vnd.jupyter.widget-view+json": {}, "text/plain": "fig"}
    model["content"]["cells"][0]["outputs"].append({"output_type": "display_data", "metadata": {}, "data": mixed})
    out = strip_live_state(model)["content"]
    assert "widgets" not in out["metadata"]
    kinds = [sorted(o.get("data", {})) for o in out["cells"][0]["outputs"]]
    assert kinds == [[], ["image/png"]]  # the stream, then the figure without its widget view
    assert strip_live_state({"type": "file", "content": "x"}) == {"type": "file", "content": "x"}
