"""Adapters that put other libraries' training loops on coopbench's budgeted env.

Each adapter is its own module, imported on demand (``coopbench.integrations.gymnasium``,
``coopbench.integrations.sb3``, …) so that a missing optional library only matters to the
adapter that needs it. See docs/integrations.md.
"""
