"""The built-in metrics are the report's own columns (textgen.metrics); plugins add more here.

This module registers none itself: it exists so the hook is exercised by the core's own entry
point, and it is where a built-in extra column would go.
"""

from textgen.hookspecs import hookimpl


@hookimpl
def register_metrics(register):
    return None
