"""The communicating local policy of CTEDD fig. 2 (coopbench.algorithms.comm.CommPolicyNet)."""

import pytest
import torch
from torch.func import jacrev

from coopbench.algorithms.comm import AgentMLP, CommPolicyNet

N, OBS, OUT = 3, 4, 5


def net(comm_dim: int, seed: int = 0) -> CommPolicyNet:
    torch.manual_seed(seed)
    return CommPolicyNet(N, OBS, OUT, comm_dim)


def obs(seed: int = 1) -> torch.Tensor:
    return torch.randn(N, OBS, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_bounded_messages():
    policy = net(3)
    x = torch.randn(7, 2, N, OBS) * 10
    assert policy(x).shape == (7, 2, N, OUT)
    m = policy.messages(x)
    assert m.shape == (7, 2, N, 3)
    assert m.abs().max() <= 1.0  # tanh-bounded channel
    assert policy.received(m).shape == (7, 2, N, (N - 1) * 3)
    assert net(0).messages(x).shape == (7, 2, N, 0)


@pytest.mark.parametrize("comm_dim", [1, 3])
def test_other_observations_act_only_through_their_messages(comm_dim):
    policy, o = net(comm_dim), obs()
    # With the messages held fixed, agent i's output ignores every o_j (j != i).
    m = policy.messages(o).detach()
    jac_fixed = jacrev(lambda x: policy.act(x, m))(o)  # [N, OUT, N, OBS]
    for i in range(N):
        for j in range(N):
            block = jac_fixed[i, :, j, :]
            assert (block.abs().sum() > 0) if i == j else torch.all(block == 0)
    # The full dependence on o_j (j != i) is exactly the chain through m_j.
    jac_full = jacrev(policy)(o)  # d out / d obs
    d_out_d_m = jacrev(lambda msg: policy.act(o, msg))(policy.messages(o))  # [N, OUT, N, k]
    d_m_d_o = jacrev(policy.messages)(o)  # [N, k, N, OBS]
    for i in range(N):
        for j in range(N):
            if i == j:
                continue
            chain = d_out_d_m[i, :, j, :] @ d_m_d_o[j, :, j, :]
            assert torch.allclose(jac_full[i, :, j, :], chain, atol=1e-6)
            assert jac_full[i, :, j, :].abs().sum() > 0  # the channel carries information


def test_perturbing_another_observation_with_frozen_messages_leaves_the_action():
    policy, o = net(3), obs()
    m = policy.messages(o)
    moved = o.clone()
    moved[2] += 5.0
    before, after = policy.act(o, m), policy.act(moved, m)
    assert torch.equal(before[:2], after[:2])
    assert not torch.allclose(before[2], after[2])
    assert not torch.allclose(policy(o)[0], policy(moved)[0])  # through m_2 it does change


def test_without_messages_each_agent_sees_only_its_own_observation():
    policy, o = net(0), obs()
    jac = jacrev(policy)(o)
    for i in range(N):
        for j in range(N):
            if i != j:
                assert torch.all(jac[i, :, j, :] == 0)


def test_loss_on_one_agent_trains_the_other_agents_message_heads():
    policy = net(3)
    policy(obs())[..., 0, :].pow(2).sum().backward()  # a loss on agent 0's output only
    first = policy.message_head.net[0]
    grad_w = first.weight.grad.flatten(1).abs().sum(1)  # per sending agent
    assert grad_w[1] > 0 and grad_w[2] > 0  # reaches agents 1 and 2's message heads
    assert grad_w[0] == 0  # own message is not fed back to agent 0
    action_grad = policy.action_head.net[0].weight.grad.flatten(1).abs().sum(1)
    assert action_grad[0] > 0 and torch.all(action_grad[1:] == 0)


def test_agent_mlp_matches_separate_per_agent_networks():
    torch.manual_seed(0)
    mlp = AgentMLP(N, OBS, (6,), 2)
    x = torch.randn(8, N, OBS)
    w1, b1 = mlp.net[0].weight, mlp.net[0].bias
    w2, b2 = mlp.net[2].weight, mlp.net[2].bias
    for i in range(N):
        expected = torch.relu(x[:, i] @ w1[i] + b1[i]) @ w2[i] + b2[i]
        assert torch.allclose(mlp(x)[:, i], expected, atol=1e-6)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="comm_dim=-1"):
        CommPolicyNet(N, OBS, OUT, comm_dim=-1)
    with pytest.raises(ValueError, match="message_activation"):
        CommPolicyNet(N, OBS, OUT, comm_dim=1, message_activation="relu")
