"""sent.dmelodies.gru against nn.GRU itself: outputs, final states and every gradient, with and without
dropout masks, both directions, given and zero initial states."""

import pytest
import torch
from torch import nn

from sent.dmelodies.gru import _Recurrence, dropout_masks, gru, input_projection

D = torch.double


def _both(rnn, x, h0, out_weight, hn_weight, ours_kwargs=None, ours_x=None):
    """(nn.GRU, sent.dmelodies.gru) each as (output, h_n, gradients of x, h0 and all parameters);
    out_weight None: the loss uses h_n only."""
    results = []
    for impl in ("torch", "ours"):
        inputs = [x] + ([h0] if h0 is not None else [])
        if impl == "torch":
            out, hn = rnn(x, h0)
        else:
            out, hn = gru(rnn, x if ours_x is None else ours_x(), h0, **(ours_kwargs or {}))
        loss = (hn * hn_weight).sum() + (0 if out_weight is None else (out * out_weight).sum())
        grads = torch.autograd.grad(loss, inputs + list(rnn.parameters()))
        results.append((out.detach(), hn.detach(), grads))
    return results


def _assert_all_close(actual, expected):
    for a, b in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("with_h0", [True, False])
def test_gru_equals_nn_gru_values_and_gradients(bidirectional, with_h0):
    torch.manual_seed(0)
    rnn = nn.GRU(10, 16, num_layers=2, bidirectional=bidirectional, dropout=0.2).to(D).eval()
    directions = 2 if bidirectional else 1
    x = torch.randn(7, 5, 10, dtype=D, requires_grad=True)
    h0 = torch.randn(2 * directions, 5, 16, dtype=D, requires_grad=True) if with_h0 else None
    (out_a, hn_a, g_a), (out_b, hn_b, g_b) = _both(
        rnn, x, h0, torch.randn(7, 5, 16 * directions, dtype=D), torch.randn(2 * directions, 5, 16, dtype=D))
    torch.testing.assert_close(out_b, out_a)
    torch.testing.assert_close(hn_b, hn_a)
    _assert_all_close(g_b, g_a)


def test_gradient_of_final_state_only():
    """The encoder uses only h_n: the recurrence gets no output gradient at all."""
    torch.manual_seed(1)
    rnn = nn.GRU(4, 8, num_layers=2, bidirectional=True).to(D)
    x = torch.randn(6, 3, 4, dtype=D, requires_grad=True)
    (_, _, g_a), (_, _, g_b) = _both(rnn, x, None, None, torch.randn(4, 3, 8, dtype=D))
    _assert_all_close(g_b, g_a)


def test_projected_input_equals_raw_input():
    torch.manual_seed(2)
    rnn = nn.GRU(6, 8, num_layers=2, bidirectional=True).to(D)
    x = torch.randn(5, 4, 6, dtype=D, requires_grad=True)
    (out_a, hn_a, g_a), (out_b, hn_b, g_b) = _both(
        rnn, x, None, torch.randn(5, 4, 16, dtype=D), torch.randn(4, 4, 8, dtype=D),
        ours_kwargs={"projected": True}, ours_x=lambda: input_projection(rnn, 0, x))
    torch.testing.assert_close(out_b, out_a)
    _assert_all_close(g_b, g_a)


@pytest.mark.parametrize("directions", [1, 2])
def test_recurrence_gradcheck(directions):
    torch.manual_seed(3)
    args = [torch.randn(*shape, dtype=D, requires_grad=True)
            for shape in [(4, 3, directions * 9), (directions, 3, 3), (directions, 9, 3), (directions, 9)]]
    assert torch.autograd.gradcheck(lambda *a: _Recurrence.apply(*a), args)


def test_dropout_masks_match_layerwise_nn_gru_with_the_same_masks():
    torch.manual_seed(4)
    rnn = nn.GRU(5, 8, num_layers=2, bidirectional=True, dropout=0.5).to(D).train()
    masks = dropout_masks(rnn, 6, 300, torch.zeros((), dtype=D))
    assert len(masks) == 1 and masks[0].shape == (6, 300, 16)
    assert set(masks[0].unique().tolist()) == {0.0, 2.0}
    assert masks[0].eq(0).float().mean().item() == pytest.approx(0.5, abs=0.02)
    # nn.GRU layer by layer, the same masks applied between them
    layers = [nn.GRU(i, 8, bidirectional=True).to(D) for i in (5, 16)]
    for k, layer in enumerate(layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            for suffix in ("", "_reverse"):
                getattr(layer, f"{name}_l0{suffix}").data.copy_(getattr(rnn, f"{name}_l{k}{suffix}"))
    x = torch.randn(6, 300, 5, dtype=D)
    mid, h_a = layers[0](x)
    want, h_b = layers[1](mid * masks[0])
    out, hn = gru(rnn, x, masks=masks)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(hn, torch.cat([h_a, h_b]))
    assert dropout_masks(rnn.eval(), 6, 300, x) is None
