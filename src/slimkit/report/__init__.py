"""Run reports: validate report.json, draw the standard plots, render report.md.

The pipeline builds the report dict and calls `write_report`; ``slimkit report RUN_DIR``
calls `rerender`. Methods that draw their own figures save them with `save_figure` and
list them (relative to the run directory) in ``report["plots"]``.

Example:
    >>> from slimkit.report import REPORT_REQUIRED
    >>> REPORT_REQUIRED["final.top1"]
    'fraction'
"""

from slimkit.report.curves import Curves, StageSpan, build_curves
from slimkit.report.markdown import render_markdown
from slimkit.report.metrics import read_metrics
from slimkit.report.plots import STANDARD_PLOTS, new_figure, plot_training_curves, save_figure
from slimkit.report.schema import (
    REPORT_OPTIONAL,
    REPORT_REQUIRED,
    STAGE_OPTIONAL,
    STAGE_REQUIRED,
    ReportError,
    validate_report,
)
from slimkit.report.writer import METRICS_FILE, REPORT_JSON, REPORT_MD, rerender, write_report

__all__ = [
    "METRICS_FILE",
    "REPORT_JSON",
    "REPORT_MD",
    "REPORT_OPTIONAL",
    "REPORT_REQUIRED",
    "STAGE_OPTIONAL",
    "STAGE_REQUIRED",
    "STANDARD_PLOTS",
    "Curves",
    "ReportError",
    "StageSpan",
    "build_curves",
    "new_figure",
    "plot_training_curves",
    "read_metrics",
    "render_markdown",
    "rerender",
    "save_figure",
    "validate_report",
    "write_report",
]
