"""The rows of a batch that hold real steps, packed per slot, so padding costs no row-wise work.

A replay batch is cut to its longest episode; the shorter episodes are zero-padded to that
length, so a third or more of its (step, episode) rows are padding (docs/performance.md).
Row-wise layers (the agents' input layer, input gates and output head, the mixer) compute
every row on its own, so they only need the real ones. `ActiveRows` gathers, for every slot,
the rows that are active at each step into one dense block, time-major (step 0's active rows,
then step 1's, ...), and scatters results back to the full layout, zeros elsewhere.

Why this keeps a run's numbers the same alone and in a group: a slot's packed rows are
exactly the rows its run has alone, in the same order, wherever in the batch they sit. A
group packs all its slots into one tensor of the longest slot's row count, so a shorter slot
gets trailing filler rows; those rows' outputs are never read (their gradients are exact
zeros), and trailing rows leave every real row's bits unchanged (`pps.nets.row_sums`).
Filler rows are copies of the slot's own inactive rows (finite values), not fresh zeros, so
that packing is one gather; what they compute lands on padded positions, which the loss
masks by multiplying by 0 (so they must stay finite) and whose gradients are exact zeros.

Compared with computing every row, packing changes which rows share a 128-row chunk, so a
run's last bits differ from the unpacked computation (the same maths, summed in another
order), as any change of the row order does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from pps.devices import upload
from pps.nets.row_sums import padded_rows


@dataclass(frozen=True)
class ActiveRows:
    """Which rows of a `[S, T * M]` time-major layout (T steps of M rows per slot) are active.

    `index` `[S, P]`: for each slot, the flat positions (in `[S * T * M]`) of its active rows
    in time-major order, then filler positions. P is the most active rows of any slot,
    rounded up to whole `ROW_CHUNK`s: packed tensors then need no further padding in
    `SlotAffine` (which would copy them). Filler positions are the slot's inactive rows, in
    order, so the first `min(P, T * M)` of a slot's positions are distinct; past that (a
    slot with fewer rows than P) the last one repeats, and only `pack` reads those.
    `counts` `[S]`: each slot's active rows. `size`: the rows of the layout `index` points
    into (`S * T * M`, unless `through` moved it into a larger one).
    """

    index: torch.Tensor
    counts: torch.Tensor
    rows: int  # T * M, each slot's rows in the time-major layout
    size: int

    @classmethod
    def from_mask(cls, active: torch.Tensor) -> ActiveRows:
        """`active` `[S, T * M]` bool, time-major per slot.

        P, a shape, is read from the mask's values: on a GPU that read waits for the device,
        so the learner plans its rows from the host's copy of a batch's masks and moves the
        result over (`to`; `pps.learner.Learner.prepare`)."""
        s, rows = active.shape
        counts = active.sum(dim=1)
        packed = padded_rows(int(counts.max().item())) if s else 0
        # a stable sort of "inactive" puts each slot's active rows first, in their order,
        # then its inactive rows (the filler), also in order
        order = torch.argsort((~active).to(torch.uint8), dim=1, stable=True)[:, :packed]
        if packed > rows:
            order = torch.cat([order, order[:, -1:].expand(s, packed - rows)], dim=1)
        offsets = torch.arange(s, device=active.device).unsqueeze(1) * rows
        return cls(order + offsets, counts, rows, s * rows)

    def to(self, device: torch.device) -> ActiveRows:
        """The same rows with their index tensors on `device` (`pps.devices.upload`)."""
        return dataclasses.replace(self, index=upload(self.index, device), counts=upload(self.counts, device))

    @property
    def n_slots(self) -> int:
        return self.index.shape[0]

    @property
    def packed(self) -> int:
        """P, the packed rows of every slot."""
        return self.index.shape[1]

    @property
    def fraction(self) -> float:
        """Active rows over all rows: the share of row-wise work packing keeps."""
        return float(self.counts.sum().item()) / max(1, self.n_slots * self.rows)

    def through(self, positions: torch.Tensor, size: int | None = None) -> ActiveRows:
        """The same rows in another layout: `positions` `[S * T * M]` gives each time-major
        slot row's flat position in a layout of `size` rows (default: as many), e.g. the
        batch's own `[B, T, N]` order, so `pack` and `unpack` read and write that layout
        directly, without first copying it into slot order."""
        size = positions.numel() if size is None else size
        return ActiveRows(positions[self.index], self.counts, self.rows, size)

    def shifted(self, offset: int) -> ActiveRows:
        """Every row `offset` places further on in the same layout (e.g. the next step's state)."""
        return dataclasses.replace(self, index=self.index + offset)

    def pack(self, x: torch.Tensor, feature_dims: int = 1) -> torch.Tensor:
        """The active rows of `x`, whose leading dimensions (all but the last `feature_dims`)
        flatten to this index's layout -> `[S, P, *features]`."""
        rest = x.shape[x.dim() - feature_dims:] if feature_dims else ()
        flat = x.reshape(self.size, *rest)
        return flat.index_select(0, self.index.reshape(-1)).view(self.n_slots, self.packed, *rest)

    def unpack(self, y: torch.Tensor) -> torch.Tensor:
        """`[S, P, *f]` -> `[size, *f]` in this index's layout: active rows in place,
        zeros elsewhere, except that filler rows land on inactive positions (finite values
        that never reach an active row; see the module docstring)."""
        rest = y.shape[2:]
        distinct = min(self.packed, self.rows)
        full = y.new_zeros(self.size, *rest)
        return full.index_copy_(0, self.index[:, :distinct].reshape(-1), y[:, :distinct].reshape(-1, *rest))

    def keep(self) -> torch.Tensor:
        """`[S, P]` float: 1 on active rows, 0 on filler."""
        positions = torch.arange(self.packed, device=self.index.device)
        return (positions < self.counts.unsqueeze(1)).float()
