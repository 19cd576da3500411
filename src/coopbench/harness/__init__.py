"""Evaluation harness: training/evaluation loop, scoring and statistics."""
