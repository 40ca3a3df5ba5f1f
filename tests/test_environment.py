"""The declared stack is the one the library imports, and the package's modules import in one direction.

* environment.yml (conda users) lists pyproject.toml's main dependencies and installs the package;
* every third-party module ``lib/salesplan`` imports is declared, in the main dependencies or in
  an extra; one only an extra declares is imported lazily (inside the function that needs it),
  so the monthly job runs on the main dependencies alone;
* the test and workshop tools, JupyterLab and the cluster stack are extras, not main dependencies;
* no import cycle among ``lib/salesplan``'s modules.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
PACKAGE = LIB / "salesplan"

# Engines the forecast accepts but the project neither declares nor runs: a user who has such a
# cluster installs them (forecast/backends.py names the command); imported lazily like any extra.
UNDECLARED_ENGINES = {"pyspark", "ray"}

# Tools a scheduled server running the monthly job never needs: each belongs to an extra.
NOT_FOR_THE_MONTHLY_JOB = {
    "pytest": "dev",
    "hypothesis": "dev",
    "ruff": "dev",
    "nbval": "dev",
    "playwright": "dev",
    "jupyterlab": "lab",
    "ipywidgets": "workshop",
    "fugue": "cluster",
    "dask": "cluster",
}

# Import cycles that exist today in modules this test does not own; listed so a new one fails.
KNOWN_CYCLES: set[frozenset[str]] = {
    # workshop/kit.py reads EXERCISE_DIR from the package that re-exports kit.
    frozenset({"salesplan.workshop", "salesplan.workshop.kit"}),
    # forecast/engine.py fits the global model lazily; global_model.py reads engine's SeriesForecast.
    frozenset({"salesplan.forecast.engine", "salesplan.forecast.global_model"}),
}


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


def _main() -> dict[str, Requirement]:
    return _requirements(_pyproject()["project"]["dependencies"])


def _extra(name: str) -> dict[str, Requirement]:
    """An extra's requirements, with the extras of salesplan it names (``salesplan[lab]``) expanded."""
    out: dict[str, Requirement] = {}
    for req in _requirements(_pyproject()["project"]["optional-dependencies"][name]).values():
        if canonicalize_name(req.name) == "salesplan":
            for inner in req.extras:
                out |= _extra(inner)
        else:
            out[canonicalize_name(req.name)] = req
    return out


def _with_their_extras(reqs: dict[str, Requirement]) -> set[str]:
    """The distributions the requirements name, plus those their own extras pull in
    (``dask[distributed]`` declares ``distributed``)."""
    names = set(reqs)
    for req in reqs.values():
        if not req.extras:
            continue
        for line in importlib.metadata.requires(req.name) or []:
            inner = Requirement(line)
            if inner.marker and any(inner.marker.evaluate({"extra": e}) for e in req.extras):
                names.add(canonicalize_name(inner.name))
    return names


def test_environment_lists_the_same_packages_as_pyproject() -> None:
    project = _main()
    env = _environment()
    conda = _conda_packages(env)
    listed = set(_requirements(_pip_section(env))) | (conda - {"python", "pip"})
    missing = sorted(set(project) - listed)
    extra = sorted(listed - set(project))
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"
    assert not extra, f"in environment.yml but not in pyproject.toml: {extra}"


def test_pip_specifiers_match_pyproject() -> None:
    project = _main()
    pip = _requirements(_pip_section(_environment()))
    differ = {name: (str(project[name].specifier), str(req.specifier)) for name, req in pip.items() if name in project}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert not differ, f"version ranges differ (pyproject, environment.yml): {differ}"


def test_environment_pins_python_311_and_installs_the_package() -> None:
    env = _environment()
    python = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert python == ["python=3.11"]
    assert _pyproject()["project"]["requires-python"].startswith(">=3.11")
    installs = [line for line in _pip_section(env) if line.startswith("-e .")]
    assert len(installs) == 1, "environment.yml must install salesplan itself (pip: -e .)"
    named = re.fullmatch(r"-e \.(?:\[([\w,]+)\])?", installs[0])
    assert named, f"not an editable install of the project: {installs[0]}"
    extras = set((named.group(1) or "").split(",")) - {""}
    assert extras <= set(_pyproject()["project"]["optional-dependencies"]), f"unknown extras: {extras}"


@pytest.mark.parametrize("line", ["pandas>=2.2,<2.4", "Jinja2>=3.1", "charset_normalizer>=3.3"])
def test_name_normalisation_makes_spellings_equal(line: str) -> None:
    # The comparison must not be fooled by case or -/_ spelling differences.
    name = canonicalize_name(Requirement(line).name)
    assert name == canonicalize_name(name.upper().replace("-", "_"))


# --------------------------------------------------------------------------- the library's imports


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """Import statements that run when the module is imported: in its body, also inside a
    top-level ``try``/``if``, except under ``if TYPE_CHECKING:`` (never run)."""
    found: set[int] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.add(id(node))
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                todo.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            todo.extend(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
    return found


def _third_party_imports() -> dict[str, dict[str, bool]]:
    """Top-level name of every third-party module imported -> {importing file: imported at import time}."""
    found: dict[str, dict[str, bool]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager = _top_level_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                if root in sys.stdlib_module_names or root in {"salesplan", "__future__"}:
                    continue
                where = found.setdefault(root, {})
                where[name] = where.get(name, False) or id(node) in eager
    return found


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    # Scans every installed distribution's file list: once per session, not once per import.
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    return {canonicalize_name(d) for d in _packages_distributions().get(module, [])}


def test_every_imported_package_is_declared() -> None:
    main = _with_their_extras(_main())
    extras = {e: _with_their_extras(_extra(e)) for e in _pyproject()["project"]["optional-dependencies"]}
    declared = main.union(*extras.values())
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if module not in UNDECLARED_ENGINES and not (_distributions(module) & declared)
    }
    assert not undeclared, f"imported but declared nowhere in pyproject.toml (module: files): {undeclared}"


def test_packages_only_an_extra_declares_are_imported_lazily() -> None:
    main = _with_their_extras(_main())
    eager_optional = {
        module: sorted(f for f, eager in files.items() if eager)
        for module, files in _third_party_imports().items()
        if (module in UNDECLARED_ENGINES or not (_distributions(module) & main)) and any(files.values())
    }
    assert not eager_optional, (
        f"imported at module level but not a main dependency (import it inside the function, "
        f"naming the extra to install): {eager_optional}"
    )


def test_the_monthly_job_needs_no_extra() -> None:
    main = _main()
    for package, extra in NOT_FOR_THE_MONTHLY_JOB.items():
        assert package not in main, f"{package} is a main dependency; it belongs to the {extra} extra"
        assert package in _extra(extra), f"{package} is missing from the {extra} extra"


def test_every_module_imports_without_the_extras() -> None:
    # A fresh interpreter in which the extras' modules cannot be imported: the library (the
    # monthly job's code) must still import, module by module.
    blocked = sorted(
        {"fugue", "dask", "distributed", "ipywidgets", "jupyterlab", "jupyter_server"}
        | {"pytest", "hypothesis", "nbval", "playwright", "pyspark", "ray"}
    )
    script = f"""
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Absent(importlib.abc.MetaPathFinder):
    # Finds what the usual finders find, except the blocked packages: to importers and to
    # importlib.util.find_spec they look not installed.
    def __init__(self, finders):
        self.finders = finders
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return None
        for finder in self.finders:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                return spec
        return None
    def find_distributions(self, *args, **kwargs):
        for finder in self.finders:
            if hasattr(finder, "find_distributions"):
                yield from finder.find_distributions(*args, **kwargs)
sys.meta_path[:] = [Absent(list(sys.meta_path))]
failed = 0
for name in {sorted(MODULES)!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed += 1
        print(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
sys.exit(1 if failed else 0)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"modules that do not import without the extras:\n{done.stdout}{done.stderr[-2000:]}"


# --------------------------------------------------------------------------- import graph


def _internal_imports(name: str, path: Path) -> set[str]:
    """The ``salesplan`` modules ``name`` imports anywhere in its code (lazy imports too: a cycle
    through a function-level import is still two modules that need each other)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            # `from salesplan import review` imports the module salesplan.review.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in MODULES and t != name}
    return out


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]


def test_no_import_cycle_among_the_library_modules() -> None:
    graph = {name: _internal_imports(name, path) for name, path in MODULES.items()}
    assert graph["salesplan.config"] >= {"salesplan.merge", "salesplan.settings"}
    assert "salesplan.config" not in graph["salesplan.settings"]
    new = [sorted(c) for c in _cycles(graph) if c not in KNOWN_CYCLES]
    assert not new, f"modules that import each other (directly or round a loop): {new}"
