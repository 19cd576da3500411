"""CleanRL-style independent PPO with parameter sharing, as one file, scored by coopbench.

The training loop is CleanRL's ``ppo.py`` loop over a gymnasium vector env: the harness's
budgeted env wrapped by ``AgentVectorEnv`` (every agent of every world is one env of the
shared policy; auto-reset with the final observation in ``info``). Each ``step`` counts one
env step per world against the budget and runs the scheduled evaluations; the loop plans
``budget // (num_envs * num_steps)`` iterations, as CleanRL derives them from
``total_timesteps``. Run it from this folder:

    PYTHONPATH=. coopbench train --task spread --algo cleanrl_ippo:CleanIPPO --budget 20000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from coopbench.algorithms.base import Algorithm, Hooks, Policy, TrainingEnv
from coopbench.algorithms.checkpoint import load_checkpoint, save_checkpoint
from coopbench.envs import TaskSpec
from coopbench.integrations.gymnasium import AgentVectorEnv


@dataclass
class IPPOConfig:
    """CleanRL's PPO arguments (those that apply), settable with ``--set key=value``."""

    num_envs: int = 16  # worlds; the policy sees num_envs * n_agents envs
    num_steps: int = 25  # steps per world per rollout
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64


class Agent(nn.Module):
    """CleanRL's separate actor and critic MLPs."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, 1),
        )  # fmt: skip
        self.actor = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, n_actions),
        )  # fmt: skip

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def get_action_and_value(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.get_value(x)


class GreedyPolicy:
    """Each agent takes the most likely action of the shared actor for its own observation."""

    centralised = False

    def __init__(self, agent: Agent, device: str) -> None:
        self.agent, self.device = agent, device

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            logits = self.agent.actor(torch.as_tensor(obs, device=self.device))
        return logits.argmax(-1).cpu().numpy()


class CleanIPPO(Algorithm):
    """Parameter-sharing PPO on the agents-as-envs view; discrete actions."""

    name: ClassVar[str] = "cleanrl-ippo"
    display_name: ClassVar[str] = "CleanRL-IPPO"
    Config = IPPOConfig
    supports_continuous: ClassVar[bool] = False

    def __init__(self, spec: TaskSpec, config: IPPOConfig, seed: int, device: str = "cpu"):
        super().__init__(spec, config, seed, device)
        torch.manual_seed(seed)
        self.agent = Agent(spec.obs_dim, spec.n_actions, config.hidden).to(device)
        self.optimizer = torch.optim.Adam(
            self.agent.parameters(), lr=config.learning_rate, eps=1e-5
        )

    def learn(self, env: TrainingEnv, hooks: Hooks) -> None:
        args, device, agent = self.config, self.device, self.agent
        envs = AgentVectorEnv(env)
        n = envs.num_envs
        batch_size = n * args.num_steps
        minibatch_size = batch_size // args.num_minibatches
        num_iterations = env.remaining // (env.num_envs * args.num_steps)

        obs = torch.zeros((args.num_steps, n, self.spec.obs_dim), device=device)
        actions = torch.zeros((args.num_steps, n), dtype=torch.long, device=device)
        logprobs = torch.zeros((args.num_steps, n), device=device)
        rewards = torch.zeros((args.num_steps, n), device=device)
        dones = torch.zeros((args.num_steps, n), device=device)
        values = torch.zeros((args.num_steps, n), device=device)

        next_obs_np, _ = envs.reset(seed=self.seed)
        next_obs = torch.as_tensor(next_obs_np, device=device)
        next_done = torch.zeros(n, device=device)
        for _ in range(num_iterations):
            for step in range(args.num_steps):
                obs[step], dones[step] = next_obs, next_done
                with torch.no_grad():
                    action, logprob, _, value = agent.get_action_and_value(next_obs)
                actions[step], logprobs[step], values[step] = action, logprob, value
                next_obs_np, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
                reward = torch.as_tensor(reward, device=device)
                if "final_obs" in info:  # time limit: bootstrap from the episode's last state
                    final = torch.as_tensor(info["final_obs"], device=device)
                    with torch.no_grad():
                        tail = agent.get_value(final)
                    cut = torch.as_tensor(truncated & ~terminated, device=device)
                    reward = reward + args.gamma * tail * cut
                rewards[step] = reward
                next_obs = torch.as_tensor(next_obs_np, device=device)
                next_done = torch.as_tensor(terminated | truncated, device=device).float()

            with torch.no_grad():  # GAE
                next_value = agent.get_value(next_obs)
                advantages = torch.zeros_like(rewards)
                lastgaelam = torch.zeros(n, device=device)
                for t in reversed(range(args.num_steps)):
                    nonterminal = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
                    following = next_value if t == args.num_steps - 1 else values[t + 1]
                    delta = rewards[t] + args.gamma * following * nonterminal - values[t]
                    lastgaelam = delta + args.gamma * args.gae_lambda * nonterminal * lastgaelam
                    advantages[t] = lastgaelam
                returns = advantages + values

            b_obs = obs.reshape(-1, self.spec.obs_dim)
            b_logprobs, b_actions = logprobs.reshape(-1), actions.reshape(-1)
            b_advantages, b_returns = advantages.reshape(-1), returns.reshape(-1)
            for _ in range(args.update_epochs):
                for mb in torch.randperm(batch_size, device=device).split(minibatch_size):
                    _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                        b_obs[mb], b_actions[mb]
                    )
                    ratio = (newlogprob - b_logprobs[mb]).exp()
                    adv = b_advantages[mb]
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                    pg_loss = torch.max(
                        -adv * ratio,
                        -adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef),
                    ).mean()
                    v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                    loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
                    self.optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                    self.optimizer.step()
            hooks.log(policy_loss=pg_loss.item(), value_loss=v_loss.item(),
                      entropy=entropy.mean().item())  # fmt: skip

    def policies(self) -> dict[str, Policy]:
        return {"default": GreedyPolicy(self.agent, self.device)}

    def save(self, path: str | Path) -> None:
        save_checkpoint(path, {"agent": self.agent}, {})

    def load(self, path: str | Path) -> None:
        load_checkpoint(path, {"agent": self.agent})
