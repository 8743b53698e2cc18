"""Editing one melody with a trained traversal function (`bin/traverse`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sent.core.baselines import Mover, applicable
from sent.core.networks import attribute_width, encode_attribute, load_sent
from sent.core.plugin import invalid
from sent.core.repository import Repository
from sent.core.verify import DEFAULT_TOLERANCE, Judge, SurrogateSearch, VerifyOptions, moved_attributes, verified_codes
from sent.dmelodies import data
from sent.dmelodies.attributes import as_token_array, extract_attributes
from sent.dmelodies.music import read_midi_tokens
from sent.util.errors import SentError


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


def domain_problem(tokens: np.ndarray) -> str | None:
    """Why a melody (16 tokens) is not a dMelodies melody, or None if it is one: no notes, an
    attribute with no valid value, or valid attributes whose data set melody has other tokens."""
    if not (np.asarray(tokens) >= 2).any():
        return "it has no notes (all rests)"
    attributes = extract_attributes(np.asarray(tokens, dtype=np.int64).reshape(1, -1))[0]
    invalid = [name for name, v in zip(data.ATTRIBUTE_NAMES, attributes) if v < 0]
    if invalid:
        return f"outside the dMelodies domain: no valid {', '.join(invalid)} (see docs/dmelodies.md)"
    own = data.melody_tokens(attributes.reshape(1, -1))[0]
    if not np.array_equal(own, tokens):
        slots = np.flatnonzero(own != tokens).tolist()
        return (f"outside the dMelodies domain: its attributes are valid, but the data set's melody with "
                f"them differs at slots {slots} (see docs/dmelodies.md)")
    return None


@torch.no_grad()
def reconstructed_tokens(vae, tokens: np.ndarray) -> int:
    """How many of the melody's 16 tokens the model gives back from its posterior mean: a melody
    the model cannot represent cannot be edited by moving its code."""
    mean, _ = vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
    return int((vae.decode_tokens(mean)[0].numpy() == tokens).sum())


class Editor:
    """Edits melodies in one attribute with a repository's traversal function; everything an edit
    needs besides the melody (the function, the proposals' statistics) is loaded once."""

    def __init__(self, repo: Repository, vae, attribute: int, verify: VerifyOptions | None = None):
        self.repo, self.vae, self.attribute, self.verify = repo, vae, attribute, verify
        self.net, meta = load_sent(repo, attribute)
        self.one_hot = meta["options"]["one_hot"]
        self.mover = Mover(repo, attribute) if verify is not None else None
        self.proposal_methods = [m for m in ("attribute-vector", "regularised-dimension")
                                 if applicable(m, repo)]
        self.search = SurrogateSearch.of(repo) if verify is not None and verify.search else None

    @torch.no_grad()
    def sent_codes(self, z: np.ndarray, start_values, target_values) -> np.ndarray:
        """Raw codes SeNT's function proposes for raw codes z (N x D), from start to target values."""
        k, repo = self.attribute, self.repo
        c1 = torch.as_tensor(repo.normalise_c(np.asarray(start_values, dtype=float), k))
        c2 = torch.as_tensor(repo.normalise_c(np.asarray(target_values, dtype=float), k))
        width = attribute_width(repo.plugin, k, self.one_hot)
        out = self.net(torch.as_tensor(repo.normalise_z(z)), encode_attribute(c1, width), encode_attribute(c2, width))
        return repo.denormalise_z(out).numpy()

    def proposals(self, z: np.ndarray, start_values, target_values) -> dict[str, np.ndarray]:
        """The further candidates of a verified edit: attribute-vector and (where defined)
        regularised-dimension codes."""
        return {m: self.mover.codes(m, z, start_values, target_values) for m in self.proposal_methods}

    @torch.no_grad()
    def edit(self, tokens: np.ndarray, values) -> list[dict]:
        """Move a melody's latent code (posterior mean) to each target value of the attribute.

        Returns one dict per value: value index and name, decoded tokens, achieved attributes,
        whether the value was reached and which other attributes moved. With verification, the
        result is the verified edit (sent.core.verify), and "sent" holds SeNT's own for comparison.
        """
        k = self.attribute
        start_attrs = extract_attributes(tokens.reshape(1, -1))[0]
        if start_attrs[k] < 0:
            raise SentError(f"the input melody has no valid {data.ATTRIBUTE_NAMES[k]} to start from "
                            f"(its attributes: {start_attrs.tolist()})")
        values = np.asarray(list(values), dtype=np.int64)
        mean, _ = self.vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
        z1 = np.repeat(mean.numpy(), len(values), axis=0)
        codes = self.sent_codes(z1, np.full(len(values), start_attrs[k]), values)
        edited = self.vae.decode_tokens(torch.as_tensor(codes)).numpy()
        names = ["sent"] * len(values)
        if self.verify is not None:
            sent_attrs = extract_attributes(edited)
            starts = np.repeat(start_attrs[None], len(values), axis=0)
            result = verified_codes(self.vae, z1, starts, k, values, codes, self.proposals(z1, starts[:, k], values),
                                    self.verify, search=self.search)
            names = [result["names"][i] for i in result["candidate"]]
            edited = self.vae.decode_tokens(torch.as_tensor(result["codes"], dtype=torch.float32)).numpy()
        achieved_all = extract_attributes(edited)
        results = []
        for n, v in enumerate(values):
            achieved = achieved_all[n]
            entry = {"value": int(v), "name": data.ATTRIBUTE_VALUES[k][v], "tokens": edited[n].tolist(),
                     "attributes": achieved.tolist(), "achieved": bool(achieved[k] == v),
                     "moved": moved_attributes(start_attrs, achieved, k, data.ATTRIBUTE_NAMES),
                     "candidate": names[n]}
            if self.verify is not None:
                entry["sent"] = {"attributes": sent_attrs[n].tolist(), "achieved": bool(sent_attrs[n, k] == v),
                                 "moved": moved_attributes(start_attrs, sent_attrs[n], k, data.ATTRIBUTE_NAMES)}
            results.append(entry)
        return results


def edit_melody(repo: Repository, vae, attribute: int, tokens: np.ndarray, values,
                verify: VerifyOptions | None = None) -> list[dict]:
    """One melody edited to each of `values` (see Editor.edit)."""
    return Editor(repo, vae, attribute, verify).edit(tokens, values)


def parse_settings(text) -> list[tuple[int, int]]:
    """`scale=minor,rhythm_bar1=12` (or a list of `name=value`) -> [(attribute, value index), ...]."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    settings = []
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SentError(f"--set {item!r}: expected attribute=value, e.g. scale=minor")
        k = data.attribute_index(name.strip())
        if k in [a for a, _ in settings]:
            raise SentError(f"--set: {data.ATTRIBUTE_NAMES[k]} given twice")
        settings.append((k, data.value_index(k, value.strip())))
    return settings


def edit_several(repo: Repository, vae, tokens: np.ndarray, settings, verify: VerifyOptions | None = None) -> dict:
    """Several attributes set in sequence, each edit starting from the melody the previous one
    decoded to. Verification at each step counts any change to the attributes set so far or left
    alone as a change, so it keeps them. Returns the steps (as Editor.edit; a step whose attribute
    is invalid in the melody at that point is skipped, with the reason) and the final melody's
    tokens, attributes, the requested values reached and the other attributes that moved."""
    start = extract_attributes(tokens.reshape(1, -1))[0]
    current, steps = tokens, []
    for k, v in settings:
        now = extract_attributes(current.reshape(1, -1))[0]
        if now[k] < 0:  # SeNT needs the current value; say so and go on with the other attributes
            steps.append({"attribute": k, "value": int(v), "name": data.ATTRIBUTE_VALUES[k][v],
                          "skipped": f"the melody {'after the previous edit ' if steps else ''}has no valid "
                                     f"{data.ATTRIBUTE_NAMES[k]} to start from"})
            continue
        step = Editor(repo, vae, k, verify).edit(current, [v])[0]
        steps.append({"attribute": k, **step})
        current = np.asarray(step["tokens"], dtype=np.int64)
    final = extract_attributes(current.reshape(1, -1))[0]
    requested = dict(settings)
    return {"steps": steps, "tokens": current.tolist(), "attributes": final.tolist(),
            "reached": {data.ATTRIBUTE_NAMES[k]: bool(final[k] == v) for k, v in settings},
            "moved": [data.ATTRIBUTE_NAMES[g] for g in range(len(start))
                      if g not in requested and start[g] >= 0 and final[g] != start[g]]}


def describe(attrs) -> dict:
    """Attribute names -> value names ('invalid' for -1)."""
    return {name: (data.ATTRIBUTE_VALUES[k][a] if a >= 0 else "invalid")
            for k, (name, a) in enumerate(zip(data.ATTRIBUTE_NAMES, attrs))}


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "s" if c == "#" else "_" for c in text)


def output_stem(out: Path, attribute: int, value_name: str) -> Path:
    return out / f"{data.ATTRIBUTE_NAMES[attribute]}_{safe_name(value_name)}"


def plugin_value(repo: Repository, attribute: int, value) -> float:
    """A requested value of a plug-in's attribute: a value name (categorical) or a number."""
    a = repo.plugin.attributes[attribute]
    if a.categorical:
        if str(value) not in a.values:
            raise SentError(f"{a.name}: unknown value {value!r}; valid: {', '.join(a.values)}")
        return a.values.index(str(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise SentError(f"{a.name}: --value must be a finite number, got {value!r}")
    return number


def edit_item(repo: Repository, vae, card: dict, index: int, attribute: int, target,
              verify: VerifyOptions | None = None, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """A plug-in's test item `index` (its posterior mean) moved to `target` of `attribute`, by
    SeNT and (with `verify`) verified: per method the achieved attributes, whether the value was
    reached (within `tolerance` of the range for a continuous attribute) and what else moved."""
    plugin, k = repo.plugin, attribute
    items, _ = plugin.test_items(card, index + 1)
    if index >= len(items):
        raise SentError(f"item {index}: {card['id']} has {len(items)} test items")
    item = items[index:index + 1]
    start = np.asarray(plugin.extract(item))[0]
    if invalid(start[k]):
        raise SentError(f"item {index} has no valid {plugin.names[k]} to start from")
    judge = Judge.of(repo, tolerance)
    z1 = np.asarray(plugin.encode(vae, item, use_mean=True), dtype=np.float32)
    editor = Editor(repo, vae, k, verify)
    target = np.array([target], dtype=judge.dtype)
    sent = editor.sent_codes(z1, start[k:k + 1], target)
    achieved = {"sent": plugin.decode_attributes(vae, sent)[0]}
    if verify is not None:
        proposals = editor.proposals(z1, start[k:k + 1], target)
        achieved["verified"] = verified_codes(vae, z1, start[None], k, target, sent, proposals, verify,
                                              judge, search=editor.search)["achieved"][0]
    others = [g for g in range(len(start)) if g != k]
    methods = {}
    for method, a in achieved.items():
        moved = judge.changed(start[others], a[others], others)
        methods[method] = {"attributes": a.tolist(), "reached": bool(judge.reached(a, k, target[0])),
                           "moved": [plugin.names[g] for g, m in zip(others, moved) if m]}
    return {"item": index, "start": start.tolist(), "methods": methods}
