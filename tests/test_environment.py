"""environment.yml (conda users) and pyproject.toml (pip users) must list the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip: section"
    return sections[0]


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in lines if not line.startswith("-")]
    names = [canonicalize_name(r.name) for r in reqs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"listed twice: {duplicates}"
    return {canonicalize_name(r.name): r for r in reqs}


def _conda_packages(env: dict) -> set[str]:
    """Names of the conda (non-pip) dependencies, version pins stripped."""
    return {
        canonicalize_name(re.split(r"[=<>!~ ]", dep, maxsplit=1)[0])
        for dep in env["dependencies"]
        if isinstance(dep, str)
    }


def test_environment_lists_the_same_packages_as_pyproject() -> None:
    project = _requirements(_pyproject()["project"]["dependencies"])
    env = _environment()
    conda = _conda_packages(env)
    listed = set(_requirements(_pip_section(env))) | (conda - {"python", "pip"})
    missing = sorted(set(project) - listed)
    extra = sorted(listed - set(project))
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"
    assert not extra, f"in environment.yml but not in pyproject.toml: {extra}"


def test_pip_specifiers_match_pyproject() -> None:
    project = _requirements(_pyproject()["project"]["dependencies"])
    pip = _requirements(_pip_section(_environment()))
    differ = {name: (str(project[name].specifier), str(req.specifier)) for name, req in pip.items() if name in project}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert not differ, f"version ranges differ (pyproject, environment.yml): {differ}"


def test_environment_pins_python_311_and_installs_the_package() -> None:
    env = _environment()
    python = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert python == ["python=3.11"]
    assert _pyproject()["project"]["requires-python"].startswith(">=3.11")
    assert "-e ." in _pip_section(env), "environment.yml must install salesplan itself (pip: -e .)"


@pytest.mark.parametrize("line", ["pandas>=2.2,<2.4", "Jinja2>=3.1", "charset_normalizer>=3.3"])
def test_name_normalisation_makes_spellings_equal(line: str) -> None:
    # The comparison must not be fooled by case or -/_ spelling differences.
    name = canonicalize_name(Requirement(line).name)
    assert name == canonicalize_name(name.upper().replace("-", "_"))
