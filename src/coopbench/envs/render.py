"""Headless rendering: RGB frames drawn with Pillow, and GIFs of whole episodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from coopbench.envs.task import AGENT_SIZE, Task, World

AGENT_COLOUR = (89, 89, 217)
LANDMARK_COLOUR = (64, 64, 64)
ZONE_COLOUR = (200, 220, 200)
LANDMARK_SIZE = 0.05


def draw_frame(task: Task, world: World, index: int = 0, size: int = 400) -> np.ndarray:
    """``[size, size, 3]`` uint8 picture of world ``index`` (y axis up, as in MPE)."""
    if not 0 <= index < world.agent_pos.shape[0]:
        raise ValueError(f"world index {index} is out of range [0, {world.agent_pos.shape[0]})")
    agents, landmarks = world.agent_pos[index], world.landmark_pos[index]
    extent = max(1.0, float(np.abs(np.concatenate([agents, landmarks])).max()) + AGENT_SIZE)
    scale = size / (2.2 * extent)

    def px(p: np.ndarray) -> tuple[float, float]:
        return size / 2 + p[0] * scale, size / 2 - p[1] * scale

    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)

    def disc(p: np.ndarray, r: float, fill: tuple[int, int, int], outline: bool = True) -> None:
        x, y = px(p)
        draw.ellipse(
            (x - r * scale, y - r * scale, x + r * scale, y + r * scale),
            fill=fill,
            outline=(0, 0, 0) if outline else None,
        )

    zone = getattr(task, "zone_radius", None)
    for p in landmarks:
        if zone:
            disc(p, zone, ZONE_COLOUR, outline=False)
        disc(p, LANDMARK_SIZE, LANDMARK_COLOUR)
    for p in agents:
        disc(p, AGENT_SIZE, AGENT_COLOUR)
    draw.text((6, 4), f"{task.task_id}  t={world.t}", fill=(0, 0, 0))
    return np.asarray(img, dtype=np.uint8)


def save_gif(
    task_id: str,
    path: str | Path,
    policy: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    seed: int = 0,
    size: int = 300,
    fps: int = 10,
    **kwargs: Any,
) -> Path:
    """Write a GIF of one episode and return its path.

    ``policy(obs [1, N, obs_dim], state [1, state_dim]) -> actions [1, N(, 5)]``;
    ``None`` plays uniformly random actions.
    """
    from coopbench.envs.registry import make_batched

    env = make_batched(task_id, 1, **kwargs)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    spec = env.spec
    frames = [env.render(0, size)]
    for _ in range(spec.max_cycles):
        if policy is not None:
            actions = policy(obs, env.state())
        elif spec.continuous_actions:
            actions = rng.uniform(0.0, 1.0, (1, spec.n_agents, spec.n_actions))
        else:
            actions = rng.integers(0, spec.n_actions, (1, spec.n_agents))
        obs, *_ = env.step(actions)
        frames.append(env.render(0, size))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
    return out
