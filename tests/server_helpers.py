"""Starting a Jupyter server in a test: a free port, and waiting until it answers.

A module of its own, not conftest: the notebooks folder has a conftest too, and in a session
that collects both, ``import conftest`` finds whichever came first.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(proc: subprocess.Popen, url: str, log: Callable[[], str], what: str) -> None:
    """Poll ``url`` (a Jupyter server's ``/api/status?token=...``) until it answers; fail the test
    with the last of ``log()`` when ``proc`` exits or a minute passes first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{what} did not start: {log()[-2000:]}")
            time.sleep(0.3)
