"""Multi-layer (bi)directional GRU with a hand-written recurrence backward, on nn.GRU's parameters.

Why: the decoder's free-running pass and its teacher-forced twin must share dropout masks, which
nn.GRU cannot take; and batching both directions into one matmul per step, with one autograd node
per layer, uses two CPU threads better than nn.GRU (1.1-1.4x per VAE step, bench/bench_vae.py;
on one thread both sit on the same arithmetic floor). Input projections of whole sequences are
ordinary matmuls left to autograd; the recurrence runs gate maths in place into preallocated
buffers, and the hidden-weight gradient of all steps is one matmul after the loop. Results equal
nn.GRU's (same equations and parameter layout; tests/test_gru.py checks values and gradients),
so model files stay nn.GRU state dicts.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def gates(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, rz: torch.Tensor, n: torch.Tensor,
          h_out: torch.Tensor) -> None:
    """One GRU step in place: rz = sigmoid(gi_rz + gh_rz), n = tanh(gi_n + r * gh_n),
    h_out = (1 - z) * n + z * h, where gi, gh (..., 3H) are the input and hidden projections."""
    hidden = h.shape[-1]
    torch.add(gi[..., :2 * hidden], gh[..., :2 * hidden], out=rz).sigmoid_()
    torch.mul(rz[..., :hidden], gh[..., 2 * hidden:], out=n).add_(gi[..., 2 * hidden:]).tanh_()
    torch.sub(h, n, out=h_out).mul_(rz[..., hidden:]).add_(n)


def _steps(x: torch.Tensor, directions: int) -> torch.Tensor:
    """Time order (T, B, D*F) -> each direction in its step order (D, T, B, F)."""
    if directions == 1:
        return x.unsqueeze(0)
    half = x.shape[-1] // 2
    return torch.stack([x[..., :half], x[..., half:].flip(0)])


def _times(x: torch.Tensor) -> torch.Tensor:
    """The inverse of _steps: (D, T, B, F) -> (T, B, D*F)."""
    return x[0] if x.shape[0] == 1 else torch.cat([x[0], x[1].flip(0)], dim=2)


class _Recurrence(torch.autograd.Function):
    """The GRU recurrence of one layer, directions batched: gi (T, B, D*3H) input projections
    (with b_ih) in time order, h0 (D, B, H), w_hh (D, 3H, H), b_hh (D, 3H)
    -> (output (T, B, D*H) in time order, h_n (D, B, H)). Reordering for the reverse direction
    happens inside, so autograd sees one node and no slicing of the large tensors."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh):
        ctx.set_materialize_grads(False)
        directions, three_h, _ = w_hh.shape
        steps, batch, hidden = gi.shape[0], gi.shape[1], three_h // 3
        gi = _steps(gi, directions)
        w_hh_t, bias_hh = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
        gh = gi.new_empty(steps, directions, batch, three_h)
        rz = gi.new_empty(steps, directions, batch, 2 * hidden)
        n = gi.new_empty(steps, directions, batch, hidden)
        hs = gi.new_empty(directions, steps, batch, hidden)
        h = h0
        for s in range(steps):
            torch.baddbmm(bias_hh, h, w_hh_t, out=gh[s])
            gates(gi[:, s], gh[s], h, rz[s], n[s], hs[:, s])
            h = hs[:, s]
        ctx.save_for_backward(h0, w_hh, hs, rz, n, gh)
        return _times(hs), hs[:, -1].clone()

    @staticmethod
    def backward(ctx, d_out, d_hn):
        h0, w_hh, hs, rz, n, gh = ctx.saved_tensors
        directions, steps, batch, hidden = hs.shape
        d_hs = None if d_out is None else _steps(d_out, directions)
        h_prev = torch.cat([h0.unsqueeze(1), hs[:, :-1]], dim=1)
        d_gi = hs.new_empty(directions, steps, batch, 3 * hidden)  # d_gh shares its r, z part
        d_ghn = hs.new_empty(directions, steps, batch, hidden)  # the n part of d_gh
        dh = d_hn.clone() if d_hn is not None else torch.zeros_like(h0)
        tmp, tmp2 = torch.empty_like(h0), torch.empty_like(h0)
        sig_grad = hs.new_empty(directions, batch, 2 * hidden)
        w_hh_rz, w_hh_n = w_hh[:, :2 * hidden], w_hh[:, 2 * hidden:]
        for s in reversed(range(steps)):
            if d_hs is not None:
                dh.add_(d_hs[:, s])
            r, z, nt = rz[s, ..., :hidden], rz[s, ..., hidden:], n[s]
            d_rz, d_n = d_gi[:, s, :, :2 * hidden], d_gi[:, s, :, 2 * hidden:]
            torch.addcmul(dh, dh, z, value=-1, out=tmp)  # dh (1 - z)
            torch.mul(tmp, nt, out=tmp2)
            torch.addcmul(tmp, tmp2, nt, value=-1, out=d_n)  # ... (1 - n^2): before tanh
            torch.mul(d_n, gh[s, ..., 2 * hidden:], out=d_rz[..., :hidden])  # d r
            torch.sub(h_prev[:, s], nt, out=tmp)
            torch.mul(dh, tmp, out=d_rz[..., hidden:])  # d z
            torch.addcmul(rz[s], rz[s], rz[s], value=-1, out=sig_grad)
            d_rz.mul_(sig_grad)  # before the sigmoids
            torch.mul(d_n, r, out=d_ghn[:, s])
            dh_next = torch.mul(dh, z)
            dh_next.baddbmm_(d_rz, w_hh_rz)
            dh = dh_next.baddbmm_(d_ghn[:, s], w_hh_n)
        d_rz_rows = d_gi[..., :2 * hidden].reshape(directions, steps * batch, 2 * hidden)
        d_ghn_rows = d_ghn.view(directions, steps * batch, hidden)
        h_prev_rows = h_prev.view(directions, steps * batch, hidden)
        d_w_hh = torch.cat([torch.bmm(d_rz_rows.transpose(1, 2), h_prev_rows),
                            torch.bmm(d_ghn_rows.transpose(1, 2), h_prev_rows)], dim=1)
        d_b_hh = torch.cat([d_rz_rows.sum(dim=1), d_ghn_rows.sum(dim=1)], dim=1)
        return _times(d_gi), dh, d_w_hh, d_b_hh


def layer_weights(rnn: nn.GRU, layer: int):
    """(w_ih, w_hh, b_ih, b_hh) of one layer, directions stacked first."""
    suffixes = [f"_l{layer}", f"_l{layer}_reverse"][:2 if rnn.bidirectional else 1]
    return tuple(torch.stack([getattr(rnn, name + s) for s in suffixes])
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def input_projection(rnn: nn.GRU, layer: int, x: torch.Tensor) -> torch.Tensor:
    """x (T, B, I) -> W_ih x + b_ih (T, B, D*3H), all directions in one matmul."""
    w_ih, _, b_ih, _ = layer_weights(rnn, layer)
    return _project(x, w_ih, b_ih)


def _project(x: torch.Tensor, w_ih: torch.Tensor, b_ih: torch.Tensor) -> torch.Tensor:
    return F.linear(x, w_ih.flatten(0, 1), b_ih.flatten())


def dropout_masks(rnn: nn.GRU, steps: int, batch: int, like: torch.Tensor) -> list[torch.Tensor] | None:
    """nn.GRU's inter-layer dropout as explicit scaled masks (steps, batch, D*H), one per layer
    boundary; None when the module is in eval mode or has no dropout."""
    if not rnn.training or rnn.dropout == 0 or rnn.num_layers == 1:
        return None
    keep = 1 - rnn.dropout
    width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
    # rand < keep: several times faster than bernoulli_ on a CPU
    return [torch.rand(steps, batch, width, dtype=like.dtype, device=like.device).lt_(keep).div_(keep)
            for _ in range(rnn.num_layers - 1)]


def gru(rnn: nn.GRU, x: torch.Tensor, h0: torch.Tensor | None = None,
        masks: list[torch.Tensor] | None = None, projected: bool = False):
    """nn.GRU's forward with rnn's parameters on time-major input x (T, B, I).

    projected: x is already layer 0's input projection (T, B, D*3H) including b_ih (callers with
    a cheaper way to form it, e.g. from an embedding table). h0 (L*D, B, H) or None for zeros;
    masks as from dropout_masks (None: no dropout).
    Returns (output (T, B, D*H) of the last layer, h_n (L*D, B, H)), as nn.GRU does.
    """
    directions, hidden = 2 if rnn.bidirectional else 1, rnn.hidden_size
    if h0 is None:
        h0 = x.new_zeros(rnn.num_layers * directions, x.shape[1], hidden)
    finals = []
    for layer in range(rnn.num_layers):
        if layer > 0 and masks is not None:
            x = x * masks[layer - 1]
        w_ih, w_hh, b_ih, b_hh = layer_weights(rnn, layer)
        gi = x if layer == 0 and projected else _project(x, w_ih, b_ih)
        x, h_n = _Recurrence.apply(gi, h0[layer * directions:(layer + 1) * directions], w_hh, b_hh)
        finals.append(h_n)
    return x, torch.cat(finals)
