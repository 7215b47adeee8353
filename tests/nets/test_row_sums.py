"""Row arithmetic that trailing rows cannot change (`pps.nets.row_sums`), the base of exact
run groups.

Known answers: the plain sums and matmuls as reference values (equal to float rounding),
and the same bits with and without appended rows, for a run's slots alone and stacked
among other runs' slots (groups of 1, 2 and 5, the run first or last). `exactness`-marked
tests are rerun under every BLAS and vector code path the machine can force
(`test_exactness_paths.py`).
"""

from __future__ import annotations

import pytest
import torch

from pps.nets.row_sums import ROW_CHUNK, SlotAffine, padded_rows, row_chunks, row_sum

pytestmark = pytest.mark.exactness

ROWS = [1, 31, ROW_CHUNK - 1, ROW_CHUNK, ROW_CHUNK + 1, 385, 3 * ROW_CHUNK + 17]
PADS = [1, 16, ROW_CHUNK, 300]


def _with_zero_rows(x: torch.Tensor, extra: int) -> torch.Tensor:
    return torch.cat([x, x.new_zeros(x.shape[0], extra, *x.shape[2:])], dim=1)


def test_row_chunks_pads_to_whole_chunks_with_zeros():
    x = torch.arange(2 * 130, dtype=torch.float32).view(2, 130)
    chunks = row_chunks(x)
    assert chunks.shape == (2, 2, ROW_CHUNK)
    assert torch.equal(chunks.reshape(2, -1)[:, :130], x)
    assert not chunks.reshape(2, -1)[:, 130:].any()


@pytest.mark.parametrize("k", ROWS)
def test_row_sum_is_the_sum_and_ignores_appended_zero_rows(k):
    torch.manual_seed(k)
    x = torch.randn(3, k, 5)
    torch.testing.assert_close(row_sum(x), x.sum(dim=1), rtol=1e-5, atol=1e-5)
    for extra in PADS:
        assert torch.equal(row_sum(_with_zero_rows(x, extra)), row_sum(x))


@pytest.mark.parametrize("k, whole", [(1, 128), (127, 128), (128, 128), (129, 256), (1000, 1024)])
def test_padded_rows_rounds_up_to_whole_chunks(k, whole):
    assert padded_rows(k) == whole


def test_plain_sums_do_change_with_appended_zero_rows():
    """Why the module exists: torch's and BLAS's own sums over rows round differently when
    zero rows follow (at least once over these sizes), so exactness cannot rest on them."""
    torch.manual_seed(0)
    sums = matmuls = 0
    for k in ROWS:
        x, g = torch.randn(3, k, 64), torch.randn(3, k, 48)
        for extra in PADS:
            xp, gp = _with_zero_rows(x, extra), _with_zero_rows(g, extra)
            sums += not torch.equal(g.sum(dim=1), gp.sum(dim=1))
            matmuls += not torch.equal(torch.bmm(g.transpose(1, 2), x), torch.bmm(gp.transpose(1, 2), xp))
    assert sums > 0 and matmuls > 0


def test_a_plain_matmul_rounds_a_row_differently_when_rows_follow():
    """And why the forward pads too: BLAS picks blocking and tail kernels from the row count,
    so row i of a product can change in its last bit when more rows follow (seen on Intel and
    AMD CPUs, with every MKL code path), though each row is its own dot products."""
    torch.manual_seed(0)
    changed = 0
    for n_in, n_out in [(15, 64), (64, 192), (64, 9)]:
        w, b = torch.randn(1, n_out, n_in), torch.randn(1, n_out)
        for k in (1, 5, 17, 129, 385, 1111):
            x = torch.randn(1, k, n_in)
            alone = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            for extra in (1, 3, 7, 64, 300, 1000):
                more = torch.baddbmm(b.unsqueeze(1), torch.cat([x, torch.randn(1, extra, n_in)], 1), w.transpose(1, 2))
                changed += not torch.equal(more[:, :k], alone)
    if changed == 0:
        pytest.skip("this BLAS rounds every row alike whatever follows; the padding is harmless here")


def _grads(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, grad: torch.Tensor):
    x, weight, bias = (t.detach().clone().requires_grad_(True) for t in (x, weight, bias))
    y = SlotAffine.apply(x, weight, bias)
    return y, torch.autograd.grad(y, (x, weight, bias), grad)


@pytest.mark.parametrize("n_out", [1, 9, 192])
@pytest.mark.parametrize("k", [37, 385, 3 * ROW_CHUNK + 17])
def test_slot_affine_equals_a_linear_layer_and_ignores_zero_rows_and_other_slots(n_out, k):
    torch.manual_seed(n_out + k)
    n_in, slots = 24, 5
    x, weight, bias = torch.randn(slots, k, n_in), torch.randn(slots, n_out, n_in), torch.randn(slots, n_out)
    grad = torch.randn(slots, k, n_out)
    y, (gx, gw, gb) = _grads(x, weight, bias, grad)

    # a linear layer per slot, with autograd's own gradients
    ref_x, ref_w, ref_b = (t.clone().requires_grad_(True) for t in (x, weight, bias))
    ref = torch.baddbmm(ref_b.unsqueeze(1), ref_x, ref_w.transpose(1, 2))
    ref_grads = torch.autograd.grad(ref, (ref_x, ref_w, ref_b), grad)
    torch.testing.assert_close(y, ref.detach(), rtol=1e-5, atol=1e-5)
    for mine, theirs in zip((gx, gw, gb), ref_grads):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)

    # the same bits with zero rows appended (a group's padding), ...
    for extra in PADS:
        y_pad, (gx_pad, gw_pad, gb_pad) = _grads(_with_zero_rows(x, extra), weight, bias, _with_zero_rows(grad, extra))
        assert torch.equal(y_pad[:, :k], y)
        assert torch.equal(gx_pad[:, :k], gx) and torch.equal(gw_pad, gw) and torch.equal(gb_pad, gb)
    # ... and for slots 1..2 computed without the other slots (a run alone)
    y_own, (gx_own, gw_own, gb_own) = _grads(x[1:3], weight[1:3], bias[1:3], grad[1:3])
    assert torch.equal(y_own, y[1:3])
    assert torch.equal(gx_own, gx[1:3]) and torch.equal(gw_own, gw[1:3]) and torch.equal(gb_own, gb[1:3])


def _in_a_group(own: torch.Tensor, runs: int, position: int, rows: int, seed: int) -> torch.Tensor:
    """`own` ([S_run, K, *f]) as run `position` of `runs` stacked runs with `rows` >= K rows
    each: other runs hold random values, every run's rows past K are random too (a group's
    padded steps are not zeros once they pass a layer with a bias)."""
    gen = torch.Generator().manual_seed(seed)
    s, k = own.shape[:2]
    group = torch.randn(runs * s, rows, *own.shape[2:], generator=gen)
    group[position * s:(position + 1) * s, :k] = own
    return group


@pytest.mark.parametrize("runs, position", [(1, 0), (2, 1), (5, 0), (5, 4)])
@pytest.mark.parametrize("n_in, n_out", [(15, 64), (64, 192), (64, 9), (32, 1)])
@pytest.mark.parametrize("per_run_slots", [1, 3])
def test_a_runs_rows_are_the_same_bits_alone_and_in_any_group(runs, position, n_in, n_out, per_run_slots):
    """A run's forward rows, input gradient rows and parameter gradients do not depend on
    the other runs of its group nor on the rows its group appends (their gradients zero, as
    the masked loss makes them)."""
    torch.manual_seed(n_in * n_out + runs)
    for k, extra in [(37, 91), (385, 300), (1111, 17)]:
        x, grad = torch.randn(per_run_slots, k, n_in), torch.randn(per_run_slots, k, n_out)
        w, b = torch.randn(per_run_slots, n_out, n_in), torch.randn(per_run_slots, n_out)
        y, (gx, gw, gb) = _grads(x, w, b, grad)

        gx_in = _in_a_group(x, runs, position, k + extra, seed=k)
        g_grad = _in_a_group(grad, runs, position, k + extra, seed=k + 1)
        g_grad[:, k:] = 0
        g_w, g_b = _in_a_group(w, runs, position, n_out, seed=k + 2), torch.randn(runs * per_run_slots, n_out)
        g_w[position * per_run_slots:(position + 1) * per_run_slots] = w
        g_b[position * per_run_slots:(position + 1) * per_run_slots] = b
        gy, (ggx, ggw, ggb) = _grads(gx_in, g_w, g_b, g_grad)
        own = slice(position * per_run_slots, (position + 1) * per_run_slots)
        assert torch.equal(gy[own, :k], y)
        assert torch.equal(ggx[own, :k], gx)
        assert torch.equal(ggw[own], gw) and torch.equal(ggb[own], gb)
