"""`matmul_precision`: the learner's row-wise matmuls in bfloat16, and an untouched float32 path.

Known answers: at fp32 (the default) the learner takes exactly the ops it took before the
key existed (no precision context, no autocast), so the default and an explicit "fp32" give
the same bits; at bf16, `SlotAffine`'s products equal an explicit bfloat16 computation
(inputs rounded, product cast back) and the loss sits within bfloat16's rounding of the
float32 loss. A run's bits in a group equal its bits alone at bf16 too (rows padded to whole
chunks, chunked sums in float32: the same construction as at fp32).
"""

from __future__ import annotations

import json

import pytest
import torch

from pps import learner as learner_module
from pps.buffer import EpisodeBatch
from pps.config import resolve_config
from pps.errors import UserError
from pps.learner import Learner, LearnerConfig
from pps.nets import row_sums
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps.nets.row_sums import SlotAffine, matmuls_in
from pps.run_folder import check_same_run
from pps.train import run_group

pytestmark = pytest.mark.usefixtures("one_thread")

N, OBS, STATE, ACTIONS, HIDDEN = 3, 7, 9, 5, 16


def make_learner(precision: str | None, seeds: tuple[int, ...] = (0,)) -> Learner:
    """A QMIX learner of one run per seed (a run group for several), per-agent slots;
    `precision` None leaves the key at its default."""
    agents = SlotAgents(N * len(seeds), OBS + ACTIONS + N, HIDDEN, ACTIONS)
    agents.reset_parameters([torch.Generator().manual_seed(s) for s in seeds])
    mixer = make_mixer("qmix", N, STATE, 8, 16, 2, init_seeds=list(seeds))
    extra = {} if precision is None else {"matmul_precision": precision}
    cfg = LearnerConfig(gamma=0.99, lr=5e-4, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=10, reward_scale=1.0, **extra)
    return Learner(agents, SlotLayout("per_agent", N, N * len(seeds), len(seeds)), mixer, cfg)


def make_batch(seed: int, b: int = 8, t: int = 20) -> EpisodeBatch:
    """Episodes of random lengths up to `t`, one of them `t` long."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    lengths[0] = t
    filled = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    return EpisodeBatch(obs=torch.randn(b, t + 1, N, OBS, generator=g), state=torch.randn(b, t + 1, STATE, generator=g),
                        avail=torch.ones(b, t + 1, N, ACTIONS, dtype=torch.bool),
                        actions=torch.randint(0, ACTIONS, (b, t, N), generator=g) * filled.unsqueeze(-1),
                        reward=torch.randn(b, t, generator=g) * filled,
                        terminated=torch.zeros(b, t, dtype=torch.bool), filled=filled)


def padded_to(batch: EpisodeBatch, t: int) -> EpisodeBatch:
    """`batch` with empty steps appended up to `t` steps, as a run group pads a run's batch."""

    extra = t - batch.reward.shape[1]

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.zeros(x.shape[0], extra, *x.shape[2:], dtype=x.dtype)], dim=1)

    return EpisodeBatch(*(pad(getattr(batch, f)) for f in ("obs", "state", "avail", "actions", "reward",
                                                           "terminated", "filled")))


def joined(batches: list[EpisodeBatch]) -> EpisodeBatch:
    return EpisodeBatch(*(torch.cat([getattr(b, f) for b in batches]) for f in ("obs", "state", "avail", "actions",
                                                                                "reward", "terminated", "filled")))


def update_once(learner: Learner, batch: EpisodeBatch) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss before one update, and every parameter after it."""
    loss = learner.loss(batch).detach()
    learner.update(batch)
    return loss, [p.detach().clone() for p in learner.params]


# ---------------------------------------------------------------------------- the key


def test_the_key_defaults_to_fp32_and_rejects_other_values():
    assert resolve_config().matmul_precision == "fp32"
    assert resolve_config({"matmul_precision": "bf16"}).matmul_precision == "bf16"
    for bad in ("fp16", "bfloat16", "BF16", 16):
        with pytest.raises(UserError, match=r"'matmul_precision' must be one of fp32, bf16"):
            resolve_config({"matmul_precision": bad})
    with pytest.raises(ValueError, match="matmul_precision"):
        make_learner("fp16")


def test_a_folder_from_before_the_key_resumes_at_fp32_and_not_at_bf16(tmp_path):
    """Every run before the key existed ran at fp32: its folder is the same run at fp32."""
    config = resolve_config({"env": "mpe", "map": "simple_spread_v3"})
    before = config.to_dict()
    del before["matmul_precision"]
    check_same_run(tmp_path, {"config": before}, config)
    with pytest.raises(UserError, match="matmul_precision"):
        check_same_run(tmp_path, {"config": before}, resolve_config(config.to_dict(), {"matmul_precision": "bf16"}))
    with pytest.raises(UserError, match="matmul_precision"):
        check_same_run(tmp_path, {"config": dict(before, matmul_precision="bf16")}, config)


# ---------------------------------------------------------------------------- fp32: the code before


def test_fp32_is_the_default_bit_for_bit_and_enters_no_precision_context(monkeypatch):
    """The default and an explicit "fp32" give the same loss and updated parameters, bit for
    bit, and neither enters `matmuls_in` or `torch.autocast`: the float32 path runs the ops it
    ran before the key existed, so the exactness tests keep their meaning."""

    def refused(*args, **kwargs):
        raise AssertionError("a precision context was entered at fp32")

    monkeypatch.setattr(learner_module, "matmuls_in", refused)
    monkeypatch.setattr(torch, "autocast", refused)
    seen: list[torch.dtype | None] = []
    forward = SlotAffine.forward

    def spy(ctx, x, weight, bias):
        seen.append(row_sums._MATMUL_DTYPE.get())
        return forward(ctx, x, weight, bias)

    monkeypatch.setattr(SlotAffine, "forward", staticmethod(spy))
    batch = make_batch(1)
    default_loss, default_params = update_once(make_learner(None), batch)
    fp32_loss, fp32_params = update_once(make_learner("fp32"), batch)
    assert torch.equal(default_loss, fp32_loss)
    assert all(torch.equal(a, b) for a, b in zip(default_params, fp32_params))
    assert seen and set(seen) == {None}


# ---------------------------------------------------------------------------- bf16


@pytest.mark.parametrize("n_out", [9, 1])
def test_slot_affine_in_bf16_rounds_the_matmul_inputs_and_nothing_else(n_out):
    """Forward and input gradient equal an explicit bfloat16 matmul (inputs rounded, product
    back in float32, bias added in float32); the weight gradient is within bfloat16's rounding
    of float32's and is float32. The one-output head is a dot product, not a matmul: float32."""
    g = torch.Generator().manual_seed(n_out)
    x, grad = torch.randn(2, 300, 24, generator=g), torch.randn(2, 300, n_out, generator=g)
    w, b = torch.randn(2, n_out, 24, generator=g), torch.randn(2, n_out, generator=g)

    def run(precision: torch.dtype | None):
        leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
        if precision is None:
            y = SlotAffine.apply(*leaves)
        else:
            with matmuls_in(precision):
                y = SlotAffine.apply(*leaves)
        return (y, *torch.autograd.grad(y, leaves, grad))  # the backward runs after the context closed

    y16, gx16, gw16, gb16 = run(torch.bfloat16)
    y32, gx32, gw32, gb32 = run(None)
    assert all(t.dtype == torch.float32 for t in (y16, gx16, gw16, gb16))
    if n_out == 1:
        assert torch.equal(y16, y32) and torch.equal(gx16, gx32) and torch.equal(gw16, gw32)
        return
    bf = torch.bfloat16
    assert torch.equal(y16, torch.bmm(x.to(bf), w.transpose(1, 2).to(bf)).float() + b.unsqueeze(1))
    assert torch.equal(gx16, torch.bmm(grad.to(bf), w.to(bf)).float())
    assert torch.equal(gb16, gb32)  # a float32 sum of float32 gradients
    for low, full in ((y16, y32), (gx16, gx32), (gw16, gw32)):
        relative = ((low - full).norm() / full.norm()).item()
        assert 1e-4 < relative < 1e-2  # bfloat16's 8-bit mantissa: ~4e-3 per rounding


def test_bf16_changes_the_loss_and_gradients_by_bfloat16_rounding_only():
    batch = make_batch(2)
    results = {}
    for precision in ("bf16", "fp32"):
        learner = make_learner(precision)
        loss = learner.loss(batch)
        loss.sum().backward()
        results[precision] = loss.detach(), torch.cat([p.grad.flatten() for p in learner.params])
    (loss16, grad16), (loss32, grad32) = results["bf16"], results["fp32"]
    assert torch.isfinite(loss16).all() and torch.isfinite(grad16).all() and grad16.dtype == torch.float32
    assert 0 < ((loss16 - loss32).abs() / loss32.abs()).max().item() < 1e-2
    assert 0 < ((grad16 - grad32).norm() / grad32.norm()).item() < 1e-2
    learner = make_learner("bf16")
    learner.update(batch)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in learner.params)
    assert all(s["exp_avg"].dtype == torch.float32 for s in learner.optimizer.state.values())


@pytest.mark.parametrize("n_out", [192, 9])
def test_at_bf16_a_layers_rows_and_gradients_are_the_same_bits_alone_and_in_a_group_of_5(n_out):
    """`SlotAffine` at bf16, the run last of 5 with 17 rows appended to its 1,111 (nine
    chunks): its output rows, input gradient rows and parameter gradients are the same bits."""
    g = torch.Generator().manual_seed(n_out)
    k, runs, slots = 1111, 5, 3
    x, grad = torch.randn(slots, k, 64, generator=g), torch.randn(slots, k, n_out, generator=g)
    w, b = torch.randn(slots, n_out, 64, generator=g), torch.randn(slots, n_out, generator=g)
    own = slice((runs - 1) * slots, runs * slots)
    group = [torch.randn(runs * slots, k + 17, 64, generator=g), torch.randn(runs * slots, k + 17, n_out, generator=g),
             torch.randn(runs * slots, n_out, 64, generator=g), torch.randn(runs * slots, n_out, generator=g)]
    group[0][own, :k], group[1][own, :k], group[2][own], group[3][own] = x, grad, w, b
    group[1][:, k:] = 0  # the masked loss gives a group's padded rows no gradient

    def run(x, grad, w, b):
        leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
        with matmuls_in(torch.bfloat16):
            y = SlotAffine.apply(*leaves)
        return (y, *torch.autograd.grad(y, leaves, grad))

    y, gx, gw, gb = run(x, grad, w, b)
    gy, ggx, ggw, ggb = run(*group)
    assert torch.equal(gy[own, :k], y) and torch.equal(ggx[own, :k], gx)
    assert torch.equal(ggw[own], gw) and torch.equal(ggb[own], gb)


def test_at_bf16_a_run_gives_the_same_bits_alone_and_in_a_group_of_2():
    """The run (seed 7) is second in its group, and the first run's episodes are longer, so
    the group pads its batch with empty steps: loss and updated parameters are the same bits."""
    own, other = make_batch(3, t=12), make_batch(4, t=20)
    alone = make_learner("bf16", seeds=(7,))
    group = make_learner("bf16", seeds=(5, 7))
    alone_loss, alone_params = update_once(alone, own)
    group_loss, group_params = update_once(group, joined([other, padded_to(own, 20)]))
    assert torch.equal(group_loss[1], alone_loss[0])
    for mine, theirs in zip(alone_params, group_params):
        assert torch.equal(theirs.view(2, -1)[1], mine.view(-1))


def test_a_short_bf16_training_records_the_key_and_the_deviation(tmp_path):
    keys = {"env": "mpe", "map": "simple_spread_v3", "method": "qmix", "t_max": 300, "eval_interval": 150,
            "eval_episodes": 2, "absolute_eval_episodes": 0, "batch_size": 4, "n_envs": 2, "buffer_size": 50,
            "epsilon_anneal_steps": 200, "checkpoint_interval": 10**6, "matmul_precision": "bf16"}
    out = tmp_path / "bf16"
    assert run_group([resolve_config(keys)], [out], show_progress=False) == ["finished"]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["updates"] > 0
    assert record["config"]["matmul_precision"] == "bf16"
    assert any(d.startswith("matmul_precision bf16") for d in record["deviations"])
    assert (out / "metrics.csv").exists()


def test_native_bf16_reads_the_cpu_flags():
    from pps.devices import native_bf16

    amd = "processor\t: 0\nflags\t\t: fpu sse avx avx2 fma\n"
    sapphire = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert native_bf16("cpu", amd) is False and native_bf16("cpu", sapphire) is True
    assert native_bf16("cpu", "model name: unknown\n") is False


def test_pps_train_says_when_bf16_will_be_slower_here(tmp_path, capsys):
    """The note comes before anything is trained: an --out that is a file stops the command
    right after it (exit 2), so the check costs no training."""
    from pps.cli import main
    from pps.devices import native_bf16

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    code = main(["train", "--env", "mpe", "--map", "simple_spread_v3", "--out", str(blocker), "--quiet",
                 "--set", "matmul_precision=bf16"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a folder" in err
    assert ("note: matmul_precision bf16" in err) == (native_bf16("cpu") is False)
