"""Hyper-parameter tuning of algorithms on Optuna (``coopbench tune``; the ``tune`` extra).

>>> from coopbench.tuning.study import TuneSpec, tune
>>> result = tune(TuneSpec("mappo", ("cn-v1",), trials=8, seeds=1), "coopbench-tune.db")
>>> result.params, result.value  # best config overrides, mean normalised AUC
"""
