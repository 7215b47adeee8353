"""The seeds a backend takes: unsigned 32-bit, and one per env of a vectorised batch.

StarCraft II takes its game seed through a uint32 protobuf field
(`RequestCreateGame.random_seed`), and numpy's legacy global generator and JAX's `PRNGKey`
take 32 bits as well, so every seed the suite hands an env fits an unsigned 32-bit integer.
The limit lives with the envs that impose it; run seeds (`pps.config`) and stream seeds
(`pps.seeding`) are bounded by the same one. Import-cheap: no torch, jax or smac.
"""

from __future__ import annotations

SEED_LIMIT = 2**32


def env_seeds(seed: int, n_envs: int) -> list[int]:
    """The game seed of each of `n_envs` envs that share one stream seed: `seed + i`, wrapped
    into the uint32 range so that a stream seed near the top never overflows."""
    return [(int(seed) + i) % SEED_LIMIT for i in range(n_envs)]
