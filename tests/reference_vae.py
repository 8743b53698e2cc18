"""A plain implementation of the VAE's forward pass: nn.GRU modules called as they are,
the decoder one tick at a time, the ar-VAE term as the spec writes it. It uses a sent.dmelodies.vae.VAE's
parameters, so outputs compare directly; the test oracle for the fused implementation and the
baseline of bench/bench_vae.py."""

import torch
from torch.nn import functional as F

from sent.dmelodies.vae import ATTRIBUTE_SCALE, NUM_ATTRIBUTES


def plain_encode(model, tokens):
    enc = model.encoder
    _, hidden = enc.rnn(enc.embedding(tokens))
    h = hidden.transpose(0, 1).reshape(tokens.shape[0], -1)
    return enc.mean(h), enc.log_std(h)


def plain_decode(model, z, targets=None):
    """Logits (B, 16, 62), one tick per nn.GRU call; teacher-forced when targets are given."""
    dec = model.decoder
    batch = z.shape[0]
    tick_h, context = dec.bars(z)
    previous = dec.first_input.expand(batch, 10)
    logits = []
    for bar in range(2):
        h = tick_h[bar]
        for tick in range(8):
            out, h = dec.tick_rnn(torch.cat([previous, context[bar]], dim=1).unsqueeze(1), h)
            step_logits = F.relu(dec.tick_to_logits(out[:, 0]))
            logits.append(step_logits)
            token = targets[:, 8 * bar + tick] if targets is not None else step_logits.argmax(dim=1)
            previous = dec.embedding(token)
    return torch.stack(logits, dim=1)


def plain_ar_regulariser(z, labels, delta):
    """The ar-VAE attribute term as the spec writes it, left to autograd (without gamma)."""
    zk = z[:, :NUM_ATTRIBUTES]
    a = labels.float() / ATTRIBUTE_SCALE
    dz = zk[:, None, :] - zk[None, :, :]
    da = a[:, None, :] - a[None, :, :]
    return (torch.tanh(delta * dz) - torch.sign(da)).abs().mean(dim=(0, 1)).sum()
