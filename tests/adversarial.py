"""Random and adversarial token sequences that probe every branch of the attribute extractor."""

import numpy as np

from sent.dmelodies import data


def adversarial_sequences(n_per_kind: int, seed: int = 0) -> np.ndarray:
    """About 10 * n_per_kind sequences (int64, N x 16) of the kinds listed below."""
    rng = np.random.default_rng(seed)
    n = n_per_kind
    notes = np.arange(2, 52)
    kinds = []
    # uniform over the whole vocabulary, including the unused tokens 52..61
    kinds.append(rng.integers(0, 62, size=(n, 16)))
    # mostly unused tokens (>= 52), which count as slurs
    x = rng.integers(52, 62, size=(n, 16))
    mask = rng.random((n, 16)) < 0.3
    x[mask] = rng.integers(0, 52, size=mask.sum())
    kinds.append(x)
    # fewer than 3 notes
    x = rng.choice([0, 1, 55], size=(n, 16))
    for row in x:
        k = rng.integers(0, 3)
        row[rng.choice(16, size=k, replace=False)] = rng.choice(notes, size=k)
    kinds.append(x)
    # exactly 12 notes, random positions and pitches (arp ties with repeated pitches)
    x = np.zeros((n, 16), dtype=np.int64)
    for row in x:
        pos = np.sort(rng.choice(16, size=12, replace=False))
        row[pos] = rng.choice(notes[:12], size=12)  # few pitches: many equal neighbours
        row[row == 0] = rng.choice([0, 1, 60], size=(row == 0).sum())
    kinds.append(x)
    # dataset rows with a few tokens changed (near-valid melodies)
    rows = rng.integers(0, data.NUM_MELODIES, size=n)
    x = data.melody_tokens(data.factors_of(rows)).astype(np.int64)
    for row in x:
        k = rng.integers(1, 3)
        row[rng.choice(16, size=k, replace=False)] = rng.integers(0, 62, size=k)
    kinds.append(x)
    # dataset rows with bars swapped or notes permuted (valid rhythms, changed roots and arps)
    x = data.melody_tokens(data.factors_of(rng.integers(0, data.NUM_MELODIES, size=n))).astype(np.int64)
    for row in x:
        idx = np.flatnonzero(row >= 2)
        row[idx] = row[rng.permutation(idx)]
    kinds.append(x)
    # ties for the lowest of the first three notes
    x = data.melody_tokens(data.factors_of(rng.integers(0, data.NUM_MELODIES, size=n))).astype(np.int64)
    for row in x:
        idx = np.flatnonzero(row >= 2)
        row[idx[1]] = row[idx[0]]
        if rng.random() < 0.5:
            row[idx[2]] = row[idx[0]]
    kinds.append(x)
    # sparse bars: onsets thinned out, then padded with slurs or rests
    x = data.melody_tokens(data.factors_of(rng.integers(0, data.NUM_MELODIES, size=n))).astype(np.int64)
    drop = rng.random((n, 16)) < 0.25
    x[drop] = rng.choice([0, 1], size=drop.sum())
    kinds.append(x)
    # high roots: only notes from octave 6 up (MIDI >= 96), so octave is often invalid
    high = np.flatnonzero(data.TOKEN_MIDI >= 96)
    x = rng.choice(high, size=(n, 16))
    x[rng.random((n, 16)) < 0.2] = 0
    kinds.append(x)
    # dense bars: 7 or 8 onsets in a bar
    x = rng.choice(notes, size=(n, 16))
    x[rng.random((n, 16)) < 0.08] = 0
    kinds.append(x)
    return np.concatenate(kinds).astype(np.int64)
