"""Gumbel-softmax sampling (coopbench.algorithms.gumbel): statistics, temperature, gradients."""

import itertools

import pytest
import torch

from coopbench.algorithms.gumbel import gumbel_noise, gumbel_softmax, sample_relaxed

LOGITS = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5])
DRAWS = 40_000


def draws(temperature: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return sample_relaxed(LOGITS.expand(DRAWS, 5), temperature, gen)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
def test_argmax_frequencies_match_softmax_at_every_temperature(temperature):
    # The Gumbel-max trick makes argmax an exact categorical sample whatever the temperature.
    # Tolerance: 5 binomial standard errors sqrt(p(1-p)/n) <= 0.0025 for n = 40k, so a
    # correct sampler fails with probability < 1e-5 per category, while a sampler that
    # ignored the noise (always argmax) or the logits (uniform) misses by > 0.1.
    _, index = draws(temperature)
    freq = torch.bincount(index, minlength=5).double() / DRAWS
    p = torch.softmax(LOGITS.double(), 0)
    tol = 5 * torch.sqrt(p * (1 - p) / DRAWS)
    assert torch.all((freq - p).abs() < tol), (freq, p)


def test_relaxed_samples_lie_on_the_simplex_with_the_same_argmax():
    relaxed, index = draws(1.0)
    assert torch.all(relaxed > 0) and torch.all(relaxed < 1)
    assert torch.allclose(relaxed.sum(-1), torch.ones(DRAWS), atol=1e-5)
    assert torch.equal(relaxed.argmax(-1), index)


def test_temperature_moves_samples_between_one_hot_and_uniform():
    peak = {t: draws(t)[0].max(-1).values.mean().item() for t in (0.01, 0.3, 1.0, 3.0, 100.0)}
    values = list(peak.values())
    assert all(a > b for a, b in itertools.pairwise(values))  # monotone in temperature
    assert peak[0.01] > 0.99  # practically one-hot
    cold = draws(100.0)[0]
    assert (cold - 0.2).abs().max() < 0.1  # near the uniform vector 1/K


def test_same_generator_seed_gives_the_same_sample_and_gradients_flow():
    a = gumbel_softmax(LOGITS, 1.0, torch.Generator().manual_seed(3))
    b = gumbel_softmax(LOGITS, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    logits = LOGITS.clone().requires_grad_(True)
    (gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(3))[3]).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_hard_sample_is_one_hot_with_the_relaxed_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    hard = gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(5), hard=True)
    soft = gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(hard.detach(), torch.nn.functional.one_hot(soft.argmax(), 5).float())
    weights = torch.arange(5.0)
    (g_hard,) = torch.autograd.grad((hard * weights).sum(), logits)
    (g_soft,) = torch.autograd.grad((soft * weights).sum(), logits)
    assert torch.allclose(g_hard, g_soft)


def test_gumbel_noise_has_the_standard_gumbel_mean():
    g = gumbel_noise((200_000,), torch.Generator().manual_seed(0))
    # mean = Euler-Mascheroni 0.5772, std pi/sqrt(6) = 1.28 → 5 SE = 0.0144
    assert abs(g.mean().item() - 0.5772) < 0.0144


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_bad_temperature_is_rejected(temperature):
    with pytest.raises(ValueError, match="temperature"):
        gumbel_softmax(LOGITS, temperature)
