"""The dMelodies attribute extractor: token sequences -> 9 attribute indices (-1 = invalid).

Exactly the algorithm of ../shared/spec/dmelodies.md, compiled with numba over whole batches.
It is the "feature function" of the SeNT perceptual loss and of every evaluation.
"""

from __future__ import annotations

import numba
import numpy as np

from sent.dmelodies.data import FIRST_UNUSED_TOKEN, RHYTHM_PATTERNS, SEQ_LEN, SLOTS_PER_BAR, TOKEN_MIDI, VOCAB_SIZE
from sent.util.errors import SentError


def _pitch_class_mask(intervals) -> int:
    return sum(1 << i for i in intervals)


# Pitch-class sets of the three scales, as bit masks, in the order tested.
SCALE_MASKS = np.array([
    _pitch_class_mask((0, 2, 4, 5, 7, 9, 11)),
    _pitch_class_mask((0, 2, 3, 5, 7, 8, 11)),
    _pitch_class_mask((0, 2, 3, 5, 6, 9, 10)),
], dtype=np.int64)

# onset bit pattern of one bar (bit s = slot s has a note) -> rhythm index, -1 if not one of 28.
RHYTHM_OF_PATTERN = np.full(1 << SLOTS_PER_BAR, -1, dtype=np.int64)
for _k, _slots in enumerate(RHYTHM_PATTERNS):
    RHYTHM_OF_PATTERN[sum(1 << int(s) for s in _slots)] = _k


# (interval + 64) -> interval mod 12 for intervals in -64..63: a table lookup instead of a modulo.
_MOD12 = (np.arange(128) - 64) % 12


@numba.njit(cache=True, nogil=True)
def _extract(tokens, token_midi, scale_masks, rhythm_of_pattern, mod12, out):
    notes = np.empty(SEQ_LEN, dtype=np.int64)
    for r in range(tokens.shape[0]):
        n = 0
        bar1 = 0  # onset bits of each bar
        bar2 = 0
        for t in range(SEQ_LEN):
            tok = tokens[r, t]
            if 2 <= tok < FIRST_UNUSED_TOKEN:
                notes[n] = token_midi[tok]
                n += 1
                if t < SLOTS_PER_BAR:
                    bar1 |= 1 << t
                else:
                    bar2 |= 1 << (t - SLOTS_PER_BAR)
        if n < 3:
            out[r, :] = -1
            continue
        root = min(notes[0], notes[1], notes[2])
        out[r, 0] = root % 12
        octave = root // 12 - 1
        out[r, 1] = octave - 4 if 4 <= octave <= 6 else -1
        mask = 0
        for i in range(n):
            mask |= 1 << mod12[notes[i] - root + 64]
        out[r, 2] = -1
        for s in range(3):
            if mask & ~scale_masks[s] == 0:
                out[r, 2] = s
                break
        # -1 unless the bar's onsets are exactly one of the 28 six-onset patterns
        out[r, 3] = rhythm_of_pattern[bar1]
        out[r, 4] = rhythm_of_pattern[bar2]
        for c in range(4):
            if n != 12:
                out[r, 5 + c] = -1
                continue
            p0, p1, p2 = notes[3 * c], notes[3 * c + 1], notes[3 * c + 2]
            d = (p1 > p0) - (p1 < p0) + (p2 > p1) - (p2 < p1)
            out[r, 5 + c] = 0 if d > 0 else (1 if d < 0 else -1)
    return out


def as_token_array(tokens, name: str = "tokens") -> np.ndarray:
    """Validate a batch of token sequences (numpy or torch, N x 16 integers in 0..61)."""
    if hasattr(tokens, "detach"):  # torch.Tensor, on any device
        tokens = tokens.detach().cpu().numpy()
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.shape[1] != SEQ_LEN:
        raise SentError(f"{name}: expected shape (N, {SEQ_LEN}), got {tokens.shape}")
    if tokens.dtype.kind not in "iu":
        raise SentError(f"{name}: expected integer tokens, got dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= VOCAB_SIZE):
        raise SentError(f"{name}: token values must be in 0..{VOCAB_SIZE - 1}, "
                        f"got range {tokens.min()}..{tokens.max()}")
    return tokens


def extract_attributes(tokens) -> np.ndarray:
    """Attributes (N x 9, int64, -1 = invalid) of token sequences (N x 16, numpy or torch).

    The input is never modified.
    """
    tokens = as_token_array(tokens)
    out = np.empty((tokens.shape[0], 9), dtype=np.int64)
    return _extract(tokens, TOKEN_MIDI, SCALE_MASKS, RHYTHM_OF_PATTERN, _MOD12, out)
