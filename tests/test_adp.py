"""Thesis ch. 3: the ADP agent's empirical model and value iteration on a hand-made MDP,
and the weighting of eq. 3.2-3.3."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coopbench.reproduce.adp import CARTPOLE_BOUNDS, BatchedADP, discretise
from coopbench.reproduce.heterogeneous import insistence, mutual_term, similarity


def _tiny() -> BatchedADP:
    # agent 0: (s0, a0) → s1 with r = 1 twice, → terminal with r = 0 once; (s1, a1) → s1, r = 2
    # agent 1: (s1, a0) → s1, r = 5
    adp = BatchedADP(2, 2, 2, gamma=0.5, tol=1e-9)
    adp.observe(
        agents=[0, 0, 0, 0, 1], s=[0, 0, 0, 1, 1], a=[0, 0, 0, 1, 0], r=[1, 1, 0, 2, 5],
        s2=[1, 1, 0, 1, 1], terminal=[False, False, True, False, False],
    )  # fmt: skip
    return adp


def test_empirical_transition_probabilities() -> None:
    adp = _tiny()
    p = adp.probabilities(0)
    assert p[0, 0].tolist() == pytest.approx([0.0, 2 / 3, 1 / 3])  # [s0, s1, terminal]
    assert p[1, 1].tolist() == [0.0, 1.0, 0.0]
    assert p[0, 1].sum() == 0 and p[1, 0].sum() == 0  # unvisited pairs have no model
    assert adp.probabilities(1)[1, 0].tolist() == [0.0, 1.0, 0.0]
    assert adp.visits().tolist() == [[3, 1], [0, 1]]


def test_value_iteration_solves_the_bellman_equation() -> None:
    adp = _tiny()
    adp.solve()
    # V(s1) = 2 + ½ V(s1) = 4;  V(s0) = R̄ + ½ (⅔ V(s1) + ⅓ · 0) = ⅔ + 4/3 = 2
    assert adp.V[0].tolist() == pytest.approx([2.0, 4.0, 0.0])
    assert np.allclose(adp.Q[0], [[2.0, 0.0], [0.0, 4.0]])
    assert adp.V[1, 1] == pytest.approx(10.0)  # 5 / (1 − ½), agents are independent
    # the stopping rule: a loose tolerance stops early, still within tol/(1-γ) of the solution
    loose = _tiny()
    loose.tol = 0.5
    loose.solve()
    assert np.abs(loose.V[0] - [2.0, 4.0, 0.0]).max() <= 0.5 / (1 - 0.5)
    with pytest.raises(ValueError, match="gamma"):
        BatchedADP(1, 2, 2, gamma=1.0)


def test_discretise_seven_bins_per_dimension() -> None:
    lo, hi = CARTPOLE_BOUNDS[:, 0], CARTPOLE_BOUNDS[:, 1]
    assert discretise(lo[None], 7, CARTPOLE_BOUNDS).tolist() == [0]
    assert discretise(hi[None] * 10, 7, CARTPOLE_BOUNDS).tolist() == [7**4 - 1]  # clipped
    centre = discretise(np.zeros((1, 4)), 7, CARTPOLE_BOUNDS)[0]
    assert centre == 3 * (1 + 7 + 49 + 343)
    step = (hi[0] - lo[0]) / 7
    assert discretise(np.array([[lo[0] + 1.5 * step, lo[1], lo[2], lo[3]]]), 7,
                      CARTPOLE_BOUNDS).tolist() == [1]  # fmt: skip


def test_eq_3_3_weighting_by_hand() -> None:
    assert insistence(np.array([0, 1, 4, 100])).tolist() == pytest.approx([0, 0, 0.5, 0.9])
    s = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    mu = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    assert similarity(s, mu).tolist() == pytest.approx([1.0, math.sqrt(1 / math.sqrt(2)), 0.0])
    q_dql, q_adp = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, math.log(3.0)]])
    # KL([½, ½] ‖ [¼, ¾]) = ½ ln 2 + ½ ln(2/3)
    kl = 0.5 * math.log(2.0) + 0.5 * math.log(2 / 3)
    assert mutual_term(q_dql, q_adp, torch.tensor([0.5])).item() == pytest.approx(0.5 * kl)
    same = mutual_term(torch.tensor([[1.0, 3.0]]), torch.tensor([[11.0, 13.0]]), torch.ones(1))
    assert same.item() == pytest.approx(0.0, abs=1e-7)  # softmax ignores the value scale
