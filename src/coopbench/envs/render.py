"""Headless rendering: RGB frames of a world drawn with Pillow (GIFs: ``episodes.save_gif``)."""

from __future__ import annotations

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
