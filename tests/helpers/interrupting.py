"""A training loop that stops as a killed run would: after a given number of iterations."""

from __future__ import annotations

from collections.abc import Callable

from pps.train import Trainer


def iteration_interrupted_after(n: int) -> Callable[[Trainer], None]:
    """A `Trainer.iteration` that runs the real one `n` times, then raises KeyboardInterrupt
    (what Ctrl-C or a scheduler's SIGINT does mid-run)."""
    real = Trainer.iteration
    calls = {"n": 0}

    def iteration(self: Trainer) -> None:
        calls["n"] += 1
        if calls["n"] > n:
            raise KeyboardInterrupt
        real(self)

    return iteration
