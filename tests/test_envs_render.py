"""Headless rendering: rgb_array frames and GIFs, no display needed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from coopbench.envs import TASKS, heuristic_policy, make, save_gif


@pytest.mark.parametrize("task", TASKS)
def test_rgb_array_frames(task: str) -> None:
    env = make(task, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (400, 400, 3) and frame.dtype == np.uint8
    env.step({a: 2 for a in env.agents})
    assert not np.array_equal(frame, env.render())  # agents moved
    assert make(task).render() is None


def test_gif_of_an_episode(tmp_path) -> None:
    h = heuristic_policy("pf")
    out = save_gif("pf", tmp_path / "pf.gif", policy=lambda obs, state: h(state), seed=1, size=120)
    with Image.open(out) as gif:
        assert gif.n_frames == 51 and gif.size == (120, 120)
