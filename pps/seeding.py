"""One seed, many independent streams.

`seed_everything` fixes python, numpy and torch's global generators; each consumer that
draws random numbers (parameter init, exploration, replay sampling, the train / test /
swap-evaluation envs, the envs of the absolute evaluation at the end) gets its own stream
derived from the run seed with numpy's `SeedSequence`, so adding evaluations or changing one
consumer never shifts another. A new stream goes at the end of `STREAMS`: `spawn` numbers
its children in order, so the streams before it keep their seeds.
"""

from __future__ import annotations

import random

import numpy as np
import torch

STREAMS = ("init", "explore", "replay", "train_env", "test_env", "swap_env", "absolute_env")
# Every stream seed fits an unsigned 32-bit integer, the seed range of every backend
# (`pps.envs.seeds.SEED_LIMIT`, which also bounds the run seed in `pps.config`).


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def stream_seeds(seed: int) -> dict[str, int]:
    """A 32-bit seed per named stream, the same for the same run seed on every machine."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: int(child.generate_state(1, dtype=np.uint32)[0]) for name, child in zip(STREAMS, children)}

