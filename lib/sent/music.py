"""Melodies as music: token sequences to music21 streams, MIDI and MusicXML files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.attributes import as_token_array
from sent.data import FIRST_UNUSED_TOKEN, REST, TOKEN_MIDI
from sent.io import atomic_path

SLOT_QUARTER_LENGTH = 0.5  # one slot is an eighth note


def tokens_to_stream(tokens, title: str | None = None):
    """A music21 Stream of one 16-token melody in 4/4: notes, rests, slurs extending the previous event."""
    from music21 import meter, metadata, note, stream

    (row,) = as_token_array(np.asarray(tokens).reshape(1, -1))
    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    previous = None
    for slot, tok in enumerate(row):
        tok = int(tok)
        holds = tok == 1 or tok >= FIRST_UNUSED_TOKEN
        if holds and previous is not None:
            previous.quarterLength += SLOT_QUARTER_LENGTH
            continue
        if tok == REST or holds:  # a slur with nothing to extend sounds as a rest
            previous = note.Rest(quarterLength=SLOT_QUARTER_LENGTH)
        else:
            previous = note.Note(int(TOKEN_MIDI[tok]), quarterLength=SLOT_QUARTER_LENGTH)
        part.append(previous)
    score = stream.Score([part])
    if title:
        score.metadata = metadata.Metadata(title=title)
    return score


def write_melody(tokens, path, fmt: str | None = None, title: str | None = None) -> Path:
    """Write one melody as MIDI (.mid) or MusicXML (.musicxml/.xml), atomically."""
    path = Path(path)
    fmt = fmt or ("midi" if path.suffix.lower() in (".mid", ".midi") else "musicxml")
    score = tokens_to_stream(tokens, title=title)
    with atomic_path(path, path.suffix) as tmp:
        score.write(fmt, fp=str(tmp))
    return path
