"""Fixtures shared by the test modules: the sample company, written once per test session.

``sample_company(scale)`` gives the folder of the sample company's exports at ``scale`` (the
generator's default seed and as-of date), written the first time a test asks for that scale and
shared by every later one. The folder is shared: a test that changes exports copies them first
(``shutil.copytree``). ``sample_raw`` is the usual one, scale 0.05 (about 15,000 order lines).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_helpers import free_port, wait_until_serving

from salesplan.sample import write_sample

SAMPLE_SCALE = 0.05


@pytest.fixture(scope="session")
def sample_company(tmp_path_factory: pytest.TempPathFactory) -> Callable[[float], Path]:
    """A function ``scale -> folder of the sample company's exports``, each scale written once."""
    written: dict[float, Path] = {}

    def folder(scale: float = SAMPLE_SCALE) -> Path:
        if scale not in written:
            raw = tmp_path_factory.mktemp(f"sample-{scale:g}") / "raw"
            write_sample(raw, scale=scale)
            written[scale] = raw
        return written[scale]

    return folder


@pytest.fixture(scope="session")
def sample_raw(sample_company: Callable[[float], Path]) -> Path:
    """The sample company's exports at scale 0.05, shared by the session: copy before changing."""
    return sample_company(SAMPLE_SCALE)


def _serve_jupyterlab(root: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab on 127.0.0.1 with ``make lab``'s options (:func:`salesplan.cli.lab_arguments`)
    rooted at ``root`` instead of the project: a free port, a token, its log in
    ``root/server.log``, nothing written to ~/.jupyter and nothing fetched from the web. Yields
    ``(base URL, token, log)``; the server is stopped on exit."""
    from salesplan.cli import lab_arguments

    # No toast asking about Jupyter news over the first screen.
    settings = root / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token, log = free_port(), secrets.token_hex(16), root / "server.log"
    options = [f"--ServerApp.root_dir={root}" if a.startswith("--ServerApp.root_dir=") else a for a in lab_arguments()]
    assert f"--ServerApp.root_dir={root}" in options
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.port_retries=0",
            *options,
            f"--LabApp.user_settings_dir={root / 'settings'}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],  # fmt: skip
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: nobody reads the server's log while a notebook runs, and a full pipe
        # would stall the server and its kernel.
        stderr=log.open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/api/status?token={token}", lambda: log.read_text(errors="replace"), "JupyterLab")
    try:
        yield base, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def jupyterlab_server() -> Callable[..., contextlib.AbstractContextManager[tuple[str, str, Path]]]:
    """``jupyterlab_server(root, env=None)``: a context manager running JupyterLab on ``root``
    (:func:`_serve_jupyterlab`), for the tests that drive it in a browser."""
    return contextlib.contextmanager(_serve_jupyterlab)
