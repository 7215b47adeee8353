"""Sums over rows whose bits do not depend on how many zero rows follow (DESIGN §3, run groups).

A run group cuts each replay batch to the longest episode of *any* of its runs, so a run's
batch in a group is its batch alone plus zero-padded time steps; with rows ordered
time-major (all of step 0, then step 1, ...) they are extra zero rows at the end. Forward
matmuls compute each row on its own and are unaffected. Every sum *over* rows is not: a
layer's weight gradient is a matmul whose inner dimension is the rows, and MKL blocks that
dimension differently once it passes a few hundred (measured: appending zero rows changes
the result from K = 385 rows on); torch's vectorised reductions group partial sums by length
too (a bias gradient over 31 rows changes when zeros follow). Exact zeros, different rounding.

The remedy: cut the rows into chunks of exactly `ROW_CHUNK` (the last one zero-padded), reduce
every chunk with the same kernel at the same shape, and add the chunk results one after
another. A chunk's result depends only on its contents, and a trailing all-zero chunk adds
exactly 0, so a run's sums are the same bits whatever padding its group adds. Costs: at most
`ROW_CHUNK - 1` zero rows per sum and one small add per chunk.
"""

from __future__ import annotations

import torch

# Rows per chunk: well below MKL's inner blocking (384), a multiple of the vector width.
ROW_CHUNK = 128


def row_chunks(x: torch.Tensor, chunk: int = ROW_CHUNK) -> torch.Tensor:
    """`[S, K, *f]` -> `[S, ceil(K / chunk), chunk, *f]`, zero-padded to whole chunks."""
    s, k = x.shape[:2]
    n = max(1, -(-k // chunk))
    pad = n * chunk - k
    if pad:
        x = torch.cat([x, x.new_zeros(s, pad, *x.shape[2:])], dim=1)
    return x.reshape(s, n, chunk, *x.shape[2:])


def add_in_order(parts: torch.Tensor) -> torch.Tensor:
    """`[S, n, *f]` -> `[S, *f]`: ((p0 + p1) + p2) + ..., left to right whatever n is."""
    total = parts[:, 0]
    for i in range(1, parts.shape[1]):
        total = total + parts[:, i]
    return total


def row_sum(x: torch.Tensor) -> torch.Tensor:
    """`x.sum(dim=1)` for `[S, K, *f]`, the same bits when zero rows are appended."""
    return add_in_order(row_chunks(x).sum(dim=2))


class SlotAffine(torch.autograd.Function):
    """`bias + x @ weight^T` per slot (`x [S, K, in]`, `weight [S, out, in]`, `bias [S, out]`)
    whose weight and bias gradients are `row_sum`-style chunked sums over the K rows.

    One output (QMIX's state-value head) is a row-wise dot product rather than a matmul:
    torch sends a batched matrix-vector product to a different BLAS kernel for one slot than
    for several, so a run would round differently alone and in a group.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return affine(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        single = weight.shape[1] == 1
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = grad * weight if single else torch.bmm(grad, weight)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            grad_w, grad_b = _chunked_parameter_grads(x, grad)
        return grad_x, grad_w, grad_b


def _chunked_parameter_grads(x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight `[S, out, in]` and bias `[S, out]` gradients, summed chunk by chunk over the rows.

    Each chunk is a `[S, C, ...]` slice of the rows (the last one copied and zero-padded to C
    rows), so every chunk's matmul has one shape and, per slot, one memory layout (rows of
    `in` contiguous floats): BLAS picks its kernel by shape and strides, and a run's
    gradients must not depend on its group's. The running sum is added to chunk by chunk.
    """
    k = x.shape[1]
    x, grad = x.contiguous(), grad.contiguous()
    single = grad.shape[-1] == 1
    grad_w = grad_b = None
    for start in range(0, k, ROW_CHUNK):
        xc, gc = x[:, start:start + ROW_CHUNK], grad[:, start:start + ROW_CHUNK]
        if xc.shape[1] < ROW_CHUNK:
            xc, gc = row_chunks(xc)[:, 0], row_chunks(gc)[:, 0]
        # one output: a matrix-vector product would take another BLAS kernel; elementwise instead
        part_w = (gc * xc).sum(dim=1, keepdim=True) if single else torch.bmm(gc.transpose(1, 2), xc)
        part_b = gc.sum(dim=1)
        grad_w = part_w if grad_w is None else grad_w + part_w
        grad_b = part_b if grad_b is None else grad_b + part_b
    return grad_w, grad_b


def affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The forward of `SlotAffine` without autograd (acting, evaluation, target networks)."""
    if weight.shape[1] == 1:
        return (x * weight).sum(dim=-1, keepdim=True) + bias.unsqueeze(1)
    # baddbmm fuses bias and matmul: [S, K, out] = bias[S, 1, out] + x @ W^T
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def slot_affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """`SlotAffine` where a gradient is wanted, the plain forward otherwise."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return SlotAffine.apply(x, weight, bias)
    return affine(x, weight, bias)
