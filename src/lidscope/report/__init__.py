"""Self-contained HTML reports of measurements, comparisons, sweeps and grokking runs.

``write_report(["results/run1"], "report.html")`` or ``lidscope report RUN [RUN...]``.
"""

from lidscope.report.build import MAP_MAX_POINTS, build_report, write_report

__all__ = ["MAP_MAX_POINTS", "build_report", "write_report"]
