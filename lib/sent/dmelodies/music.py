"""Melodies as music: token sequences to music21 streams, MIDI and MusicXML files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.dmelodies.attributes import as_token_array
from sent.dmelodies.data import FIRST_UNUSED_TOKEN, MIDI_TOKEN, REST, SEQ_LEN, SLUR, TOKEN_MIDI, TOKEN_NAMES
from sent.util.errors import SentError
from sent.util.io import atomic_path

SLOT_QUARTER_LENGTH = 0.5  # one slot is an eighth note


def tokens_to_stream(tokens, title: str | None = None):
    """A music21 Stream of one 16-token melody in 4/4: notes, rests, slurs extending the previous event."""
    from music21 import metadata, meter, note, stream

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


def read_midi_tokens(path) -> np.ndarray:
    """A MIDI (or MusicXML) melody quantised to the 16-slot eighth-note grid -> 16 tokens.

    Every note must start on an eighth-note slot within the first two 4/4 bars, last a whole number
    of slots, not overlap another note and have a pitch of the vocabulary; otherwise a clear error.
    """
    from music21 import converter

    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    try:
        score = converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for unreadable files
        raise SentError(f"{path}: not a readable MIDI/MusicXML file ({type(exc).__name__})") from None
    tokens = np.full(SEQ_LEN, REST, dtype=np.int64)
    taken = np.zeros(SEQ_LEN, dtype=bool)
    for element in score.flatten().notes:
        if element.isChord:
            raise SentError(f"{path}: a chord at quarter {float(element.offset)}; melodies are monophonic")
        start = float(element.offset) / SLOT_QUARTER_LENGTH
        length = float(element.quarterLength) / SLOT_QUARTER_LENGTH
        if start != int(start) or length != int(length) or length < 1 or start + length > SEQ_LEN:
            raise SentError(f"{path}: note {element.nameWithOctave} at quarter {float(element.offset)} lasting "
                            f"{float(element.quarterLength)} does not fit the 16-slot eighth-note grid (2 bars of 4/4)")
        start, length = int(start), int(length)
        midi = element.pitch.midi
        token = MIDI_TOKEN[midi] if 0 <= midi < len(MIDI_TOKEN) else -1
        if token < 0:
            raise SentError(f"{path}: pitch {element.nameWithOctave} is not in the vocabulary "
                            f"({', '.join(TOKEN_NAMES[2:])})")
        if taken[start:start + length].any():
            raise SentError(f"{path}: overlapping notes at quarter {float(element.offset)}")
        tokens[start] = token
        tokens[start + 1:start + length] = SLUR
        taken[start:start + length] = True
    return tokens
