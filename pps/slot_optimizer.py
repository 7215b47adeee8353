"""An optimiser over slot-stacked parameters whose slots can be restarted one at a time.

`opt_state_on_aggregate: reset` (docs/design.md §3) must leave each aggregated slot as if a fresh
optimiser had just been created for it. Zeroing its moments is not enough for Adam: torch
keeps one `step` counter per parameter *tensor*, shared by every slot stacked in it, so a
slot reset at step s would see bias corrections 1 - beta**s ~ 1 instead of 1 - beta**1 and
move 2-6x the learning rate on its first updates (the moments, zeroed, are tiny).

`SlotOptimizer` wraps a torch `Adam` or `RMSprop` and keeps, per restarted slot, the step
at which it restarted. After each `step()` it rewrites those slots with the update a fresh
Adam would have made from the same moments, i.e. with bias corrections at the slot's own
age k = s - restart. Moments evolve identically in both (a fresh optimiser's moments also
start at zero and see the same gradients), so the result equals a per-slot optimiser to
float rounding. A slot stops being tracked once its corrections equal the shared ones to
1e-12. RMSprop has no bias correction (and torch's RMSprop never reads its `step` without
momentum or centring), so zeroing its running average already *is* a fresh optimiser:
its first step after a reset is, like a fresh RMSprop's first step, 1/sqrt(1 - alpha)
(10x at alpha = 0.99) the learning rate.

A run group (R runs stacked along every parameter's leading dimension) is stepped run by
run: torch's update is applied to each run's own block, a tensor of exactly the size that
run's parameter has alone. Element-wise maths in principle, but the CPU kernels (fused Adam
above all) treat a tensor's vector body and its tail differently, so stepping the stacked
tensor at once would round a run's last elements differently alone and in a group. The
optimiser's state stays torch's own (one `Adam`/`RMSprop` state per stacked tensor, one
shared `step`), so checkpoints keep their format.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.adam import adam
from torch.optim.rmsprop import rmsprop

# Moment buffers that a restart zeroes: Adam's and RMSprop's (the latter's optional ones too).
MOMENT_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "momentum_buffer", "grad_avg")
_NEGLIGIBLE = 1e-12


class SlotOptimizer:
    """`optimizer.step()` plus per-slot restarts (see the module docstring)."""

    def __init__(self, optimizer: torch.optim.Optimizer, n_runs: int = 1) -> None:
        self.optimizer, self.n_runs = optimizer, n_runs
        self.is_adam = isinstance(optimizer, torch.optim.Adam)
        if not self.is_adam and not isinstance(optimizer, torch.optim.RMSprop):
            raise ValueError(f"SlotOptimizer steps Adam or RMSprop, not {type(optimizer).__name__}")
        for group in optimizer.param_groups:
            if group.get("amsgrad") or group.get("weight_decay") or group.get("maximize") \
                    or group.get("momentum") or group.get("centered") or group.get("capturable") \
                    or group.get("differentiable"):
                raise ValueError("SlotOptimizer supports plain Adam and RMSprop only (no amsgrad, weight "
                                 "decay, maximize, momentum, centring, capturable or differentiable)")
        # parameter order and groups are fixed once the optimiser exists: look them up once
        self._param_list = [p for group in optimizer.param_groups for p in group["params"]]
        self._group = [group for group in optimizer.param_groups for _ in group["params"]]
        self._index = {id(p): i for i, p in enumerate(self._param_list)}
        # param index -> int64 [S] on the host, whatever the parameters' device: the shared
        # step at which each slot restarted (0 = never)
        self.restarted_at: dict[int, torch.Tensor] = {}
        # param index -> the optimiser's shared step count, kept on the host: fused Adam holds
        # its step on the parameter's device, where every read would wait for the GPU
        self._steps: dict[int, int] = {}

    def _group_of(self, param: torch.Tensor) -> dict[str, Any]:
        return self._group[self._index[id(param)]]

    @torch.no_grad()
    def restart(self, param: torch.nn.Parameter, slots: list[int]) -> None:
        """Give `slots` of the stacked `param` a fresh optimiser state."""
        state = self.optimizer.state.get(param, {})
        for key in MOMENT_KEYS:
            value = state.get(key)
            if torch.is_tensor(value) and value.shape == param.shape:
                value[slots] = 0
        if not self.is_adam or "step" not in state:
            return  # RMSprop: zero moments are a fresh state; no state yet: nothing to restart
        index = self._index[id(param)]
        at = self.restarted_at.setdefault(index, torch.zeros(param.shape[0], dtype=torch.int64))
        at[slots] = self._shared_step(param)

    def _shared_step(self, param: torch.Tensor) -> int:
        """The optimiser's step count for `param` (`self._steps`); read from its state once,
        after a load, and counted on the host from then on."""
        index = self._index[id(param)]
        if index not in self._steps:
            self._steps[index] = int(self.optimizer.state[param]["step"])
        return self._steps[index]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        if not self.restarted_at:
            self._step_runs()
            return
        params = self._param_list
        # slots restarted at some step > 0 (a restart at 0 is the optimiser's own start)
        young = {i: (at > 0).nonzero().flatten() for i, at in self.restarted_at.items()}
        before = {i: params[i].data[slots].clone() for i, slots in young.items()}
        self._step_runs()
        for i, slots in young.items():
            self._fresh_update(params[i], self.restarted_at[i][slots], slots, before[i])
        self._forget_grown_slots(params)

    def _step_runs(self) -> None:
        """`optimizer.step()`, applied to each run's block of every parameter in turn (see
        the module docstring); a run alone (R = 1) goes through the same calls."""
        r_runs = self.n_runs
        for group in self.optimizer.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p, group) for p in params]
            counts = [self._shared_step(p) for p in params]
            steps = [state["step"] for state in states]
            # the shared step counters advance once per update: the first run advances them,
            # the others step copies taken before
            copies = [[s.clone() for s in steps] for _ in range(r_runs - 1)]
            for r in range(r_runs):
                def own(t: torch.Tensor, r: int = r) -> torch.Tensor:
                    return t.view(r_runs, -1)[r]
                run_steps = steps if r == 0 else copies[r - 1]
                grads = [own(p.grad) for p in params]
                if self.is_adam:
                    adam(
                        [own(p) for p in params], grads, [own(st["exp_avg"]) for st in states],
                        [own(st["exp_avg_sq"]) for st in states], [], run_steps,
                        foreach=group["foreach"], fused=group["fused"], amsgrad=False,
                        beta1=group["betas"][0], beta2=group["betas"][1], lr=group["lr"],
                        weight_decay=0.0, eps=group["eps"], maximize=False)
                else:
                    rmsprop(
                        [own(p) for p in params], grads, [own(st["square_avg"]) for st in states], [], [],
                        run_steps, foreach=group["foreach"], lr=group["lr"], alpha=group["alpha"],
                        eps=group["eps"], weight_decay=0.0, momentum=0.0, centered=False)
            for p, count in zip(params, counts):
                self._steps[self._index[id(p)]] = count + 1

    def _state(self, param: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The optimiser's state for `param`, created as torch creates it on a first step."""
        state = self.optimizer.state[param]
        if not state:
            fused = bool(group.get("fused"))
            # torch keeps the step on the parameter's device for fused Adam, on the host otherwise
            state["step"] = torch.zeros((), dtype=torch.float32, device=param.device if fused else "cpu")
            self._steps[self._index[id(param)]] = 0
            if self.is_adam:
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            else:
                state["square_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def _fresh_update(self, param: torch.Tensor, restarted_at: torch.Tensor, slots: torch.Tensor,
                      old: torch.Tensor) -> None:
        """Overwrite `slots` of `param` with `old` moved by a fresh Adam's step of age k."""
        if slots.numel() == 0 or param.grad is None:
            return  # torch skipped this parameter
        group = self._group_of(param)
        beta1, beta2 = group["betas"]
        state = self.optimizer.state[param]
        shared = self._shared_step(param)
        age = (shared - restarted_at).to(torch.float64)
        shape = (-1,) + (1,) * (param.dim() - 1)
        # the restart steps are host bookkeeping; the corrections join the moments on their device
        step_size = (group["lr"] / (1 - beta1 ** age)).view(shape).to(device=param.device, dtype=param.dtype)
        correction2 = (1 - beta2 ** age).sqrt().view(shape).to(device=param.device, dtype=param.dtype)
        m, v = state["exp_avg"][slots], state["exp_avg_sq"][slots]
        denom = v.sqrt() / correction2 + group["eps"]
        param.data[slots] = old - step_size * m / denom

    def _forget_grown_slots(self, params: list[torch.nn.Parameter]) -> None:
        for index in list(self.restarted_at):
            param = params[index]
            beta1, beta2 = self._group_of(param)["betas"]
            shared = self._shared_step(param)
            at = self.restarted_at[index]
            age = (shared - at).to(torch.float64)
            same = ((beta1 ** age - beta1 ** shared).abs() < _NEGLIGIBLE) & \
                   ((beta2 ** age - beta2 ** shared).abs() < _NEGLIGIBLE)
            at[same] = 0
            if not (at > 0).any():
                del self.restarted_at[index]

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(),
                "restarted_at": {i: t.clone() for i, t in self.restarted_at.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._steps = {}  # read again from the loaded states, once each
        if "optimizer" not in state:  # a checkpoint from before per-slot restarts
            self.optimizer.load_state_dict(state)
            self.restarted_at = {}
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.restarted_at = {int(i): t.to("cpu", copy=True) for i, t in state["restarted_at"].items()}
