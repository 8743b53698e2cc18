"""The dMelodies VAE zoo: model ids, the shared architecture, regularisers, safe model files.

Facts follow ../shared/spec/vae.md. Latent dims 0..8 are bound to attributes 0..8.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

import torch
from torch import nn
from torch.nn import functional as F

from sent.dmelodies.data import FACTOR_COUNTS, SEQ_LEN, SLOTS_PER_BAR, VOCAB_SIZE
from sent.dmelodies.gru import dropout_masks, gates, gru, layer_weights
from sent.util.errors import SentError
from sent.util.io import load_torch, save_torch

LATENT_DIM = 32
NUM_ATTRIBUTES = 9
# a_k = label_k / ATTRIBUTE_SCALE[k]: labels scaled to [0, 1] for ar- and s2-VAE
ATTRIBUTE_SCALE = torch.tensor([c - 1 for c in FACTOR_COUNTS], dtype=torch.float32)
FILE_FORMAT = "sent-vae/1"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of the zoo: its type, hyper-parameters and seed; `id` is the zoo's name for it."""

    type: str
    beta: float
    gamma: float = 0.0
    delta: float = 10.0
    capacity: float = 50.0
    seed: int = 0

    @property
    def id(self) -> str:
        b, c, g, d, r = float(self.beta), float(self.capacity), float(self.gamma), float(self.delta), self.seed
        return {
            "beta-VAE": f"beta-VAE_b_{b}_c_{c}_r_{r}",
            "ar-VAE": f"ar-VAE_b_{b}_c_{c}_g_{g}_d_{d}_r_{r}",
            "interp-VAE": f"interp-VAE_n_1_b_{b}_c_{c}_g_{g}_r_{r}",
            "s2-VAE": f"s2-VAE_b_{b}_c_{c}_g_{g}_r_{r}",
        }[self.type]

    @property
    def setting(self) -> str:
        """The id without the seed: the row name of the result tables."""
        return self.id.rsplit("_r_", 1)[0]

    @classmethod
    def parse(cls, model_id: str) -> "ModelSpec":
        num = r"(\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
        patterns = {
            "beta-VAE": rf"beta-VAE_b_{num}_c_{num}_r_(\d+)",
            "ar-VAE": rf"ar-VAE_b_{num}_c_{num}_g_{num}_d_{num}_r_(\d+)",
            "interp-VAE": rf"interp-VAE_n_1_b_{num}_c_{num}_g_{num}_r_(\d+)",
            "s2-VAE": rf"s2-VAE_b_{num}_c_{num}_g_{num}_r_(\d+)",
        }
        for kind, pattern in patterns.items():
            m = re.fullmatch(pattern, model_id)
            if not m:
                continue
            v = m.groups()
            if kind == "beta-VAE":
                spec = cls(kind, float(v[0]), capacity=float(v[1]), seed=int(v[2]))
            elif kind == "ar-VAE":
                spec = cls(kind, float(v[0]), capacity=float(v[1]), gamma=float(v[2]), delta=float(v[3]),
                           seed=int(v[4]))
            else:
                spec = cls(kind, float(v[0]), capacity=float(v[1]), gamma=float(v[2]), seed=int(v[3]))
            if spec.id != model_id:
                break  # numbers not written as Python prints floats, e.g. "b_1" for "b_1.0"
            return spec
        raise SentError(f"unknown model id {model_id!r}; expected e.g. {zoo_ids()[0]!r} (see `train-vae zoo`)")


def zoo_specs() -> list[ModelSpec]:
    """The 36 models of the paper: 4 types x 3 settings x seeds 0, 1, 2."""
    specs = []
    for seed in (0, 1, 2):
        specs += [ModelSpec("beta-VAE", b, seed=seed) for b in (0.2, 1.0, 4.0)]
        specs += [ModelSpec("ar-VAE", 0.2, gamma=g, seed=seed) for g in (0.1, 1.0, 10.0)]
        specs += [ModelSpec("interp-VAE", 0.2, gamma=g, seed=seed) for g in (0.1, 1.0, 10.0)]
        specs += [ModelSpec("s2-VAE", 0.2, gamma=g, seed=seed) for g in (0.1, 1.0, 10.0)]
    return specs


def zoo_ids() -> list[str]:
    return [s.id for s in zoo_specs()]


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB_SIZE, 10)
        self.rnn = nn.GRU(10, 64, num_layers=2, bidirectional=True, dropout=0.2, batch_first=True)
        self.mean = nn.Sequential(nn.Linear(256, 128), nn.SELU(), nn.Linear(128, LATENT_DIM))
        self.log_std = nn.Sequential(nn.Linear(256, 128), nn.SELU(), nn.Linear(128, LATENT_DIM))

    def forward(self, tokens: torch.Tensor):
        """tokens (B, 16) -> (mean, log_std), each (B, 32)."""
        x = self.embedding(tokens.t())
        _, hidden = gru(self.rnn, x, masks=dropout_masks(self.rnn, x.shape[0], x.shape[1], x))
        # (layers*directions, B, 64) in the order l0 fwd, l0 bwd, l1 fwd, l1 bwd -> (B, 256)
        h = hidden.transpose(0, 1).reshape(tokens.shape[0], -1)
        return self.mean(h), self.log_std(h)


class RevivableReLU(torch.autograd.Function):
    """The spec's ReLU on the decoder's logits, whose backward also passes a gradient that would
    raise a negative input.

    Why: with plain ReLU a token whose logit is below 0 for every input never gets a gradient again
    and is never predicted ("dead"); rare tokens (E-4, A7, C8, ...) die early in training and cap
    whole-melody accuracy (the paper-schedule ar-VAE lost E-4 and G#5: 0.74). Here the loss can
    raise a dead token's logit where that token is the target, and never pushes a negative logit
    further down, so the forward pass, and every logit above 0, are exactly the spec's.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x > 0) | (grad < 0))


class Decoder(nn.Module):
    """Hierarchical decoder: a 2-step "beat" GRU gives each bar the state of an 8-step "tick" GRU.

    Teacher forcing runs both bars' ticks as one sequence batch. Free running is two passes: a
    gradient-free step-by-step pass chooses the argmax tokens, then a teacher-forced pass fed with
    those (detached, as the feedback is anyway) tokens and the same dropout masks computes the
    logits and their gradients: the same function, without a per-step autograd graph.
    """

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB_SIZE, 10)
        self.z_to_beat_hidden = nn.Linear(LATENT_DIM, 128)
        self.beat_rnn = nn.GRU(1, 64, num_layers=2, dropout=0.2, batch_first=True)
        self.beat_input = nn.Parameter(torch.zeros(1))
        self.beat_to_tick_hidden = nn.Linear(64, 128)
        self.beat_to_context = nn.Linear(64, 64)
        self.tick_rnn = nn.GRU(10 + 64, 64, num_layers=2, dropout=0.2, batch_first=True)
        self.tick_to_logits = nn.Linear(64, VOCAB_SIZE)
        self.first_input = nn.Parameter(torch.zeros(10))
        self.revive_dead_logits = False  # training only: see RevivableReLU

    @staticmethod
    def _split_layers(x: torch.Tensor) -> torch.Tensor:
        """(..., B, 128) -> (..., 2 layers, B, 64), the first 64 values going to layer 0."""
        return x.unflatten(-1, (2, 64)).transpose(-3, -2)

    def bars(self, z: torch.Tensor):
        """Per-bar tick GRU initial states (2 bars, 2 layers, B, 64) and contexts (2 bars, B, 64)."""
        batch = z.shape[0]
        h0 = self._split_layers(F.selu(self.z_to_beat_hidden(z))).contiguous()
        x = self.beat_input.expand(2, batch, 1)
        beat_out, _ = gru(self.beat_rnn, x, h0, dropout_masks(self.beat_rnn, 2, batch, z))
        tick_h = self._split_layers(F.selu(self.beat_to_tick_hidden(beat_out))).contiguous()
        context = F.selu(self.beat_to_context(beat_out))
        return tick_h, context

    def forward(self, z: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, 16, 62). With `targets` (B, 16): teacher forcing, else free-running argmax."""
        tick_h, context = self.bars(z)
        masks = dropout_masks(self.tick_rnn, SLOTS_PER_BAR, 2 * z.shape[0], z)
        if targets is None:
            targets = self.greedy_tokens(tick_h.detach(), context.detach(), masks)
        return self._teacher_forced(tick_h, context, targets, masks)

    def _tick_input_projections(self, context):
        """The tick GRU's layer-0 input projection, split by input: a 62-row table for the previous
        token's embedding (with b_ih), the first tick's learned input, and per-bar contexts."""
        w_ih, _, b_ih, _ = (w[0] for w in layer_weights(self.tick_rnn, 0))
        token_gi = F.linear(self.embedding.weight, w_ih[:, :10], b_ih)
        first_gi = F.linear(self.first_input, w_ih[:, :10], b_ih)
        return token_gi, first_gi, F.linear(context, w_ih[:, 10:])

    def _teacher_forced(self, tick_h, context, targets, masks):
        """Both bars' 8 ticks in one GRU call: the bars are independent given their states."""
        batch = targets.shape[0]
        token_gi, first_gi, context_gi = self._tick_input_projections(context)
        gi = torch.cat([first_gi.expand(1, batch, -1), F.embedding(targets[:, :-1].t(), token_gi)])
        # (16, B, 3H) -> (8 ticks, 2 bars * B, 3H), bar-major so bar b's rows match tick_h[b]
        gi = gi.view(2, SLOTS_PER_BAR, batch, -1).transpose(0, 1).reshape(SLOTS_PER_BAR, 2 * batch, -1)
        gi = gi + context_gi.reshape(1, 2 * batch, -1)
        h0 = tick_h.transpose(0, 1).reshape(2, 2 * batch, 64)
        out, _ = gru(self.tick_rnn, gi, h0, masks, projected=True)
        pre = self.tick_to_logits(out)
        logits = RevivableReLU.apply(pre) if self.revive_dead_logits and self.training else F.relu(pre)
        return logits.view(SLOTS_PER_BAR, 2, batch, VOCAB_SIZE).permute(2, 1, 0, 3).reshape(batch, SEQ_LEN, VOCAB_SIZE)

    @torch.no_grad()
    def greedy_tokens(self, tick_h, context, masks=None) -> torch.Tensor:
        """Free-running argmax tokens (B, 16), one tick at a time with precomputed projections:
        the token embedding's input projection is a 62-row table, the context's one per bar."""
        batch = context.shape[1]
        token_gi, first_gi, context_gi = self._tick_input_projections(context)
        _, w_hh0, _, b_hh0 = (w[0] for w in layer_weights(self.tick_rnn, 0))
        w_ih1, w_hh1, b_ih1, b_hh1 = (w[0] for w in layer_weights(self.tick_rnn, 1))
        w_hh0_t, w_ih1_t, w_hh1_t = w_hh0.t(), w_ih1.t(), w_hh1.t()
        w_out_t, b_out = self.tick_to_logits.weight.t(), self.tick_to_logits.bias
        gi, gh = context.new_empty(batch, 192), context.new_empty(batch, 192)
        rz, n = context.new_empty(batch, 128), context.new_empty(batch, 64)
        tokens = torch.empty(batch, SEQ_LEN, dtype=torch.long, device=context.device)
        step_gi = first_gi.expand(batch, -1)
        for bar in range(2):
            h0, h1 = tick_h[bar, 0].clone(), tick_h[bar, 1].clone()
            for tick in range(SLOTS_PER_BAR):
                torch.add(step_gi, context_gi[bar], out=gi)
                gates(gi, torch.addmm(b_hh0, h0, w_hh0_t, out=gh), h0, rz, n, h0)
                x1 = h0 if masks is None else h0 * masks[0][tick, bar * batch:(bar + 1) * batch]
                torch.addmm(b_ih1, x1, w_ih1_t, out=gi)
                gates(gi, torch.addmm(b_hh1, h1, w_hh1_t, out=gh), h1, rz, n, h1)
                token = torch.addmm(b_out, h1, w_out_t).relu_().argmax(dim=1)
                tokens[:, bar * SLOTS_PER_BAR + tick] = token
                step_gi = F.embedding(token, token_gi)
        return tokens


class VAE(nn.Module):
    """Encoder + decoder of one zoo model; interp-VAE adds one tiny classifier per attribute."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.encoder = Encoder()
        self.decoder = Decoder()
        if spec.type == "interp-VAE":
            self.classifiers = nn.ModuleList(nn.Linear(1, n) for n in FACTOR_COUNTS)
        for name, p in self.named_parameters():
            if "weight" in name and p.dim() >= 2:
                nn.init.xavier_normal_(p)

    @property
    def latent_dim(self) -> int:
        return LATENT_DIM

    def encode(self, tokens: torch.Tensor, sample: bool = True):
        """(z, mean, log_std); z is a reparameterised sample, or the mean when sample=False."""
        mean, log_std = self.encoder(tokens)
        z = mean + torch.exp(log_std) * torch.randn_like(mean) if sample else mean
        return z, mean, log_std

    @torch.no_grad()
    def decode_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """Free-running argmax decoding: latent codes (B, 32) -> tokens (B, 16), int64."""
        dec = self.decoder
        tick_h, context = dec.bars(z)
        return dec.greedy_tokens(tick_h, context, dropout_masks(dec.tick_rnn, SLOTS_PER_BAR, 2 * z.shape[0], z))

    def regulariser(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The type's attribute regulariser on latent dims 0..8 (0 for beta-VAE); labels (B, 9) int."""
        spec = self.spec
        zk = z[:, :NUM_ATTRIBUTES]
        if spec.type == "beta-VAE":
            return z.new_zeros(())
        if spec.type == "ar-VAE":
            return spec.gamma * _PairwiseOrderLoss.apply(zk, labels.float() / ATTRIBUTE_SCALE.to(z.device), spec.delta)
        if spec.type == "interp-VAE":
            return spec.gamma * sum(F.cross_entropy(clf(zk[:, k:k + 1]), labels[:, k])
                                    for k, clf in enumerate(self.classifiers))
        a = labels.float() / ATTRIBUTE_SCALE.to(z.device)
        return spec.gamma * F.binary_cross_entropy_with_logits(zk, a, reduction="none").mean(dim=0).sum()


class _PairwiseOrderLoss(torch.autograd.Function):
    """ar-VAE's attribute term: sum_k mean over ordered pairs (i, j) of
    |tanh(delta (z_ik - z_jk)) - sign(a_ik - a_jk)|.

    Why custom: the B x B x 9 pair tensors are memory-bound; a block of rows at a time stays in
    cache, and the gradient is formed in the same pass instead of by autograd over four saved
    B x B x 9 tensors. Pair (j, i) has the same value as (i, j) with both differences negated, so
    d/dz_i = 2 / B^2 * sum_j sign(t_ij - s_ij) (1 - t_ij^2) delta.
    """

    ROWS = 128

    @staticmethod
    def forward(ctx, z, a, delta):
        batch = z.shape[0]
        total = z.new_zeros(z.shape[1])
        grad = torch.empty_like(z)
        for start in range(0, batch, _PairwiseOrderLoss.ROWS):
            rows = slice(start, start + _PairwiseOrderLoss.ROWS)
            t = (z[rows, None, :] - z[None]).mul_(delta).tanh_()
            diff = t - torch.sign(a[rows, None, :] - a[None])
            total += diff.abs().sum(dim=(0, 1))
            grad[rows] = diff.sign_().mul_(t.mul_(t).sub_(1)).sum(dim=1)  # sign * (t^2 - 1)
        ctx.save_for_backward(grad.mul_(-2 * delta / batch ** 2))
        return total.sum() / batch ** 2

    @staticmethod
    def backward(ctx, d_loss):
        (grad,) = ctx.saved_tensors
        return grad * d_loss, None, None


def kl_divergence(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_std)) || N(0, 1)), summed over latent dims, averaged over the batch."""
    return (0.5 * (mean ** 2 + torch.exp(2 * log_std) - 1) - log_std).sum(dim=1).mean()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def weights_fingerprint(model: VAE) -> str:
    """Identifies one training of a model id: a hash of its weights. Repositories record it, so
    that codes are never decoded by another training of the same id (e.g. a replaced model)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_model(model: VAE, path, card: dict) -> None:
    """Write weights and the model card to one file, atomically; loadable with weights_only."""
    save_torch(path, FILE_FORMAT, card, model.state_dict())


def load_model(path, device: str = "cpu") -> tuple[VAE, dict]:
    """(model in eval mode, card) from a model file; never unpickles code."""
    card, state = load_torch(path, FILE_FORMAT, device)
    model = VAE(ModelSpec.parse(card["id"]))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise SentError(f"{path}: weights do not match model {card['id']} ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), card
