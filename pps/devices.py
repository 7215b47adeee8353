"""Where every tensor lives: the learner on `config.device`, envs, replay and RNG on the host.

One device holds the learner (agent and mixer networks, their targets, optimiser moments and
each sampled batch): `config.device`, 'cpu' or 'cuda'. Everything else stays on the host
whatever that device is, for reasons that do not change with it:

* Envs (`ENV_DEVICE`): the jaxmarl backends run their jitted step on CPU jax (SMAC is a
  StarCraft II process), and the runner's per-episode bookkeeping, exploration draws and
  recorded episodes stay beside them. A step moves the agents' input to the learner device
  once and the Q-values back once; the env needs its actions on the host anyway, so that
  copy back is the env's own round trip, not an extra one.
* Replay: the buffer is host memory (thousands of padded episodes, committed page by page
  as they arrive; `pps.buffer`). Each learner update copies its sampled batch to the device
  in the buffer's compact dtypes (float16 observations, uint8 actions, bool masks), which
  the device then widens (`pps.buffer.EpisodeBatch.to_learner`), together with the packing
  of the batch's rows, which the host plans from its own copy of the masks
  (`pps.learner.Learner.prepare`). On CUDA these copies go through `upload`.
* RNG: `torch.Generator`s (initialisation, exploration, replay sampling) are CPU generators,
  so a run draws the same numbers on every device, and checkpoints store their states as
  CPU tensors, which is the only kind `Generator.set_state` takes.
* Checkpoints and models are written with host tensors and read with `map_location='cpu'`;
  loading a learner state then copies each tensor into the device-resident networks and
  optimiser (torch's `load_state_dict`s do this), and nothing else goes near the device. A
  run may therefore resume on another device (`pps.run_folder.RESUMABLE_DIFFERENCES`).

The learner never reads a value back from the device during an update: an update's losses
stay there until training logs or checkpoints them (`pps.train.trainer.Trainer.read_losses`),
so the host queues one update after the other without waiting for the GPU to finish each.

Moving a tensor to the device it is already on returns it unchanged, so on the CPU all of
this is free and changes no bit of a run.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from pps.errors import UserError

HOST = torch.device("cpu")
# The device every env hands its tensors out on and takes its actions on.
ENV_DEVICE = HOST
# cuBLAS needs a fixed workspace to be deterministic (see `prepare_cuda`).
CUBLAS_WORKSPACE = ":4096:8"


def learner_device(name: str) -> torch.device:
    """`config.device` as a torch device; a CUDA one is checked and made deterministic."""
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device: cuda was asked for, but torch sees no CUDA device. Use --set device=cpu, "
                            "or install a CUDA build of torch (README: On a GPU).")
        prepare_cuda()
    return device


def upload(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor`, a host tensor, on `device`, without making the host wait for the copy.

    On CUDA the copy starts from page-locked ("pinned") memory with `non_blocking`: from
    ordinary pageable memory CUDA stages the bytes and the host waits until they are across;
    from pinned memory the host returns at once and later work on the device's stream runs
    after the copy. `pin_memory()` is itself one host-side copy into memory that torch's
    caching host allocator reuses, and keeps until the transfer has finished. Elsewhere, or
    for a tensor already on a GPU, a plain `.to` (on the CPU, the tensor itself: nothing is
    copied)."""
    if device.type != "cuda" or tensor.device.type == "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def prepare_cuda() -> None:
    """Make a GPU run repeatable, so that a resumed run continues exactly and one seed gives
    one result on one machine: deterministic kernels where torch has them (the backward of
    gather and indexing otherwise adds with atomics, in a different order every run), with a
    warning for any op that has none, and cuBLAS's fixed workspace (read when cuBLAS starts,
    so this runs before the first device matmul). Deterministic mode would also fill every
    `torch.empty` with NaN; the replay buffer is `torch.empty` precisely so that its pages are
    committed only as episodes arrive, so that filling stays off."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def env_device(env: Any) -> torch.device:
    """The device an env's tensors live on, which must be `ENV_DEVICE` (see the module
    docstring): the runner records episodes and draws exploration beside the env."""
    device = torch.device(getattr(env, "device", ENV_DEVICE))
    if device != ENV_DEVICE:
        raise ValueError(f"{env!r} hands out tensors on {device}; envs run on {ENV_DEVICE} "
                         f"(pps.devices.ENV_DEVICE) and the learner's device is set apart")
    return device


def to_host(value: Any) -> Any:
    """`value` with every tensor (in nested dicts, lists and tuples) on the host, for files
    that must load anywhere. Host tensors are returned as they are, not copied."""
    if torch.is_tensor(value):
        return value.to(HOST)
    if isinstance(value, dict):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_host(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_host(v) for v in value)
    return value


# CPU flags (Linux /proc/cpuinfo) of the instruction sets that multiply bfloat16 natively.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(device: str, cpuinfo: str | None = None) -> bool | None:
    """Whether `device` multiplies bfloat16 in hardware: a CUDA device of compute capability
    8.0 or later, a CPU with AVX512-BF16 or AMX; None where the CPU's flags cannot be read.
    Elsewhere torch emulates bfloat16 and `matmul_precision: bf16` is slower than fp32."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return None
    flags = {word for line in cpuinfo.splitlines() if line.startswith("flags") for word in line.split()}
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)
