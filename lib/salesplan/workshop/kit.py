"""The facilitator's kit: a folder of fresh exercises per team, and a score of every team's checks.

``copy_team`` writes a team's folder (default ``trainees/<team>``) with the five exercise notebooks, every
output cleared so no committed result shows an answer, never the solutions. An existing team folder is
kept unless ``force`` is given; the new folder is built beside it and swapped in, so a refused or failed
copy changes nothing. With ``pack=True`` the folder also gets its own ``data/raw`` (a link to the project's
exports), ``config/`` and ``reports/``: a team running the monthly notebooks there saves its drafts in its
own ``data/targets`` and takes the month lock in its own ``reports/``, never the project's.

``score_teams`` runs each team's notebooks with papermill (one notebook at a time, the team folder as working
directory) while every check appends its result to a record file (:data:`feedback.RECORD_ENV`), and counts
the parts answered right per exercise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import pandas as pd
from nbconvert.preprocessors import ClearOutputPreprocessor

from salesplan.config import PROJECT_ROOT, resolve_path
from salesplan.csvsafe import write_spreadsheet_csv
from salesplan.files import replace_atomically
from salesplan.workshop.exercises import EXERCISES
from salesplan.workshop.feedback import RECORD_ENV

TEAM_ROOT = "trainees"
"""Where team folders go by default, relative to the project root."""

TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
"""A team name: letters, digits, ``-`` and ``_`` (starting with a letter or digit), up to 40 characters, so
it is a safe folder name and never reads as a formula in the score sheet."""

EXERCISE_GLOB = "[0-9][0-9]_*.ipynb"
"""The exercise notebooks in a folder (``01_annual_number.ipynb`` ...); ``solutions/`` is never read."""

NOTEBOOK_TIMEOUT_S = 300
"""Default time limit for one team notebook under ``score`` (seconds); a notebook that runs longer is
stopped and counts the checks recorded until then."""

KERNEL = "salesplan"
"""The Jupyter kernel the team notebooks run on (registered by ``salesplan lab``/``make kernel``)."""


class WorkshopKitError(ValueError):
    """Bad input to the facilitator's kit (team name, existing folder, missing folder); the message names it."""


def clear_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every code cell's outputs and execution count removed and the saved widget
    state dropped: a what-if's sliders, a table or a check result saved in the shipped notebook could
    show an answer, so a team copy carries none."""
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    nb.metadata.pop("widgets", None)
    return nb


def team_folder(team: str, out: str | os.PathLike[str] | None = None) -> Path:
    """The folder of ``team``: ``<out>/<team>``, ``out`` defaulting to ``trainees`` at the project root
    (relative paths are taken from the project root). Refuses a name outside :data:`TEAM_NAME`."""
    if not TEAM_NAME.fullmatch(team or ""):
        raise WorkshopKitError(
            f"team name {team!r}: use letters, digits, '-' and '_' (up to 40, starting with a letter or digit)"
        )
    return resolve_path(out if out is not None else TEAM_ROOT) / team


def write_exercises(dest: Path, source: Path) -> list[Path]:
    """Write the exercise notebooks of ``source`` into the existing folder ``dest``, outputs cleared
    (:func:`clear_notebook`). Returns the paths written, in exercise order."""
    written = []
    for nb_path in sorted(source.glob(EXERCISE_GLOB)):
        nb = clear_notebook(nbformat.read(nb_path, as_version=nbformat.NO_CONVERT))
        target = dest / nb_path.name
        nbformat.write(nb, target)
        written.append(target)
    if not written:
        raise WorkshopKitError(f"no exercise notebooks ({EXERCISE_GLOB}) in {source}")
    return written


def _add_pack(folder: Path) -> None:
    """Give a team folder its own data, config and reports folders for running the monthly notebooks."""
    data = folder / "data"
    data.mkdir()
    # A link, not a copy: twenty teams would otherwise hold twenty copies of the exports. The plan
    # folder is found beside the data folder (data/targets), so drafts stay in the team's folder.
    (data / "raw").symlink_to(resolve_path("data/raw"), target_is_directory=True)
    (folder / "config").mkdir()
    project_config = resolve_path("config/salesplan.yaml")
    if project_config.is_file():
        shutil.copyfile(project_config, folder / "config" / "salesplan.yaml")
    else:
        (folder / "config" / "salesplan.yaml").write_text("{}\n", encoding="utf-8")
    (folder / "reports").mkdir()


def copy_team(
    team: str,
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    pack: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write a fresh folder for ``team`` (see :func:`team_folder`) with the exercise notebooks, outputs
    cleared; the solutions are never copied.

    Rules: an existing team folder is refused unless ``force`` (then the whole folder is replaced: the
    reset to the shipped exercises). The folder is built aside and swapped in, so a refusal or a failure
    leaves what was there untouched. ``pack`` adds ``data/raw``, ``config/salesplan.yaml`` and ``reports/``
    for running the monthly notebooks inside the team folder. Returns the notebooks written."""
    from salesplan.workshop import EXERCISE_DIR

    folder = team_folder(team, out)
    if folder.exists() and not force:
        raise WorkshopKitError(
            f"team folder {folder} already exists: nothing was changed (add --force to replace it with fresh exercises)"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    src = Path(source) if source is not None else EXERCISE_DIR
    staging = Path(tempfile.mkdtemp(prefix=f".{team}.", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # a private temporary folder becomes an ordinary one
    try:
        written = write_exercises(staging, src)
        if pack:
            _add_pack(staging)
        if folder.exists():
            old = folder.with_name(f".{team}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [folder / p.name for p in written]


# --------------------------------------------------------------------------- score


def _parts_by_exercise() -> dict[int, list[str]]:
    return {ex.number: [p.key for p in ex.parts] for ex in EXERCISES}


PART_KEY = re.compile(r"\d+[a-z]\b")
"""A part's key at the start of a check's name (``"2a gap and reconciled target"`` -> ``2a``)."""


def read_record(path: Path) -> dict[str, str]:
    """The last status of each part in a record file (one JSON object per line, ``{"check", "status"}``;
    the part is the key the check's name starts with, else the whole name); a check run twice counts by
    its last run. Unreadable lines are skipped."""
    last: dict[str, str] = {}
    if not path.exists():
        return last
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            name = str(row["check"]).strip()
            key = PART_KEY.match(name)
            last[key.group(0) if key else name] = str(row["status"])
        except (ValueError, KeyError, TypeError):
            continue
    return last


def run_notebook(notebook: Path, record: Path, timeout_s: float, kernel: str = KERNEL) -> str:
    """Execute ``notebook`` with papermill in a child process (its folder as working directory, the
    executed copy thrown away, ``RECORD_ENV`` set to ``record``); returns ``ran``, ``error`` (a cell
    failed: the checks before it still count) or ``timeout`` (stopped after ``timeout_s`` seconds)."""
    with tempfile.TemporaryDirectory(prefix="salesplan-score-") as tmp:
        command = [
            sys.executable, "-m", "papermill", str(notebook), str(Path(tmp) / notebook.name),
            "--cwd", str(notebook.parent), "-k", kernel, "--log-level", "ERROR",
        ]  # fmt: skip
        env = {**os.environ, RECORD_ENV: str(record)}
        # Own process group, so a timeout stops papermill and the kernel it started together.
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout"
    return "ran" if code == 0 else "error"


def score_team(
    folder: Path,
    timeout_s: float = NOTEBOOK_TIMEOUT_S,
    kernel: str = KERNEL,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One team's score: a row per exercise notebook in ``folder`` with ``team`` (the folder's name),
    ``exercise``, ``notebook``, ``passed`` (parts whose last check said correct), ``checks`` (the exercise's
    parts, from :data:`salesplan.workshop.exercises.EXERCISES`) and ``run`` (``ran``/``error``/``timeout``)."""
    parts = _parts_by_exercise()
    rows = []
    for nb_path in sorted(folder.glob(EXERCISE_GLOB)):
        number = int(nb_path.name[:2])
        with tempfile.TemporaryDirectory(prefix="salesplan-record-") as tmp:
            record = Path(tmp) / "record.jsonl"
            started = time.monotonic()
            run = run_notebook(nb_path, record, timeout_s, kernel)
            statuses = read_record(record)
        keys = parts.get(number) or sorted(statuses)
        passed = sum(statuses.get(k) == "correct" for k in keys)
        rows.append(
            {"team": folder.name, "exercise": number, "notebook": nb_path.stem, "passed": passed,
             "checks": len(keys), "run": run}
        )  # fmt: skip
        if progress is not None:
            progress(
                f"  {folder.name} {nb_path.stem}: {passed}/{len(keys)} ({run}, {time.monotonic() - started:.0f} s)"
            )
    return pd.DataFrame(rows, columns=["team", "exercise", "notebook", "passed", "checks", "run"])


def score_teams(
    folders: Sequence[str | os.PathLike[str]],
    timeout_s: float = NOTEBOOK_TIMEOUT_S,
    kernel: str = KERNEL,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Every team's score (:func:`score_team`), teams one after another (a notebook starts a kernel, and a
    room's laptop has few cores). Refuses, before running anything, a path that is not a folder of
    exercise notebooks or a solutions folder."""
    paths = [resolve_path(f) for f in folders]
    if not paths:
        raise WorkshopKitError("name at least one team folder")
    for path in paths:
        if not path.is_dir():
            raise WorkshopKitError(f"team folder {path} does not exist or is not a folder")
        if path.name == "solutions":
            raise WorkshopKitError(f"{path} holds the solutions, not a team's work")
        if not any(path.glob(EXERCISE_GLOB)):
            raise WorkshopKitError(f"team folder {path} holds no exercise notebooks ({EXERCISE_GLOB})")
    frames = [score_team(p, timeout_s, kernel, progress) for p in paths]
    return pd.concat(frames, ignore_index=True)


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The score as a terminal table: a row per team, a column per exercise with ``passed/checks`` (marked
    ``!`` when the notebook stopped on an error, ``T`` on a timeout) and the team's total."""
    mark = {"ran": "", "error": " !", "timeout": " T"}
    cells = scores.assign(
        cell=lambda d: d["passed"].astype(str) + "/" + d["checks"].astype(str) + d["run"].map(mark),
        column=lambda d: "ex " + d["exercise"].astype(str),
    )
    table = cells.pivot(index="team", columns="column", values="cell").fillna("-")
    totals = scores.groupby("team")[["passed", "checks"]].sum()
    table["total"] = totals["passed"].astype(str) + "/" + totals["checks"].astype(str)
    return table.loc[list(dict.fromkeys(scores["team"]))].rename_axis(columns=None)


def write_scores(scores: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the tidy score (one row per team and exercise) as a spreadsheet-safe CSV, replacing an earlier
    file only once the new one is complete. Returns the path."""
    target = resolve_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(target) as staged:
        write_spreadsheet_csv(scores, staged)
    return target


def lab_folder(folder: str | os.PathLike[str]) -> str:
    """The path JupyterLab opens for ``folder`` (relative to the project root, ``/`` separated). Refuses a
    folder outside the project, which JupyterLab rooted at the project cannot show, and a missing one."""
    path = resolve_path(folder)
    try:
        rel = path.resolve().relative_to(PROJECT_ROOT.resolve())
    except ValueError:
        raise WorkshopKitError(
            f"--folder {folder}: {path} is outside the project ({PROJECT_ROOT}); JupyterLab opens folders inside it"
        ) from None
    if not path.is_dir():
        raise WorkshopKitError(f"--folder {folder}: {path} is not a folder")
    return rel.as_posix()
