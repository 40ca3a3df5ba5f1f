"""What can stop a monthly run, each with the exit code the command line uses."""

from __future__ import annotations

import signal
from pathlib import Path


class RunError(Exception):
    """A monthly run could not complete; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class RunInputError(RunError):
    """A bad argument to the run (month format, unknown notebook name, missing folder)."""

    exit_code = 2


class LockError(RunError):
    """Another run of the same month holds the lock."""

    exit_code = 3


class NotebookFailedError(RunError):
    """A notebook raised an error; the message names the notebook, the cell and the error."""

    exit_code = 1

    def __init__(self, message: str, *, notebook: str, failed_dir: Path | None):
        super().__init__(message)
        self.notebook = notebook
        self.failed_dir = failed_dir


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM; the message says what was stopped.

    A ``KeyboardInterrupt``, so that no ``except Exception`` on the way (papermill, nbclient)
    swallows it and whatever handles Ctrl-C handles it. ``exit_code`` follows the shell's
    convention, 128 + the signal number: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int, message: str = "") -> None:
        # Without a message the stop came before any notebook ran (loading and checking the data).
        super().__init__(
            message or f"stopped by {signal.Signals(signum).name} before any notebook ran; no report changed"
        )
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class TemplateChangedError(RunInputError):
    """A ``--strict`` run found notebooks whose parameter defaults differ from the pack's."""
