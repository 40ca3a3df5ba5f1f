"""The monthly run: execute the pack's notebooks for one month and publish ``reports/YYYY-MM/``.

:func:`run_month` is the entry point, a page of named steps (:mod:`salesplan.run.monthly`):
load the pack, open the month (month and plan in force settled once), execute the notebooks,
record the run and publish the report. The report folder holds each executed notebook
(``.ipynb``) and its HTML page, ``index.html`` (headline figures, links) and ``run.json``
(parameters, input hashes, package versions, git commit, each notebook's start and status).

The modules, one job each:

- :mod:`~salesplan.run.pack`: ``pack.yaml`` (a pydantic model), the notebooks' order and parameters;
- :mod:`~salesplan.run.execute`: papermill on the project's kernel, side by side, stop signals;
- :mod:`~salesplan.run.pages`: the HTML pages, their safety scan, index pages, path scrubbing;
- :mod:`~salesplan.run.carry`: pages carried over from the month's published report;
- :mod:`~salesplan.run.provenance`: parameter values, template changes, ``run.json``;
- :mod:`~salesplan.run.folders`: the run lock, build-aside-and-swap, atomic file replacement.
"""

from salesplan.config import PROJECT_ROOT
from salesplan.run.carry import carry_over, read_run_info
from salesplan.run.errors import (
    LockError,
    NotebookFailedError,
    RunError,
    RunInputError,
    RunInterrupted,
    TemplateChangedError,
)
from salesplan.run.execute import (
    KERNEL_DISPLAY_NAME,
    KERNEL_NAME,
    SOCKETS_PREFIX,
    check_kernel,
    describe_error,
    register_kernel,
    running_cell,
    stop_signals,
)
from salesplan.run.folders import replace_atomically, report_months, run_lock
from salesplan.run.monthly import check_month, run_month, run_notebooks
from salesplan.run.pack import (
    NOTEBOOK_GLOB,
    PACK_FILE,
    RUNNER_PARAMETERS,
    PackEntry,
    PackFile,
    check_user_parameters,
    dependencies,
    discover_notebooks,
    load_pack,
    notebook_parameters,
    parse_parameter,
    run_order,
    select_notebooks,
)
from salesplan.run.pages import (
    HTML_REMOVE_TAGS,
    PAGE_TEMPLATE,
    TEMPLATES_DIR,
    PathScrubber,
    active_content,
    display_path,
    export_html,
    notebook_title,
    read_headlines,
    stderr_outputs,
    write_month_index,
    write_reports_index,
)
from salesplan.run.provenance import (
    WHAT_IF_TAG,
    add_what_if_note,
    check_templates,
    default_value,
    edited_cells,
    git_state,
    package_versions,
    parameter_values,
    plan_record,
    refuse_template_changes,
    run_record,
    template_changes,
    what_if_note,
)
from salesplan.run.results import NotebookResult, RunResult

__all__ = [
    "HTML_REMOVE_TAGS",
    "KERNEL_DISPLAY_NAME",
    "KERNEL_NAME",
    "NOTEBOOK_GLOB",
    "PACK_FILE",
    "PAGE_TEMPLATE",
    "PROJECT_ROOT",
    "RUNNER_PARAMETERS",
    "SOCKETS_PREFIX",
    "TEMPLATES_DIR",
    "WHAT_IF_TAG",
    "LockError",
    "NotebookFailedError",
    "NotebookResult",
    "PackEntry",
    "PackFile",
    "PathScrubber",
    "RunError",
    "RunInputError",
    "RunInterrupted",
    "RunResult",
    "TemplateChangedError",
    "active_content",
    "add_what_if_note",
    "carry_over",
    "check_kernel",
    "check_month",
    "check_templates",
    "check_user_parameters",
    "default_value",
    "dependencies",
    "describe_error",
    "discover_notebooks",
    "display_path",
    "edited_cells",
    "export_html",
    "git_state",
    "load_pack",
    "notebook_parameters",
    "notebook_title",
    "package_versions",
    "parameter_values",
    "parse_parameter",
    "plan_record",
    "read_headlines",
    "read_run_info",
    "refuse_template_changes",
    "register_kernel",
    "replace_atomically",
    "report_months",
    "run_lock",
    "run_month",
    "run_notebooks",
    "run_order",
    "run_record",
    "running_cell",
    "select_notebooks",
    "stderr_outputs",
    "stop_signals",
    "template_changes",
    "what_if_note",
    "write_month_index",
    "write_reports_index",
]
