"""Edit a melody: move it to a requested attribute value with a trained traversal function."""

import sys
from pathlib import Path

import numpy as np

from sent.core.plugin import BUILTIN
from sent.core.repository import Repository
from sent.core.verify import DEFAULT_TOLERANCE, VerifyOptions
from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.dmelodies.edit import (
    describe,
    domain_problem,
    edit_item,
    edit_melody,
    edit_several,
    melody_tokens,
    output_stem,
    parse_settings,
    plugin_value,
    reconstructed_tokens,
)
from sent.dmelodies.music import write_melody
from sent.evaluation.plots import piano_roll
from sent.evaluation.shipped import resolve
from sent.util import cli, validate
from sent.util.cli import set_threads
from sent.util.errors import SentError
from sent.util.io import save_json


def run(melody, model: str, repository: str = None, attribute=None, value=None, sweep: bool = False, set=None,
        verify: bool = False, scales=None, line=None, search=None, tolerance: float = DEFAULT_TOLERANCE,
        out: str = "traverse", min_reconstruction: int = 14, threads: int = None):
    """Write OUT/original.{mid,musicxml}, OUT/<attribute>_<value>.{mid,musicxml} per edit,
    OUT/pianoroll.png (with --sweep) and OUT/traverse.json (achieved attributes of every result).
    With --set: OUT/edited.{mid,musicxml} and OUT/traverse.json (every step and the result).
    With a plug-in's repository (docs/plugins.md): MELODY is the index of one of the
    model's test items, --value a value name or a number, and OUT/traverse.json holds the
    attributes achieved (no melody files).

    Args:
        melody: a data set index, 16 comma-separated tokens, or a MIDI/MusicXML file on the
            16-slot eighth-note grid (2 bars of 4/4).
        model: the VAE model file of the repository, or a shipped model id (prebuilt/sent/<id>/),
            which takes the place of MODEL REPOSITORY: traverse MELODY ID ATTRIBUTE --value V.
        repository: a repository with sent_<k>.model for the attribute.
        attribute: name or index, e.g. scale.
        value: target value by name (e.g. minor, C#, down, 5 for octave 5).
        sweep: edit to every value of the attribute instead of one.
        set: several attributes at once, in sequence: --set scale=minor --set rhythm_bar1=12
            (or --set scale=minor,rhythm_bar1=12); instead of ATTRIBUTE and --value.
        verify: decode and check several candidate codes (SeNT's, its move scaled, the
            attribute-vector and regularised-dimension codes, a short line search, a search with
            the repository's surrogates) and return the one that reaches the value while changing
            the fewest other attributes.
        scales: the candidate budget of --verify: factors for SeNT's move (default 0.5,1.5,2,3).
        line: factors of the line search along the best move (default 0.75,1.25,1.75,2.5; "" none).
        search: surrogate-search steps whose codes are candidates (default 10,25,50; "" none).
        tolerance: with a plug-in, a continuous value counts as reached (and another as kept)
            within this fraction of its range.
        min_reconstruction: refuse melodies of which the model gives back fewer of the 16 tokens
            from their own code (their edits would not be edits of them); 0 edits anyway.
    """
    set_threads(threads)
    model, repository, attribute = resolve(model, repository, attribute)
    out = Path(validate.output_dir(out, "out"))
    options = VerifyOptions.from_arguments(scales, line, search) if verify else None
    min_reconstruction = validate.whole("min_reconstruction", min_reconstruction, minimum=0, maximum=16)
    tolerance = validate.real("tolerance", tolerance, minimum=0)
    repo = Repository(repository)
    if repo.plugin.name != BUILTIN:
        if set is not None or sweep or attribute is None or value is None:
            raise SentError(f"{repo.dir} uses plug-in {repo.plugin.name}: give ITEM ATTRIBUTE --value V "
                            "(--set and --sweep need the built-in dMelodies plug-in)")
        return _plugin_item(repo, model, validate.whole("melody (item index)", melody, minimum=0),
                            repo.attribute(attribute), value, options, tolerance, out)
    settings = parse_settings(set) if set is not None else None
    if settings is not None and (attribute is not None or value is not None or sweep):
        raise SentError("give either --set attribute=value ... or ATTRIBUTE with --value or --sweep")
    k, values = _requested(attribute, value, sweep) if settings is None else (None, None)
    tokens, vae, card, kept = _start_melody(repo, model, melody, min_reconstruction)
    if settings is not None:
        return _several(repo, vae, card, tokens, settings, options, out, kept)
    results = edit_melody(repo, vae, k, tokens, values, options)
    _write_edits(repo, card, k, tokens, kept, results, sweep, out)
    _print_edits(data.ATTRIBUTE_NAMES[k], results, verify)
    print(f"files in {out}: original.mid, <attribute>_<value>.mid/.musicxml per edit, traverse.json")


def _requested(attribute, value, sweep) -> tuple[int, range | list[int]]:
    """(attribute index, the value indices to edit to) of ATTRIBUTE with --value or --sweep."""
    if attribute is None:
        raise SentError("give ATTRIBUTE with --value or --sweep, or --set attribute=value ...")
    k = data.attribute_index(attribute)
    if sweep == (value is not None):
        raise SentError(f"give either --value (one of {', '.join(data.ATTRIBUTE_VALUES[k])}) or --sweep")
    return k, range(len(data.ATTRIBUTE_VALUES[k])) if sweep else [data.value_index(k, value)]


def _start_melody(repo, model, melody, min_reconstruction: int):
    """(tokens, model, card, tokens the model reconstructs) of the melody to edit, refusing one
    the model cannot represent."""
    tokens = melody_tokens(melody)
    problem = domain_problem(tokens)
    if problem and not (tokens >= 2).any():
        raise SentError(f"melody {melody}: {problem}; there is nothing to edit")
    vae, card = repo.load_model(model)
    kept = reconstructed_tokens(vae, tokens)
    if kept < min_reconstruction:
        why = f"{problem}, and " if problem else ""
        raise SentError(f"melody {melody}: {why}{card['id']} reconstructs only {kept}/16 of its tokens, so edits "
                        f"would not be edits of it (--min_reconstruction {min_reconstruction}; 0 edits anyway)")
    if kept < 16:
        print(f"traverse: warning: {card['id']} reconstructs {kept}/16 tokens of this melody; "
              "edits start from its reconstruction", file=sys.stderr)
    return tokens, vae, card, kept


def _write_edits(repo, card, k: int, tokens, kept: int, results: list[dict], sweep: bool, out: Path) -> None:
    """The original and every edit as MIDI and MusicXML, a piano roll of a sweep, traverse.json."""
    original = extract_attributes(tokens.reshape(1, -1))[0]
    write_melody(tokens, out / "original.mid", title="original")
    write_melody(tokens, out / "original.musicxml", title="original")
    for r in results:
        stem = output_stem(out, k, r["name"])
        for suffix in (".mid", ".musicxml"):
            write_melody(r["tokens"], stem.with_suffix(suffix), title=f"{data.ATTRIBUTE_NAMES[k]} = {r['name']}")
        r["files"] = [stem.with_suffix(".mid").name, stem.with_suffix(".musicxml").name]
        r["attributes"] = describe(r["attributes"])
        if "sent" in r:
            r["sent"]["attributes"] = describe(r["sent"]["attributes"])
    if sweep:
        piano_roll([tokens] + [r["tokens"] for r in results],
                   ["original"] + [f"{data.ATTRIBUTE_NAMES[k]}={r['name']}" for r in results],
                   f"{repo.model_id}: {data.ATTRIBUTE_NAMES[k]} sweep", out / "pianoroll.png")
    report = {"model": card["id"], "attribute": data.ATTRIBUTE_NAMES[k], "original": {
        "tokens": tokens.tolist(), "attributes": describe(original), "reconstructed_tokens": kept}, "edits": results}
    save_json(out / "traverse.json", report)


def _print_edits(name: str, results: list[dict], verify: bool) -> None:
    """Requested against achieved value and the other attributes moved, per method."""
    methods = ["sent", "verified"] if verify else ["sent"]
    print(f"{name + ' requested':24s}" + "".join(f"{m + ' achieved':>22s} {'others moved':24s}" for m in methods))
    for r in results:
        rows = [r["sent"] if verify else r] + ([r] if verify else [])
        print(f"{r['name']:24s}" + "".join(
            f"{(row['attributes'][name] + ('' if row['achieved'] else ' (missed)')):>22s} "
            f"{', '.join(row['moved']) or '-':24s}" for row in rows))


def _plugin_item(repo, model, index, k, value, options, tolerance, out):
    """A plug-in's test item edited in one attribute: requested vs achieved per method."""
    target = plugin_value(repo, k, value)
    vae, card = repo.load_model(model)
    result = edit_item(repo, vae, card, index, k, target, options, tolerance)
    names = repo.plugin.names
    save_json(out / "traverse.json", {"model": card["id"], "plugin": repo.plugin.name, "attribute": names[k],
                                      "requested": target, **result})
    print(f"{'attribute':16s} {'start':>10s} {'requested':>10s}" + "".join(f"{m:>12s}" for m in result["methods"]))
    for g, name in enumerate(names):
        wanted = f"{target:g}" if g == k else "(keep)"
        flags = [" !" if (g == k and not r["reached"]) or name in r["moved"] else "  " for r in result["methods"].values()]
        cells = "".join(f"{r['attributes'][g]:>10.4g}{flag}" for r, flag in zip(result["methods"].values(), flags))
        print(f"{name:16s} {result['start'][g]:>10.4g} {wanted:>10s}" + cells)
    print(f"(! = not as requested or not kept, tolerance {tolerance:g} of the range); {out / 'traverse.json'}")


def _several(repo, vae, card, tokens, settings, options, out, kept):
    """--set: the edits in sequence, plain SeNT and (with --verify) verified, side by side."""
    verify = options is not None
    runs = {"sent": edit_several(repo, vae, tokens, settings)}
    if verify:
        runs["verified"] = edit_several(repo, vae, tokens, settings, options)
    final = runs["verified" if verify else "sent"]
    write_melody(tokens, out / "original.mid", title="original")
    write_melody(tokens, out / "original.musicxml", title="original")
    title = ", ".join(f"{data.ATTRIBUTE_NAMES[k]} = {data.ATTRIBUTE_VALUES[k][v]}" for k, v in settings)
    for suffix in (".mid", ".musicxml"):
        write_melody(np.asarray(final["tokens"]), out / f"edited{suffix}", title=title)
    for result in runs.values():
        result["attributes"] = describe(result["attributes"])
        for step in result["steps"]:
            if "skipped" in step:
                print(f"traverse: {step['name']} for {data.ATTRIBUTE_NAMES[step['attribute']]} skipped: "
                      f"{step['skipped']}", file=sys.stderr)
                continue
            step["attributes"] = describe(step["attributes"])
            if "sent" in step:
                step["sent"]["attributes"] = describe(step["sent"]["attributes"])
    original = extract_attributes(tokens.reshape(1, -1))[0]
    save_json(out / "traverse.json", {"model": card["id"], "set": {data.ATTRIBUTE_NAMES[k]: data.ATTRIBUTE_VALUES[k][v]
                                                                   for k, v in settings},
                                      "original": {"tokens": tokens.tolist(), "attributes": describe(original),
                                                   "reconstructed_tokens": kept},
                                      "result": final, "methods": runs})
    print(f"{'attribute':14s} {'original':>10s} {'requested':>10s}" + "".join(f"{m:>12s}" for m in runs))
    for g, name in enumerate(data.ATTRIBUTE_NAMES):
        requested = dict(settings).get(g)
        wanted = data.ATTRIBUTE_VALUES[g][requested] if requested is not None else "(keep)"
        start = describe(original)[name]
        cells = []
        for result in runs.values():
            got = result["attributes"][name]
            ok = got == (wanted if requested is not None else start)
            cells.append(f"{got + ('' if ok else ' !'):>12s}")
        print(f"{name:14s} {start:>10s} {wanted:>10s}" + "".join(cells))
    print(f"(! = not as requested or not kept); files in {out}: original.mid, edited.mid/.musicxml "
          f"({'verified' if verify else 'sent'}), traverse.json")



def main(argv=None):
    cli.main(run, name="traverse", argv=argv, repeatable=("set",))
