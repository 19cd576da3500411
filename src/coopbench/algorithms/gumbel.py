"""Gumbel-softmax relaxed sampling of categorical actions, as in openai/maddpg.

Jang, Gu & Poole (2017) / Maddison, Mnih & Teh (2017). With Gumbel noise
``g_k = -log(-log(U_k))``, ``argmax_k (logits_k + g_k)`` is an exact sample of
``Categorical(softmax(logits))`` (the Gumbel-max trick), and

    y = softmax((logits + g) / temperature)

is its differentiable relaxation: a point of the probability simplex whose
argmax is that same sample. Low temperatures push ``y`` towards the one-hot
vertex, high temperatures towards the uniform vector ``1/K``. openai/maddpg's
``SoftCategoricalPd.sample`` is this with temperature 1; its critics are fed
the relaxed vectors ``y`` and its actor gradients flow through them.
"""

from __future__ import annotations

import torch


def gumbel_noise(
    shape: torch.Size | tuple[int, ...],
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard Gumbel noise ``-log(E)`` with ``E ~ Exp(1)`` (equal to ``-log(-log U)``)."""
    exp = torch.empty(shape, device=device, dtype=dtype).exponential_(generator=generator)
    return -exp.clamp_min(torch.finfo(dtype).tiny).log()


def gumbel_softmax(
    logits: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    hard: bool = False,
) -> torch.Tensor:
    """A relaxed one-hot sample over the last axis of ``logits``; differentiable in ``logits``.

    ``hard=True`` returns the one-hot of the sample in the forward pass with the
    relaxed sample's gradient (straight-through estimator).
    """
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} is invalid; expected a positive number")
    g = gumbel_noise(logits.shape, generator, logits.device, logits.dtype)
    soft = torch.softmax((logits + g) / temperature, dim=-1)
    if not hard:
        return soft
    index = soft.argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return one_hot - soft.detach() + soft


def sample_relaxed(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(relaxed, index)`` from one draw of noise: the relaxed vector and its argmax.

    ``index`` is an exact categorical sample from ``softmax(logits)`` whatever the
    temperature; ``relaxed`` is what a MADDPG critic is trained on.
    """
    relaxed = gumbel_softmax(logits, temperature, generator)
    return relaxed, relaxed.argmax(dim=-1)
