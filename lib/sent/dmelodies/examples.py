"""Example edits as melodies: MIDI files and the tokens the report draws and plays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sent.core.repository import Repository
from sent.dmelodies.data import melody_tokens
from sent.dmelodies.music import write_melody
from sent.util.io import save_json


@torch.no_grad()
def write_examples(repo: Repository, attribute: int, vae, edits: dict[str, np.ndarray]) -> list[Path]:
    """The first test pairs as melodies: the start melody, the target example and each method's
    edit (`edits`: method -> its codes of those pairs, e.g. sent and verified), as
    examples/<attribute>_<n>_<kind>.mid, and all their tokens in examples/<attribute>.json (what
    the report draws and plays)."""
    _, a1, _, a2 = repo.raw_pairs(attribute, "test")
    decoded = {m: vae.decode_tokens(torch.as_tensor(z, dtype=torch.float32)).numpy() for m, z in edits.items()}
    count = min(len(z) for z in decoded.values())
    written, melodies = [], []
    for n in range(count):
        name = f"{repo.names[attribute]}_{n}"
        kinds = {"start": melody_tokens(a1[n:n + 1])[0], "target": melody_tokens(a2[n:n + 1])[0],
                 **{m: tokens[n] for m, tokens in decoded.items()}}
        for kind, tokens in kinds.items():
            path = repo.path("examples") / f"{name}_{kind}.mid"
            write_melody(tokens, path, title=f"{name} {kind}")
            written.append(path)
        melodies.append({kind: np.asarray(tokens).astype(int).tolist() for kind, tokens in kinds.items()})
    save_json(repo.path("examples") / f"{repo.names[attribute]}.json",
              {"attribute": repo.names[attribute], "examples": melodies})
    return written
