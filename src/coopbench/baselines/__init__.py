"""Reference baselines, each a module written against ``coopbench.algorithms``."""
