"""The dMelodies VAE zoo: model ids, the shared architecture, regularisers, safe model files.

Facts follow ../shared/spec/vae.md. Latent dims 0..8 are bound to attributes 0..8.
"""

from __future__ import annotations

import dataclasses
import re

import torch
from torch import nn
from torch.nn import functional as F

from sent.data import FACTOR_COUNTS, SEQ_LEN, SLOTS_PER_BAR, VOCAB_SIZE
from sent.errors import SentError
from sent.io import load_torch, save_torch

LATENT_DIM = 32
NUM_ATTRIBUTES = 9
MODEL_TYPES = ("beta-VAE", "ar-VAE", "interp-VAE", "s2-VAE")
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
        _, hidden = self.rnn(self.embedding(tokens))
        # (layers*directions, B, 64) in the order l0 fwd, l0 bwd, l1 fwd, l1 bwd -> (B, 256)
        h = hidden.transpose(0, 1).reshape(tokens.shape[0], -1)
        return self.mean(h), self.log_std(h)


class Decoder(nn.Module):
    """Hierarchical decoder: a 2-step "beat" GRU gives each bar the state of an 8-step "tick" GRU."""

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

    @staticmethod
    def _split_layers(x: torch.Tensor) -> torch.Tensor:
        """(B, 128) -> (2 layers, B, 64), the first 64 values going to layer 0."""
        return x.view(x.shape[0], 2, 64).transpose(0, 1).contiguous()

    def bars(self, z: torch.Tensor):
        """Per-bar tick GRU initial states (2 bars, 2 layers, B, 64) and contexts (2 bars, B, 64)."""
        batch = z.shape[0]
        h0 = self._split_layers(F.selu(self.z_to_beat_hidden(z)))
        beat_out, _ = self.beat_rnn(self.beat_input.expand(batch, 2, 1), h0)
        tick_h = torch.stack([self._split_layers(F.selu(self.beat_to_tick_hidden(beat_out[:, b])))
                              for b in range(2)])
        context = F.selu(self.beat_to_context(beat_out)).transpose(0, 1)
        return tick_h, context

    def forward(self, z: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, 16, 62). With `targets` (B, 16): teacher forcing, else free-running argmax."""
        if targets is not None:
            return self._teacher_forced(z, targets)
        return self._free_running(z)

    def _teacher_forced(self, z, targets):
        """Both bars' 8 ticks in one nn.GRU call: the bars are independent given their states."""
        batch = z.shape[0]
        tick_h, context = self.bars(z)
        previous = torch.cat([self.first_input.expand(batch, 1, 10), self.embedding(targets[:, :-1])], dim=1)
        # (B, 16, 10) -> (2 bars * B, 8, 10), bar-major so bar b's rows match tick_h[b]
        previous = previous.view(batch, 2, SLOTS_PER_BAR, 10).transpose(0, 1).reshape(2 * batch, SLOTS_PER_BAR, 10)
        ctx = context.reshape(2 * batch, 1, 64).expand(-1, SLOTS_PER_BAR, -1)
        h0 = tick_h.permute(1, 0, 2, 3).reshape(2, 2 * batch, 64)
        out, _ = self.tick_rnn(torch.cat([previous, ctx], dim=2), h0)
        logits = F.relu(self.tick_to_logits(out))
        return logits.view(2, batch, SLOTS_PER_BAR, VOCAB_SIZE).transpose(0, 1).reshape(batch, SEQ_LEN, VOCAB_SIZE)

    def _free_running(self, z):
        batch = z.shape[0]
        tick_h, context = self.bars(z)
        previous = self.first_input.expand(batch, 10)
        logits = []
        for bar in range(2):
            h = tick_h[bar]
            for _ in range(SLOTS_PER_BAR):
                out, h = self.tick_rnn(torch.cat([previous, context[bar]], dim=1).unsqueeze(1), h)
                step_logits = F.relu(self.tick_to_logits(out[:, 0]))
                logits.append(step_logits)
                previous = self.embedding(step_logits.argmax(dim=1))
        return torch.stack(logits, dim=1)


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
        return self.decoder(z).argmax(dim=2)

    def regulariser(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The type's attribute regulariser on latent dims 0..8 (0 for beta-VAE); labels (B, 9) int."""
        spec = self.spec
        zk = z[:, :NUM_ATTRIBUTES]
        if spec.type == "beta-VAE":
            return z.new_zeros(())
        if spec.type == "ar-VAE":
            a = labels.float() / ATTRIBUTE_SCALE.to(z.device)
            dz = zk[:, None, :] - zk[None, :, :]
            da = a[:, None, :] - a[None, :, :]
            return spec.gamma * (torch.tanh(spec.delta * dz) - torch.sign(da)).abs().mean(dim=(0, 1)).sum()
        if spec.type == "interp-VAE":
            return spec.gamma * sum(F.cross_entropy(clf(zk[:, k:k + 1]), labels[:, k])
                                    for k, clf in enumerate(self.classifiers))
        a = labels.float() / ATTRIBUTE_SCALE.to(z.device)
        return spec.gamma * F.binary_cross_entropy_with_logits(zk, a, reduction="none").mean(dim=0).sum()


def kl_divergence(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_std)) || N(0, 1)), summed over latent dims, averaged over the batch."""
    return (0.5 * (mean ** 2 + torch.exp(2 * log_std) - 1) - log_std).sum(dim=1).mean()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


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
