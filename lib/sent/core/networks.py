"""The traversal networks: the ZtoC surrogate and SentNet, the attribute encodings they take, and
loading them from their files."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sent.core.plugin import Plugin, load_plugin
from sent.core.repository import Repository
from sent.util.errors import SentError
from sent.util.io import load_torch

ZC_FORMAT = "sent-zc/1"


SENT_FORMAT = "sent-net/1"


def attribute_width(plugin: Plugin, attribute: int, one_hot: bool) -> int:
    """Width of an attribute's encoding: 1 (normalised value) or its number of values (one-hot)."""
    return plugin.value_count(attribute) if one_hot else 1


def encode_attribute(c: torch.Tensor, width: int) -> torch.Tensor:
    """Normalised values (B,) -> (B, width): the value itself (width 1), or a one-hot of its index."""
    if width == 1:
        return c.reshape(-1, 1)
    return F.one_hot(torch.round(c * (width - 1)).long().clamp(0, width - 1), width).float()


class ZtoC(nn.Module):
    """Surrogate z -> c: widths 4D, 2D, D, ... halving while >= 16, then the attribute width, sigmoid."""

    def __init__(self, latent_dim: int = 32, width: int = 1):
        super().__init__()
        layers, w_in, w = [], latent_dim, 4 * latent_dim
        while w >= 16:
            layers += [nn.Linear(w_in, w), nn.ReLU()]
            w_in, w = w, w // 2
        layers += [nn.Linear(w_in, width), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.latent_dim, self.width = latent_dim, width

    def forward(self, z):
        return self.net(z)


class SentNet(nn.Module):
    """SentNet(z1, c1, c2) -> z in [-1, 1]^D, the traversal function of one attribute."""

    def __init__(self, latent_dim: int = 32, c_width: int = 1, iscale: int = 1, pre_stages: bool = False,
                 with_target: bool = False):
        super().__init__()
        w = iscale * latent_dim
        self.options = {"latent_dim": latent_dim, "c_width": c_width, "iscale": iscale,
                        "pre_stages": pre_stages, "with_target": with_target}
        self.in_z = nn.Linear(latent_dim, 2 * w)
        self.in_c1 = nn.Linear(c_width, w)
        self.in_c2 = nn.Linear(c_width, w)
        self.pre_c1 = nn.Linear(w, w) if pre_stages else None
        self.pre_c2 = nn.Linear(w, w) if pre_stages else None
        self.hidden = nn.Linear((4 if with_target else 3) * w, 2 * w)
        self.out = nn.Linear(2 * w, latent_dim)

    def forward(self, z1, c1, c2):
        in_z = F.relu(self.in_z(z1))
        a = F.relu(self.in_c1(c1))
        b = target = F.relu(self.in_c2(c2))
        if self.pre_c1 is not None:
            a, b = F.relu(self.pre_c1(a)), F.relu(self.pre_c2(b))
        parts = [a - b, in_z] + ([target] if self.options["with_target"] else [])
        return torch.tanh(self.out(F.relu(self.hidden(torch.cat(parts, dim=1)))))


def _network_from_file(path, meta: dict, state: dict, build, latent_dim: int):
    """The network a model file describes, with one-line errors where its metadata or weights
    do not fit (a hand-edited or foreign file) or its codes are not the repository's width."""
    try:
        model = build(meta)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise SentError(f"{path}: damaged metadata in the model file ({type(exc).__name__}: {exc})") from None
    except RuntimeError as exc:  # load_state_dict: missing keys or tensors of other shapes
        detail = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)]
        raise SentError(f"{path}: the weights do not fit the network the file describes ({detail[0]})") from None
    width = model.options["latent_dim"] if isinstance(model, SentNet) else model.latent_dim
    if width != latent_dim:
        raise SentError(f"{path}: made for {width}-dim codes, but the repository's codes have {latent_dim} dims")
    return model.eval()


def load_zc(repo: Repository, attribute: int) -> tuple[ZtoC, dict]:
    path = repo.path(f"sent_ZC_{attribute}.model")
    if not path.exists():
        raise SentError(f"{path}: no surrogate for attribute {attribute} ({repo.names[attribute]}); run train-zc first")
    meta, state = load_torch(path, ZC_FORMAT)
    return _network_from_file(path, meta, state, lambda m: ZtoC(m["latent_dim"], m["width"]), repo.latent_dim), meta


def load_sent(repo: Repository, attribute: int) -> tuple[SentNet, dict]:
    path = repo.path(f"sent_{attribute}.model")
    if not path.exists():
        raise SentError(f"{path}: no traversal function for attribute {attribute}; run train-sent first")
    meta, state = load_torch(path, SENT_FORMAT)
    return _network_from_file(path, meta, state, lambda m: SentNet(**m["net"]), repo.latent_dim), meta


@torch.no_grad()
def decode_attributes(vae, z: np.ndarray, batch_size: int = 4096, plugin: Plugin | None = None) -> np.ndarray:
    """Attributes (N, K) of the items a model decodes from raw latent codes (N, D), by a plug-in
    (default: the built-in dMelodies one)."""
    plugin = plugin or load_plugin(None)
    return plugin.decode_attributes(vae, np.asarray(z, dtype=np.float32), batch_size)
