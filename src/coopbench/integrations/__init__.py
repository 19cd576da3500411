"""Adapters that make coopbench's tasks and harness reachable from other RL libraries."""
