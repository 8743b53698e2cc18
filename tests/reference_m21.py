"""A deliberately simple, slow attribute extractor built on music21 objects: the test oracle.

It shares no code with sent.dmelodies.attributes: pitches come from music21 Pitch objects built from the
note names, octaves from music21, rhythm indices from itertools, one melody at a time.
"""

import itertools

from music21 import note, pitch, stream

from sent.dmelodies.data import TOKEN_NAMES

_PITCHES = {tok: pitch.Pitch(name) for tok, name in enumerate(TOKEN_NAMES) if tok >= 2}
_RHYTHMS = list(itertools.combinations(range(8), 6))
_SCALES = [{0, 2, 4, 5, 7, 9, 11}, {0, 2, 3, 5, 7, 8, 11}, {0, 2, 3, 5, 6, 9, 10}]


def _sign(x):
    return (x > 0) - (x < 0)


def reference_attributes(sequence):
    """9 attribute indices of one token sequence (list of 16 ints), -1 = invalid."""
    return _attributes(sequence, [_PITCHES[t] for t in sequence if t in _PITCHES])


def reference_attributes_from_stream(sequence):
    """The same, the way the public implementation works: a music21 stream of new Note objects."""
    melody = stream.Stream()
    for t in sequence:
        melody.append(note.Note(TOKEN_NAMES[t], quarterLength=0.5) if t in _PITCHES else note.Rest(quarterLength=0.5))
    return _attributes(sequence, [n.pitch for n in melody.notes])


def _attributes(sequence, notes):
    if len(notes) < 3:
        return [-1] * 9
    root = min(notes[:3], key=lambda p: p.midi)
    tonic = root.pitchClass
    octave = root.octave - 4 if root.octave in (4, 5, 6) else -1
    classes = {(p.midi - root.midi) % 12 for p in notes}
    scale = next((k for k, s in enumerate(_SCALES) if classes <= s), -1)
    rhythms = []
    for bar in (sequence[:8], sequence[8:]):
        onsets = tuple(i for i, t in enumerate(bar) if t in _PITCHES)
        rhythms.append(_RHYTHMS.index(onsets) if onsets in _RHYTHMS else -1)
    arps = [-1] * 4
    if len(notes) == 12:
        for c in range(4):
            a, b, d = (p.midi for p in notes[3 * c:3 * c + 3])
            s = _sign(b - a) + _sign(d - b)
            arps[c] = 0 if s > 0 else (1 if s < 0 else -1)
    return [tonic, octave, scale, *rhythms, *arps]
