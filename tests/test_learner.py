"""The learner's targets, checked by hand on networks whose Q-values are constants.

An agent network with zero weights outputs its output bias whatever it sees, so every
Q-value below is chosen by the test, and the loss of a one-step batch is (Q_tot - y)^2
with y computed here from the definitions in `pps.learner`'s docstring.
"""

from __future__ import annotations

import pytest
import torch

from pps.buffer import EpisodeBatch
from pps.learner import Learner, LearnerConfig, td_lambda_targets
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import QMixer, VDNMixer
from tests.test_buffer import episodes

N, OBS, STATE = 2, 3, 6


# These tensors are tiny: on a busy 2-core machine torch's second thread made the QMIX test
# 20x slower (8 s instead of 0.4 s), so every test here runs on one thread.
pytestmark = pytest.mark.usefixtures("one_thread")


def constant_learner(online: list[float], target: list[float], double_q: bool = True, gamma: float = 0.5,
                     td_lambda: float = 0.0, reward_scale: float = 1.0) -> Learner:
    """One shared agent slot whose Q-values are `online` (and its target network's `target`)."""
    agents = SlotAgents(1, OBS + len(online) + N, 4, len(online))
    with torch.no_grad():
        for p in agents.parameters():
            p.zero_()
        agents.fc2.bias[0] = torch.tensor(online)
    cfg = LearnerConfig(gamma=gamma, lr=1e-3, optimizer="adam", grad_clip=10.0, double_q=double_q,
                        td_lambda=td_lambda, target_update_interval=1000, reward_scale=reward_scale)
    learner = Learner(agents, SlotLayout("shared", N, 1), VDNMixer(), cfg)
    with torch.no_grad():
        learner.target_agents.fc2.bias[0] = torch.tensor(target)
    return learner


def one_step(chosen: list[int], next_avail: list[list[bool]], reward: float = 0.0) -> EpisodeBatch:
    """A single-transition episode (not terminal): agents took `chosen`, then saw `next_avail`."""
    a = len(next_avail[0])
    avail = torch.ones(1, 2, N, a, dtype=torch.bool)
    avail[0, 1] = torch.tensor(next_avail)
    return EpisodeBatch(obs=torch.rand(1, 2, N, OBS), state=torch.rand(1, 2, STATE), avail=avail,
                        actions=torch.tensor([[chosen]]), reward=torch.tensor([[reward]]),
                        terminated=torch.zeros(1, 1, dtype=torch.bool), filled=torch.ones(1, 1, dtype=torch.bool))


ONLINE, TARGET = [0.0, 5.0, 1.0, 3.0], [10.0, 2.0, 7.0, 4.0]
# agent 0 may use actions {0, 2}, agent 1 only action 3; action 1 (the online favourite) is unavailable
NEXT_AVAIL = [[True, False, True, False], [False, False, False, True]]


def test_double_q_picks_with_the_online_network_among_available_actions():
    """Online's best available actions are 2 (agent 0) and 3 (agent 1); the target network
    values them 7 and 4: y = 0.5 * (7 + 4). Q_tot of the chosen actions (0, 0) is 0."""
    loss = constant_learner(ONLINE, TARGET).loss(one_step([0, 0], NEXT_AVAIL))
    assert loss.item() == pytest.approx((0.0 - 0.5 * (7 + 4)) ** 2)
    # what this rules out: online's unmasked favourite (action 1: 2 + 2) or online's own values
    # (1 + 3), both y = 0.5 * 4; the target's favourite (plain Q: 10 + 4)
    for wrong in (0.5 * 4, 0.5 * 14):
        assert loss.item() != pytest.approx(wrong**2)


def test_plain_q_picks_the_targets_best_available_action():
    loss = constant_learner(ONLINE, TARGET, double_q=False).loss(one_step([2, 3], NEXT_AVAIL, reward=1.0))
    assert loss.item() == pytest.approx(((1.0 + 3.0) - (1.0 + 0.5 * (10 + 4))) ** 2)


def test_td_lambda_with_a_terminal_step_mid_episode_by_hand():
    g, lam = 0.5, 0.5
    rewards = torch.tensor([[1.0, 2.0, 9.0, 9.0], [1.0, 1.0, 1.0, 1.0]])  # 9s: padding, must not leak
    terminated = torch.tensor([[False, True, False, False], [False, False, False, False]])
    filled = torch.tensor([[True, True, False, False], [True, True, True, True]])
    values = torch.tensor([[10.0, 20.0, 30.0, 40.0], [4.0, 8.0, 12.0, 16.0]])
    out = td_lambda_targets(rewards, terminated, filled, values, gamma=g, td_lambda=lam)
    # episode 0 ends in a terminal at t = 1: nothing beyond it is bootstrapped
    e1 = 2.0
    e0 = 1.0 + g * ((1 - lam) * 10.0 + lam * e1)
    assert out[0, :2].tolist() == pytest.approx([e0, e1]) and e0 == 4.0
    # episode 1 runs to the end of the batch: its last step bootstraps from V
    f3 = 1.0 + g * 16.0
    f2 = 1.0 + g * ((1 - lam) * 12.0 + lam * f3)
    f1 = 1.0 + g * ((1 - lam) * 8.0 + lam * f2)
    f0 = 1.0 + g * ((1 - lam) * 4.0 + lam * f1)
    assert out[1].tolist() == pytest.approx([f0, f1, f2, f3])


def test_learner_loss_uses_td_lambda_terminal_and_reward_scale():
    """Constant networks: Q_tot = 2 + 2 = 4 for the chosen actions, V(s') = 3 + 3 = 6 on every
    step (double Q picks action 1, worth 3). Rewards 0.1, 0.2 scaled by 10; the episode ends in
    a terminal at its second step, with padding behind it."""
    learner = constant_learner([1.0, 3.0, 2.0], [1.0, 3.0, 2.0], gamma=0.5, td_lambda=0.5, reward_scale=10.0)
    batch = EpisodeBatch(
        obs=torch.rand(1, 4, N, OBS), state=torch.rand(1, 4, STATE), avail=torch.ones(1, 4, N, 3, dtype=torch.bool),
        actions=torch.full((1, 3, N), 2), reward=torch.tensor([[0.1, 0.2, 0.9]]),
        terminated=torch.tensor([[False, True, False]]), filled=torch.tensor([[True, True, False]]))
    g1 = 2.0  # 10 * 0.2, terminal
    g0 = 1.0 + 0.5 * (0.5 * 6.0 + 0.5 * g1)  # 10 * 0.1 + gamma * ((1 - lam) V + lam G1) = 3
    expected = ((4.0 - g0) ** 2 + (4.0 - g1) ** 2) / 2  # averaged over the two real steps
    assert learner.loss(batch).item() == pytest.approx(expected)


def qmix_learner(seed: int = 0, gamma: float = 0.0) -> Learner:
    agents = SlotAgents(N, OBS + 4 + N, 8, 4)
    agents.reset_parameters(torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    cfg = LearnerConfig(gamma=gamma, lr=1e-2, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=1000, reward_scale=1.0)
    return Learner(agents, SlotLayout("per_agent", N, N), QMixer(N, STATE, embed=8, hypernet_hidden=8), cfg)


def test_qmix_padded_steps_and_their_states_do_not_change_the_loss():
    """QMIX reads the state (VDN does not): garbage states behind an episode must be masked,
    while the final state of a time-limited episode is real and bootstraps its last step."""
    learner = qmix_learner(gamma=0.9)
    clean = episodes([2, 4], terminal=False)
    dirty = episodes([2, 4], terminal=False)
    dirty.state[0, 3:] = 123.0  # beyond episode 0's final state (index 2)
    dirty.obs[0, 3:] = -50.0
    dirty.reward[0, 2:] = 77.0
    torch.testing.assert_close(learner.loss(dirty), learner.loss(clean))
    dirty.state[0, 2] = 123.0  # the final state: read by the target of step 1
    assert learner.loss(dirty).item() != pytest.approx(learner.loss(clean).item())


def test_qmix_learner_fits_a_fixed_target_through_the_mixer():
    """gamma 0: y = r exactly, so the loss must fall; both the agents and the hypernetworks learn."""
    learner = qmix_learner()
    batch = episodes([3, 5, 4])
    batch.reward = torch.rand(batch.reward.shape, generator=torch.Generator().manual_seed(1)) * batch.filled
    mixer_before = {k: v.clone() for k, v in learner.mixer.state_dict().items()}
    first = learner.update(batch)[0]
    for _ in range(80):
        last = learner.update(batch)[0]
    assert last < 0.2 * first
    assert any(not torch.equal(v, learner.mixer.state_dict()[k]) for k, v in mixer_before.items())
