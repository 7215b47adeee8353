"""Row arithmetic whose bits do not depend on how many rows follow (docs/design.md §3, run groups).

A run group cuts each replay batch to the longest episode of *any* of its runs, so a run's
batch in a group is its batch alone plus zero-padded time steps; with rows ordered
time-major (all of step 0, then step 1, ...) they are extra rows at the end. Two kinds of
kernel let those extra rows change the bits of the real ones (measured on Intel and AMD
CPUs, MKL and torch's own kernels alike):

- A matmul over rows (`[K, in] @ [in, out]`) computes each row on its own, but BLAS picks
  its blocking, its tail kernels and its thread split from K: row i of a 1,111-row product
  can differ in the last bit from row i of the same rows followed by 300 more.
- A sum *over* rows (a layer's weight and bias gradients, the loss) groups its partial sums
  by length, vectorised or blocked (appending zero rows changes it from K = 31 rows on).

The remedy, by construction rather than by the blocking of one BLAS:

- Every row-wise matmul runs on rows padded to a whole number of `ROW_CHUNK`-row chunks,
  so a row sits at the same place in the same kind of block whatever follows it.
- Every sum over rows is taken chunk by chunk: each chunk is reduced by one kernel call at
  one fixed shape (`[ROW_CHUNK, ...]`, every chunk's memory at the same alignment), and the
  chunk results are added by a pairwise tree of fixed shape (`add_in_order`). An all-zero
  chunk adds exactly 0, so trailing padding never changes a sum.

Costs: up to `ROW_CHUNK - 1` padding rows per layer and slot, and one `[S, n, out, in]`
buffer of chunk products per weight gradient.

Reduced precision (`matmuls_in`, the run key `matmul_precision`): inside it, `SlotAffine`'s
matrix multiplies (forward, input gradient, chunk products of the weight gradient) round
their inputs to bfloat16 and cast each product back to float32; everything else (biases,
the one-output head's dot product, the chunk sums, the gradients handed to autograd) stays
float32. Outside it, not one op differs from the float32 code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

# Rows per chunk: a multiple of every vector width and register block in use (8, 16, 64).
ROW_CHUNK = 128


# The dtype `SlotAffine`s applied now run their matrix multiplies in; None: the tensors' own (float32)
_MATMUL_DTYPE: ContextVar[torch.dtype | None] = ContextVar("matmul_dtype", default=None)


@contextmanager
def matmuls_in(dtype: torch.dtype) -> Iterator[None]:
    """`SlotAffine`s applied inside run their matrix multiplies in `dtype` (forward and, as
    recorded at the forward, backward). Explicit casts rather than `torch.autocast`: autocast
    hands back bfloat16 outputs, so the GRU's gates and hidden state downstream would run in
    bfloat16 too, it rounds `baddbmm`'s bias with the product, and a custom Function's
    backward runs outside it (on CPU, with bfloat16 gradients that meet float32 weights)."""
    token = _MATMUL_DTYPE.set(dtype)
    try:
        yield
    finally:
        _MATMUL_DTYPE.reset(token)


def bmm_in(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """`torch.bmm(a, b)`, or with both inputs rounded to `dtype` and the product cast back to
    `a`'s dtype (accumulated as torch's kernel for `dtype` does)."""
    if dtype is None:
        return torch.bmm(a, b)
    return torch.bmm(a.to(dtype), b.to(dtype)).to(a.dtype)


def padded_rows(k: int, chunk: int = ROW_CHUNK) -> int:
    """`k` rounded up to whole chunks (at least one)."""
    return max(1, -(-k // chunk)) * chunk


def pad_rows(x: torch.Tensor, chunk: int = ROW_CHUNK) -> torch.Tensor:
    """`[S, K, *f]` -> `[S, padded_rows(K), *f]`, zero rows appended (no copy when K is whole)."""
    s, k = x.shape[:2]
    extra = padded_rows(k, chunk) - k
    if extra == 0:
        return x.contiguous()
    return torch.cat([x, x.new_zeros(s, extra, *x.shape[2:])], dim=1)


def row_chunks(x: torch.Tensor, chunk: int = ROW_CHUNK) -> torch.Tensor:
    """`[S, K, *f]` -> `[S, ceil(K / chunk), chunk, *f]`, zero-padded to whole chunks."""
    x = pad_rows(x, chunk)
    return x.view(x.shape[0], -1, chunk, *x.shape[2:])


def add_in_order(parts: torch.Tensor) -> torch.Tensor:
    """`[S, n, *f]` -> `[S, *f]` by a pairwise tree whose shape does not depend on n: parts
    2i and 2i + 1 are added, then the pairs' sums pairwise, and so on; a part without a
    partner is carried up as it is (as if added to zero, which is exact). Every node of the
    tree sums the same parts whatever follows them, so appended zero parts leave the result
    unchanged. log2(n) vectorised adds; pairwise sums also round less than a running sum."""
    while parts.shape[1] > 1:
        n = parts.shape[1]
        pairs = parts[:, 0:n - 1:2] + parts[:, 1:n:2]
        parts = torch.cat([pairs, parts[:, n - 1:]], dim=1) if n % 2 else pairs
    return parts[:, 0]


def row_sum(x: torch.Tensor) -> torch.Tensor:
    """`x.sum(dim=1)` for `[S, K, *f]`, the same bits when zero rows are appended."""
    return add_in_order(row_chunks(x).sum(dim=2))


class SlotAffine(torch.autograd.Function):
    """`bias + x @ weight^T` per slot (`x [S, K, in]`, `weight [S, out, in]`, `bias [S, out]`)
    on whole row chunks, whose weight and bias gradients are chunked sums over the K rows.

    One output (QMIX's state-value head) is a row-wise dot product rather than a matmul:
    torch sends a batched matrix-vector product to a different BLAS kernel for one slot than
    for several, so a run would round differently alone and in a group.

    Inside `matmuls_in` its matmuls run in that dtype, the backward's too (the dtype is read
    at the forward: autograd runs the backward after the context has closed).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        k = x.shape[1]
        x = pad_rows(x)
        ctx.save_for_backward(x, weight)
        ctx.rows, ctx.dtype = k, _MATMUL_DTYPE.get()
        return affine_padded(x, weight, bias, ctx.dtype)[:, :k]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        k = ctx.rows
        grad = pad_rows(grad)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad * weight if weight.shape[1] == 1 else bmm_in(grad, weight, ctx.dtype))[:, :k]
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            grad_w, grad_b = _chunked_parameter_grads(x, grad, ctx.dtype)
        return grad_x, grad_w, grad_b


def _chunked_parameter_grads(x: torch.Tensor, grad: torch.Tensor,
                             dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight `[S, out, in]` and bias `[S, out]` gradients of rows padded to whole chunks
    (the chunk products in `dtype` when given, their sums in float32).

    All chunks of all slots go through one batched matmul of `[out, C] @ [C, in]` per
    chunk (one shape, one stride pattern, 512-byte-aligned starts), then are added by the
    fixed pairwise tree of `add_in_order`. The batch always holds two or more chunks: torch
    runs the items of a batch one BLAS call per thread, but hands a batch of one to a
    multi-threaded BLAS call, which splits this short inner dimension (the C rows) over its
    threads and rounds otherwise; a lone chunk therefore gets an all-zero partner.
    """
    s, kp, n_in = x.shape
    n_out = grad.shape[-1]
    n = kp // ROW_CHUNK
    xc = x.view(s * n, ROW_CHUNK, n_in)
    gc = grad.view(s * n, ROW_CHUNK, n_out)
    if s * n == 1:
        xc, gc = torch.cat([xc, torch.zeros_like(xc)]), torch.cat([gc, torch.zeros_like(gc)])
    if n_out == 1:  # a matrix-vector product would take another BLAS kernel; elementwise instead
        part_w = (gc * xc).sum(dim=1, keepdim=True)
    else:
        part_w = bmm_in(gc.transpose(1, 2), xc, dtype)
    part_b = gc.sum(dim=1)
    return (add_in_order(part_w[:s * n].view(s, n, n_out, n_in)), add_in_order(part_b[:s * n].view(s, n, n_out)))


def affine_padded(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """`bias + x @ weight^T` for rows already padded to whole chunks; the matmul in `dtype`
    when given (then unfused, so that the bias is added in float32, not rounded with it)."""
    if weight.shape[1] == 1:
        return (x * weight).sum(dim=-1, keepdim=True) + bias.unsqueeze(1)
    if dtype is not None:
        return bmm_in(x, weight.transpose(1, 2), dtype) + bias.unsqueeze(1)
    # baddbmm fuses bias and matmul: [S, K, out] = bias[S, 1, out] + x @ W^T
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The forward of `SlotAffine` without autograd (acting, evaluation, target networks)."""
    k = x.shape[1]
    return affine_padded(pad_rows(x), weight, bias)[:, :k]


def slot_affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, fixed_rows: bool = False) -> torch.Tensor:
    """`SlotAffine` where a gradient is wanted, the plain forward otherwise. `fixed_rows`: the
    caller's row count never depends on the group (acting), so no padding is needed."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return SlotAffine.apply(x, weight, bias)
    return affine_padded(x, weight, bias) if fixed_rows else affine(x, weight, bias)
