"""Fixtures shared by the test modules: the sample company, written once per test session.

``sample_company(scale)`` gives the folder of the sample company's exports at ``scale`` (the
generator's default seed and as-of date), written the first time a test asks for that scale and
shared by every later one. The folder is shared: a test that changes exports copies them first
(``shutil.copytree``). ``sample_raw`` is the usual one, scale 0.05 (about 15,000 order lines).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
