"""The method table of docs/design.md §3: which agents share parameters and how they aggregate.

A method is data, not code: the learner, runner and sharing module read these flags, so a
new scheme is one row here plus (if it aggregates differently) one rule in `pps.sharing`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pps.errors import choice_error


@dataclass(frozen=True)
class Method:
    name: str
    shared_agents: bool  # one slot for all agents (standard QMIX/VDN)
    aggregation: str | None  # None, "mean", "reward_weighted", "partial_mean"
    default_mixer: str  # "qmix" or "vdn"
    label: str  # how figures and tables name it

    @property
    def aggregates(self) -> bool:
        return self.aggregation is not None


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("qmix", True, None, "qmix", "QMIX"),
        Method("vdn", True, None, "vdn", "VDN"),
        Method("qmix-ns", False, None, "qmix", "QMIX-NS"),
        Method("a-pps", False, "mean", "qmix", "A-PPS"),
        Method("rs-pps", False, "reward_weighted", "qmix", "RS-PPS"),
        Method("pp-pps", False, "partial_mean", "qmix", "PP-PPS"),
    )
}

AGGREGATING_METHODS: tuple[str, ...] = tuple(n for n, m in METHODS.items() if m.aggregates)


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise choice_error("method", name, METHODS) from None
