"""Row sums that zero padding cannot change (`pps.nets.row_sums`), the base of exact run groups.

Known answers: the plain sums as reference values (equal to float rounding), and the same
bits with and without appended zero rows, for slots alone and stacked with other slots.
"""

from __future__ import annotations

import pytest
import torch

from pps.nets.row_sums import ROW_CHUNK, SlotAffine, row_chunks, row_sum

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
