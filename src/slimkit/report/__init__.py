"""Run reports: validate report.json, draw the standard plots, render report.md.

The pipeline builds the report dict and calls `write_report`; ``slimkit report RUN_DIR``
calls `rerender`; ``slimkit compare RUN_DIR...`` calls `rows_from_runs` and
`render_comparison` (benchmark scripts call the latter with their own `CompareRow` rows).
Methods that draw their own figures save them with `save_figure` and list them (relative to
the run directory) in ``report["plots"]``.

Example:
    >>> from slimkit.report import REPORT_REQUIRED
    >>> REPORT_REQUIRED["final.params"]
    'count'

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "CompareRow": "slimkit.report.compare",
    "render_comparison": "slimkit.report.compare",
    "row_from_report": "slimkit.report.compare",
    "rows_from_runs": "slimkit.report.compare",
    "Curves": "slimkit.report.curves",
    "StageSpan": "slimkit.report.curves",
    "build_curves": "slimkit.report.curves",
    "render_markdown": "slimkit.report.markdown",
    "read_metrics": "slimkit.report.metrics",
    "STANDARD_PLOTS": "slimkit.report.plots",
    "new_figure": "slimkit.report.plots",
    "plot_training_curves": "slimkit.report.plots",
    "save_figure": "slimkit.report.plots",
    "REPORT_OPTIONAL": "slimkit.report.schema",
    "REPORT_REQUIRED": "slimkit.report.schema",
    "STAGE_OPTIONAL": "slimkit.report.schema",
    "STAGE_REQUIRED": "slimkit.report.schema",
    "ReportError": "slimkit.report.schema",
    "validate_report": "slimkit.report.schema",
    "METRICS_FILE": "slimkit.report.writer",
    "REPORT_JSON": "slimkit.report.writer",
    "REPORT_MD": "slimkit.report.writer",
    "rerender": "slimkit.report.writer",
    "write_report": "slimkit.report.writer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
