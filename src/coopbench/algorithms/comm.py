"""Per-agent networks and the communicating local policy of CTEDD's figure 2.

``CommPolicyNet`` holds the local policies of all N agents (separate parameters
per agent, no sharing) and evaluates them together on ``[..., N, obs_dim]``:

- **part 1** (message head) of agent j maps its local observation ``o_j`` to a
  message ``m_j`` of ``comm_dim`` continuous values (one hidden layer of 64
  units in the paper, §5.2);
- the messages are exchanged **within the same time step**: agent i receives
  ``m_j`` from every other agent j != i, concatenated in agent order;
- **part 2** (action head) of agent i maps ``[o_i, m_j for j != i]`` to its
  action output (one hidden layer of 64 units in the paper).

This is decentralised execution *with communication*: agent i's output
depends on another agent's observation only through that agent's message.
Gradients flow through the messages, so a loss on agent i's output trains
agent j's message head ("provided that gradients can be passed through
communication channels", CTEDD §1). With ``comm_dim = 0`` there are no
messages and each agent's output is a plain MLP of its own observation.

**Decision** (the paper does not say): messages are bounded by ``tanh`` — a
channel of k values in [-1, 1] keeps part 2's inputs on the scale of the
observations and cannot blow up under lr 0.01; ``message_activation="none"``
gives unbounded linear messages. Own messages are not fed back (the paper's
``{m_j}_{j != i}``).

``AgentLinear`` / ``AgentMLP`` are the per-agent building blocks: N independent
layers evaluated in one ``einsum``, initialised like TensorFlow's
``fully_connected`` default used by openai/maddpg (Glorot-uniform weights, zero
biases) — so N agents cost one batched matmul rather than a Python loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

MESSAGE_ACTIVATIONS = ("tanh", "none")


class AgentLinear(nn.Module):
    """N independent affine maps: ``x [..., N, in] -> [..., N, out]``."""

    def __init__(self, n_agents: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_agents, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(n_agents, out_dim))
        bound = float(np.sqrt(6.0 / (in_dim + out_dim)))  # Glorot uniform, per agent
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...ni,nio->...no", x, self.weight) + self.bias


class AgentMLP(nn.Module):
    """Per-agent MLPs ``in -> hidden... -> out`` (ReLU between layers), one per agent."""

    def __init__(self, n_agents: int, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(AgentLinear(n_agents, a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CommPolicyNet(nn.Module):
    """Local policies of N agents with a ``comm_dim``-value message channel (CTEDD fig. 2).

    ``forward(obs [..., N, obs_dim]) -> [..., N, out_dim]`` (raw outputs: logits or
    pre-squash values; the algorithm decides how to turn them into actions).
    ``messages(obs)`` and ``act(obs, messages)`` expose the two parts so that
    messages can be inspected, held fixed or replaced.
    """

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        out_dim: int,
        comm_dim: int = 0,
        hidden: Sequence[int] = (64,),
        message_hidden: Sequence[int] = (64,),
        message_activation: str = "tanh",
    ) -> None:
        super().__init__()
        if comm_dim < 0:
            raise ValueError(f"comm_dim={comm_dim} is invalid; expected an integer >= 0")
        if message_activation not in MESSAGE_ACTIVATIONS:
            raise ValueError(
                f"message_activation={message_activation!r}; expected one of {MESSAGE_ACTIVATIONS}"
            )
        self.n_agents, self.obs_dim, self.out_dim = n_agents, obs_dim, out_dim
        self.comm_dim = comm_dim
        self.message_activation = message_activation
        others = [[j for j in range(n_agents) if j != i] for i in range(n_agents)]
        self.register_buffer("others", torch.tensor(others, dtype=torch.long).view(n_agents, -1))
        self.message_head = (
            AgentMLP(n_agents, obs_dim, message_hidden, comm_dim) if comm_dim > 0 else None
        )
        in_dim = obs_dim + (n_agents - 1) * comm_dim
        self.action_head = AgentMLP(n_agents, in_dim, hidden, out_dim)

    def messages(self, obs: torch.Tensor) -> torch.Tensor:
        """Part 1: every agent's message ``[..., N, comm_dim]`` from its own observation."""
        if self.message_head is None:
            return obs.new_zeros((*obs.shape[:-1], 0))
        m = self.message_head(obs)
        return torch.tanh(m) if self.message_activation == "tanh" else m

    def received(self, messages: torch.Tensor) -> torch.Tensor:
        """Messages agent i receives: ``[..., N, (N-1) * comm_dim]``, senders in agent order."""
        incoming = messages[..., self.others, :]  # [..., N, N-1, comm_dim]
        return incoming.flatten(-2)

    def act(self, obs: torch.Tensor, messages: torch.Tensor) -> torch.Tensor:
        """Part 2: every agent's output from its own observation and the others' messages."""
        if self.comm_dim == 0:
            return self.action_head(obs)
        return self.action_head(torch.cat([obs, self.received(messages)], dim=-1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs, self.messages(obs))
