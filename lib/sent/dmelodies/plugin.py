"""The built-in plug-in: the dMelodies VAE zoo, its test splits and the exact attribute extractor.

The core finds it by its module name (sent.core.plugin.BUILTIN_MODULE), as it finds any plug-in.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from sent.core.plugin import BUILTIN, Attribute, Plugin
from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.dmelodies.vae import load_model, weights_fingerprint


class DMelodies(Plugin):
    """The dMelodies VAE zoo, its test splits and the exact extractor."""

    name = BUILTIN
    attributes = tuple(Attribute(n, v) for n, v in zip(data.ATTRIBUTE_NAMES, data.ATTRIBUTE_VALUES))

    def regularised(self, model_id: str) -> bool:
        return not model_id.startswith("beta-VAE")

    def load_model(self, path):
        return load_model(path)

    def fingerprint(self, model) -> str:
        return weights_fingerprint(model)

    def test_items(self, card, limit=None):
        rows = test_rows(card)[:limit]
        return rows, data.factors_of(rows)

    def encode(self, model, items, use_mean, seed=0, batch_size=4096, progress=False):
        return encode_rows(model, items, use_mean, seed, batch_size, progress)

    def decode(self, model, codes):
        return model.decode_tokens(torch.as_tensor(codes, dtype=torch.float32))

    def extract(self, items):
        return extract_attributes(items)


def plugin() -> DMelodies:
    return DMelodies()


def test_rows(card: dict) -> np.ndarray:
    """Data set rows of a model's test split, in split (permutation) order."""
    split = card["split"]
    return data.split_indices(data.NUM_MELODIES, split["seed"], tuple(split["fractions"]))[2]


@torch.no_grad()
def encode_rows(model, rows: np.ndarray, use_mean: bool, seed: int = 0, batch_size: int = 4096,
                progress: bool = False) -> np.ndarray:
    """Latent codes (N x 32, float32) of data set rows: a posterior sample (seeded) or the mean."""
    gen = torch.Generator().manual_seed(seed)
    out = np.empty((len(rows), model.latent_dim), dtype=np.float32)
    for start in tqdm(range(0, len(rows), batch_size), desc="encode", disable=not progress, leave=False):
        chunk = rows[start:start + batch_size]
        tokens = torch.as_tensor(data.melody_tokens(data.factors_of(chunk)).astype(np.int64))
        mean, log_std = model.encoder(tokens)
        z = mean if use_mean else mean + torch.exp(log_std) * torch.randn(mean.shape, generator=gen)
        out[start:start + len(chunk)] = z.numpy()
    return out
