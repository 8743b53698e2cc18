"""Editing one melody with a trained traversal function (`bin/traverse`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sent import data
from sent.attributes import as_token_array, extract_attributes
from sent.errors import SentError
from sent.music import read_midi_tokens
from sent.repository import Repository
from sent.traversal import encode_attribute, load_sent


def melody_tokens(melody) -> np.ndarray:
    """16 tokens from a data set index, a 16-token list ("2,0,5,..." or a list) or a MIDI/MusicXML file."""
    if isinstance(melody, (list, tuple)):
        values = list(melody)
    elif isinstance(melody, int) or (isinstance(melody, str) and melody.isdigit()):
        index = int(melody)
        if not 0 <= index < data.NUM_MELODIES:
            raise SentError(f"melody index {index} out of range 0..{data.NUM_MELODIES - 1}")
        return data.melody_tokens(data.factors_of([index]))[0].astype(np.int64)
    elif isinstance(melody, str) and "," in melody:
        try:
            values = [int(v) for v in melody.split(",")]
        except ValueError:
            raise SentError(f"melody {melody!r}: expected 16 comma-separated token numbers") from None
    else:
        return read_midi_tokens(melody)
    return as_token_array(np.asarray(values, dtype=np.int64).reshape(1, -1), "melody")[0]


@torch.no_grad()
def reconstructed_tokens(vae, tokens: np.ndarray) -> int:
    """How many of the melody's 16 tokens the model gives back from its posterior mean: a melody
    the model cannot represent cannot be edited by moving its code."""
    mean, _ = vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
    return int((vae.decode_tokens(mean)[0].numpy() == tokens).sum())


@torch.no_grad()
def edit_melody(repo: Repository, vae, attribute: int, tokens: np.ndarray, values) -> list[dict]:
    """Move a melody's latent code (posterior mean) to each target value of the attribute.

    Returns one dict per value: value index and name, decoded tokens, achieved attributes.
    """
    start_attrs = extract_attributes(tokens.reshape(1, -1))[0]
    if start_attrs[attribute] < 0:
        raise SentError(f"the input melody has no valid {data.ATTRIBUTE_NAMES[attribute]} to start from "
                        f"(its attributes: {start_attrs.tolist()})")
    net, meta = load_sent(repo, attribute)
    one_hot = meta["options"]["one_hot"]
    mean, _ = vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
    z1 = torch.as_tensor(repo.normalise_z(mean.numpy()))
    c1 = torch.as_tensor(repo.normalise_c(start_attrs[attribute:attribute + 1].astype(float), attribute))
    results = []
    for v in values:
        c2 = torch.as_tensor(repo.normalise_c(np.array([float(v)]), attribute))
        out = net(z1, encode_attribute(c1, attribute, one_hot), encode_attribute(c2, attribute, one_hot))
        edited = vae.decode_tokens(repo.denormalise_z(out))[0].numpy()
        achieved = extract_attributes(edited.reshape(1, -1))[0]
        results.append({"value": int(v), "name": data.ATTRIBUTE_VALUES[attribute][v],
                        "tokens": edited.tolist(), "attributes": achieved.tolist(),
                        "achieved": bool(achieved[attribute] == v)})
    return results


def describe(attrs) -> dict:
    """Attribute names -> value names ('invalid' for -1)."""
    return {name: (data.ATTRIBUTE_VALUES[k][a] if a >= 0 else "invalid")
            for k, (name, a) in enumerate(zip(data.ATTRIBUTE_NAMES, attrs))}


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "s" if c == "#" else "_" for c in text)


def output_stem(out: Path, attribute: int, value_name: str) -> Path:
    return out / f"{data.ATTRIBUTE_NAMES[attribute]}_{safe_name(value_name)}"
