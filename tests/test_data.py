import numpy as np
import pytest
from helpers import run_tool
from music21 import pitch, scale

from sent.dmelodies import data
from sent.util.errors import SentError
from sent.util.io import load_npz


def test_factor_order_and_counts(dataset):
    f = dataset["factors"]
    assert f.shape == (1_354_752, 9)
    assert [int(c) for c in f.max(axis=0) + 1] == list(data.FACTOR_COUNTS)
    assert f[0].tolist() == [0] * 9
    assert f[1].tolist() == [0] * 8 + [1]            # arp_chord4 fastest
    assert f[-1].tolist() == [11, 2, 2, 27, 27, 1, 1, 1, 1]
    assert f[1354752 // 12].tolist() == [1] + [0] * 8  # tonic slowest


def test_vocabulary_is_order_of_first_appearance(dataset):
    midi = data.melody_midi(dataset["factors"])
    tokens = dataset["tokens"]
    # scan rows in order, slots in order: first appearances of each note
    notes_in_slot_order = np.where(tokens >= 2, data.TOKEN_MIDI[tokens.astype(np.int64)], -1).ravel()
    notes_in_slot_order = notes_in_slot_order[notes_in_slot_order >= 0]
    _, first = np.unique(notes_in_slot_order, return_index=True)
    order = notes_in_slot_order[np.sort(first)]
    assert order.tolist() == data.NOTE_MIDI.tolist()
    assert set(np.unique(midi)) == set(data.NOTE_MIDI.tolist())
    assert data.TOKEN_NAMES[2] == "C4" and data.TOKEN_NAMES[41] == "D4" and data.TOKEN_NAMES[51] == "C#8"


def test_token_names_are_music21_spelling():
    for tok in range(2, 52):
        assert pitch.Pitch(midi=int(data.TOKEN_MIDI[tok])).nameWithOctave == data.TOKEN_NAMES[tok]


def test_no_slur_or_unused_tokens_and_two_rests_per_bar(dataset):
    tokens = dataset["tokens"]
    assert tokens.max() < 52 and not (tokens == data.SLUR).any()
    assert ((tokens[:, :8] == data.REST).sum(axis=1) == 2).all()
    assert ((tokens[:, 8:] == data.REST).sum(axis=1) == 2).all()


def _music21_melody(factors):
    """The 12 note names of a melody, built independently from music21 scales."""
    tonic, octave, mode = factors[0], factors[1], factors[2]
    root = pitch.Pitch(midi=60 + tonic + 12 * octave)
    if mode == 0:
        sc = scale.MajorScale(root)
    elif mode == 1:
        sc = scale.HarmonicMinorScale(root)
    else:
        sc = None
    if sc is not None:
        # degrees 1..7 lie in the tonic's octave; the 8th and 9th are the 1st and 2nd an octave up
        degrees = [sc.pitchFromDegree(d % 7 + 1).midi + (12 if d >= 7 else 0) for d in range(9)]
    else:  # blues hexatonic plus a 9th: root, 2, b3, 4, b5, 6, b7, 8ve, 9
        intervals = ["P1", "M2", "m3", "P4", "d5", "M6", "m7", "P8", "M9"]
        degrees = [root.transpose(i).midi for i in intervals]
    names = []
    for c, chord in enumerate([(0, 2, 4), (3, 5, 7), (4, 6, 8), (0, 2, 4)]):
        order = chord[::-1] if factors[5 + c] == 1 else chord
        names += [pitch.Pitch(midi=degrees[d]).nameWithOctave for d in order]
    return names


def test_melodies_match_music21_rendering(dataset):
    rng = np.random.default_rng(7)
    rows = rng.choice(len(dataset["tokens"]), size=300, replace=False)
    for r in rows:
        f = dataset["factors"][r].astype(int)
        tokens = dataset["tokens"][r]
        notes = [data.TOKEN_NAMES[t] for t in tokens if t >= 2]
        assert notes == _music21_melody(f), f"row {r} factors {f}"
        onsets = [i for i, t in enumerate(tokens[:8]) if t >= 2]
        assert onsets == list(data.RHYTHM_PATTERNS[f[3]])


def test_split_sizes_and_seed0_prefix():
    train, val, test = data.split_indices(seed=0)
    assert (len(train), len(val), len(test)) == (948_326, 67_738, 338_688)
    assert train[:3].tolist() == [860905, 1011499, 742214]
    np.random.seed(0)  # the spec's definition, on the legacy global generator
    perm = np.random.permutation(data.NUM_MELODIES)
    assert np.array_equal(np.concatenate([train, val, test]), perm)
    other = data.split_indices(seed=1)[0]
    assert not np.array_equal(other[:100], train[:100])


def test_split_rejects_bad_fractions():
    with pytest.raises(SentError, match="fractions"):
        data.split_indices(fractions=(0.9, 0.2, 0.1))


def test_dataset_tool_writes_same_file_every_run(tmp_path, dataset):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    run_tool("dataset", "--out", a)
    run_tool("dataset", "--out", b)
    x, y = load_npz(a), load_npz(b)
    for key in ("tokens", "factors", "attribute_names", "token_names", "token_midi"):
        assert np.array_equal(x[key], y[key]), key
    assert np.array_equal(x["tokens"], dataset["tokens"])
    assert list(x["attribute_names"]) == list(data.ATTRIBUTE_NAMES)
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*tmp"))


def test_named_values_and_attributes():
    assert data.value_index(2, "minor") == 1
    assert data.attribute_index("rhythm_bar2") == 4
    with pytest.raises(SentError, match="valid: major, minor, blues"):
        data.value_index(2, "dorian")
    with pytest.raises(SentError, match="unknown attribute"):
        data.attribute_index("loudness")
