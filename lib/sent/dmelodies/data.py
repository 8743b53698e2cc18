"""The dMelodies data set: factors, token vocabulary, vectorised generation and splits.

Facts follow ../shared/spec/dmelodies.md: 9 factors, 16 eighth-note slots per melody, a fixed
vocabulary with rest=0, slur=1 and notes 2..51, and the legacy-RandomState split.
"""

from __future__ import annotations

import itertools

import numpy as np

from sent.util.errors import SentError
from sent.util.validate import column

ATTRIBUTE_NAMES = (
    "tonic", "octave", "scale", "rhythm_bar1", "rhythm_bar2",
    "arp_chord1", "arp_chord2", "arp_chord3", "arp_chord4",
)
FACTOR_COUNTS = (12, 3, 3, 28, 28, 2, 2, 2, 2)
NUM_MELODIES = int(np.prod(FACTOR_COUNTS))  # 1,354,752
SEQ_LEN = 16
SLOTS_PER_BAR = 8
VOCAB_SIZE = 62
REST, SLUR = 0, 1
FIRST_UNUSED_TOKEN = 52  # tokens 52..61 never occur in data; a decoder may emit them (read as slur)

ATTRIBUTE_VALUES = (
    ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"),
    ("4", "5", "6"),
    ("major", "minor", "blues"),
    tuple(str(i) for i in range(28)),
    tuple(str(i) for i in range(28)),
    ("up", "down"), ("up", "down"), ("up", "down"), ("up", "down"),
)

# MIDI pitch of tokens 2..51, in order of first appearance over the data set rows.
NOTE_MIDI = np.array([
    60, 64, 67, 65, 69, 72, 71, 74, 63, 68, 66, 70, 76, 79, 77, 81, 84, 83, 86, 75,
    80, 78, 82, 88, 91, 89, 93, 96, 95, 98, 87, 92, 90, 94, 61, 73, 85, 97, 99, 62,
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109,
], dtype=np.int64)

# token -> MIDI pitch, -1 for rest, slur and the unused tokens.
TOKEN_MIDI = np.full(VOCAB_SIZE, -1, dtype=np.int64)
TOKEN_MIDI[2:FIRST_UNUSED_TOKEN] = NOTE_MIDI

# MIDI pitch -> token, -1 where the vocabulary has no such note.
MIDI_TOKEN = np.full(128, -1, dtype=np.int64)
MIDI_TOKEN[NOTE_MIDI] = np.arange(2, FIRST_UNUSED_TOKEN)

# music21's default spelling (nameWithOctave) of each pitch class.
_PITCH_CLASS_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
TOKEN_NAMES = ("rest", "__") + tuple(
    f"{_PITCH_CLASS_NAMES[m % 12]}{m // 12 - 1}" for m in NOTE_MIDI
)

SCALE_OFFSETS = np.array([
    [0, 2, 4, 5, 7, 9, 11, 12, 14],   # major
    [0, 2, 3, 5, 7, 8, 11, 12, 14],   # harmonic minor
    [0, 2, 3, 5, 6, 9, 10, 12, 14],   # blues
], dtype=np.int64)
CHORD_DEGREES = np.array([[0, 2, 4], [3, 5, 7], [4, 6, 8], [0, 2, 4]], dtype=np.int64)  # I IV V I
RHYTHM_PATTERNS = np.array(list(itertools.combinations(range(SLOTS_PER_BAR), 6)), dtype=np.int64)


def factors_of(rows) -> np.ndarray:
    """Factor indices (len(rows) x 9) of data set rows (tonic slowest, arp_chord4 fastest)."""
    rows = np.asarray(rows, dtype=np.int64)
    return np.stack(np.unravel_index(rows, FACTOR_COUNTS), axis=-1).astype(np.int64)


def melody_midi(factors: np.ndarray) -> np.ndarray:
    """The 12 MIDI pitches (N x 12) of melodies with the given factor indices (N x 9)."""
    factors = np.asarray(factors, dtype=np.int64)
    root = 60 + factors[:, 0] + 12 * factors[:, 1]
    down = factors[:, 5:9, None] == 1
    degrees = np.where(down, CHORD_DEGREES[None, :, ::-1], CHORD_DEGREES[None]).reshape(-1, 12)
    offsets = np.take_along_axis(SCALE_OFFSETS[factors[:, 2]], degrees, axis=1)
    return root[:, None] + offsets


def melody_tokens(factors: np.ndarray) -> np.ndarray:
    """Token sequences (N x 16, uint8) of melodies with the given factor indices (N x 9)."""
    factors = np.asarray(factors, dtype=np.int64)
    n = len(factors)
    notes = MIDI_TOKEN[melody_midi(factors)]
    tokens = np.full((n, SEQ_LEN), REST, dtype=np.uint8)
    rows = np.arange(n)[:, None]
    tokens[rows, RHYTHM_PATTERNS[factors[:, 3]]] = notes[:, :6]
    tokens[rows, SLOTS_PER_BAR + RHYTHM_PATTERNS[factors[:, 4]]] = notes[:, 6:]
    return tokens


def generate() -> dict[str, np.ndarray]:
    """The whole data set, as the arrays written by `bin/dataset`."""
    factors = factors_of(np.arange(NUM_MELODIES))
    return {
        "tokens": melody_tokens(factors),
        "factors": factors.astype(np.int8),
        "attribute_names": np.array(ATTRIBUTE_NAMES),
        "token_names": np.array(TOKEN_NAMES),
        "token_midi": TOKEN_MIDI,
    }


def split_indices(n: int = NUM_MELODIES, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.70, 0.05, 0.25)):
    """(train, val, test) row indices: the legacy RandomState(seed) permutation cut by fractions."""
    a, b, c = (float(f) for f in fractions)
    if min(a, b, c) < 0 or a + b + c > 1 + 1e-9:
        raise SentError(f"split fractions {fractions}: need three non-negative numbers summing to at most 1")
    perm = np.random.RandomState(seed).permutation(n)
    i, j, k = int(a * n), int((a + b) * n), int((a + b + c) * n)
    return perm[:i], perm[i:j], perm[j:k]


def value_index(attribute: int, value) -> int:
    """Index of a named attribute value ('minor', 'C#', 'down', 5, '5'), with a clear error."""
    names = ATTRIBUTE_VALUES[attribute]
    key = str(value)
    if key in names:
        return names.index(key)
    raise SentError(f"{ATTRIBUTE_NAMES[attribute]}: unknown value {value!r}; valid: {', '.join(names)}")


def attribute_index(name_or_index) -> int:
    """Column of an attribute given by name or index, with a clear error."""
    return column(ATTRIBUTE_NAMES, name_or_index)
