"""results/report.html: one self-contained page with the result tables, the comparison with the
published tables and the baselines, every model's figures (embedded), and its example edits drawn
as piano rolls with play buttons (a small Web Audio synthesiser in the page: nothing is fetched
at view time) and links to their MIDI files."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path

from sent.core.baselines import BASELINES, CEILINGS
from sent.core.networks import SENT_FORMAT
from sent.dmelodies.data import REST, SLUR, TOKEN_MIDI
from sent.evaluation.predictions import METHODS
from sent.util.errors import SentError
from sent.util.io import atomic_path, load_json, load_torch

FIGURES = ("target_vs_achieved", "untargeted", "deviation")
RECIPE = ("lr", "batch_size", "epochs", "steps", "schedule", "simulate", "select", "validation")


def method_suffix(method: str) -> str:
    """How `perform run --method M` names M's files: perform.csv for SeNT, perform-M.csv otherwise."""
    return "" if method == "sent" else f"-{method}"


def _provenance(directory: Path) -> str:
    """One paragraph: what a repository's figures come from (model, plug-in, test pairs, recipe)."""
    try:
        config = load_json(directory / "config.json")
    except SentError:
        return ""
    facts = [f"model {html.escape(str(config.get('model_id', '?')))}"]
    if config.get("model_fingerprint"):
        facts.append(f"weights fingerprint {html.escape(str(config['model_fingerprint']))}")
    facts.append(f"plug-in {html.escape(str(config.get('plugin', 'dmelodies')))}")
    tests = [f"{name} {end - begin}" for name, (_, (begin, end)) in zip(config.get("fNames", []),
                                                                         config.get("ttPairs", [])) if end > begin]
    if tests:
        facts.append("n test pairs: " + ", ".join(tests))
    functions = sorted(directory.glob("sent_[0-9]*.model"))
    if functions:  # every attribute's function is trained with the same options
        options = load_torch(functions[0], SENT_FORMAT)[0].get("options", {})
        recipe = ", ".join(f"{k} {options[k]}" for k in RECIPE if options.get(k) is not None)
        facts.append(f"SeNT recipe ({functions[0].name}): {html.escape(recipe)}")
    return "<p>" + "; ".join(facts) + "</p>"

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 3px 7px; text-align: right; }
th { background: #eee; } td.name { text-align: left; }
td.better { background: #d8f0d8; } td.worse { background: #f6dada; }
img { max-width: 100%; border: 1px solid #ddd; margin: 4px 0; }
.model { margin-top: 2em; }
.example { display: inline-block; margin: 4px 14px 4px 0; text-align: center; font-size: 0.8em; }
.example svg { display: block; background: #fafafa; border: 1px solid #ddd; }
.example button { margin-top: 2px; }
"""

# Plays a melody of 16 eighth-note slots (120 bpm) from its tokens: a note lasts through the slur
# tokens after it. With #selftest the page presses every play button once on load and records
# in <body> how many started audio (data-played), the audio state and any script error.
_PLAYER = """
var TOKEN_MIDI = %s, REST = %d, SLUR = %d, SLOT = 0.25, audio = null, played = 0, errors = 0;
window.addEventListener('error', function () { errors++; document.body.setAttribute('data-errors', errors); });
function note(midi, start, length) {
  var osc = audio.createOscillator(), gain = audio.createGain();
  osc.type = 'triangle';
  osc.frequency.value = 440 * Math.pow(2, (midi - 69) / 12);
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(0.25, start + 0.01);
  gain.gain.setTargetAtTime(0, start + length - 0.04, 0.015);
  osc.connect(gain);
  gain.connect(audio.destination);
  osc.start(start);
  osc.stop(start + length + 0.1);
}
function play(button) {
  var tokens = JSON.parse(button.getAttribute('data-tokens')), notes = 0;
  if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
  if (audio.state === 'suspended') audio.resume();
  var t0 = audio.currentTime + 0.05;
  for (var i = 0; i < tokens.length;) {
    var j = i + 1;
    while (j < tokens.length && tokens[j] === SLUR) j++;
    if (tokens[i] !== REST && tokens[i] !== SLUR && TOKEN_MIDI[tokens[i]] >= 0) {
      note(TOKEN_MIDI[tokens[i]], t0 + i * SLOT, (j - i) * SLOT);
      notes++;
    }
    i = j;
  }
  button.setAttribute('data-notes', notes);
  played++;
  document.body.setAttribute('data-played', played + '/' + document.querySelectorAll('button.play').length);
  document.body.setAttribute('data-audio', audio.state);
}
window.addEventListener('load', function () {
  document.body.setAttribute('data-errors', errors);
  if (location.hash === '#selftest') document.querySelectorAll('button.play').forEach(function (b) { b.click(); });
});
""" % (json.dumps(TOKEN_MIDI.tolist()), REST, SLUR)

# The page counts its own decoded images, so a browser test can check that they really render.
_IMAGE_CHECK = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3f}"
    return html.escape(str(v))


def _table(rows: list[dict], columns: list[tuple[str, str]], compare: dict | None = None) -> str:
    """An HTML table; `compare` maps a column to the column it is compared against (colouring)."""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for r in rows:
        cells = []
        for key, _ in columns:
            v = r[key]
            cls = "name" if isinstance(v, str) else ""
            if compare and key in compare and isinstance(v, float) and not math.isnan(v):
                other = r[compare[key]]
                if isinstance(other, float) and not math.isnan(other):
                    cls = "better" if v >= other else "worse"
            cells.append(f'<td class="{cls}">{_fmt(v)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _piano_roll(tokens, low: int, high: int) -> str:
    """An inline SVG piano roll of one melody (16 slots; pitches low..high)."""
    slot, step = 9, 3
    rects, i = [], 0
    while i < len(tokens):
        j = i + 1
        while j < len(tokens) and tokens[j] == SLUR:
            j += 1
        midi = int(TOKEN_MIDI[tokens[i]]) if tokens[i] not in (REST, SLUR) else -1
        if midi >= 0:
            y = (high - midi) * step
            rects.append(f'<rect x="{i * slot}" y="{y}" width="{(j - i) * slot - 1}" height="{step}" fill="#2a6fb0"/>')
        i = j
    width, height = len(tokens) * slot, (high - low + 1) * step
    return f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">{"".join(rects)}</svg>'


def _examples(directory: Path) -> tuple[str, set]:
    """Every example edit of a repository: per melody its piano roll and a play button; and the
    kinds of melody shown."""
    files = sorted((directory / "examples").glob("*.json")) if (directory / "examples").is_dir() else []
    parts, kinds = [], set()
    for f in files:
        record = load_json(f)
        for n, melodies in enumerate(record["examples"]):
            pitches = [int(TOKEN_MIDI[t]) for tokens in melodies.values() for t in tokens if t not in (REST, SLUR)]
            low, high = (min(pitches), max(pitches)) if pitches else (60, 72)
            cells = [f'<div class="example">{_piano_roll(tokens, low, high)}'
                     f'<button class="play" data-tokens="{json.dumps(tokens)}" onclick="play(this)">'
                     f'&#9654; {html.escape(kind)}</button></div>' for kind, tokens in melodies.items()]
            parts.append(f"<div><b>{html.escape(record['attribute'])} #{n}</b><br>{''.join(cells)}</div>")
            kinds |= set(melodies)
    return "".join(parts), kinds


def write_report(path, comparison: list[dict], baselines: list[dict], model_dirs, link_prefix: str | None = None):
    """Write the report. Example MIDI links point to <link_prefix>/<model>/examples/<file>, or
    (link_prefix None) to the examples' paths relative to the report."""
    path = Path(path)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>SeNT results</title>"
             f"<style>{_STYLE}</style><script>{_IMAGE_CHECK}{_PLAYER}</script></head><body>",
             "<h1>SeNT results</h1>"]
    if comparison:
        parts += ["<h2>SeNT vs the published results</h2>",
                  "<p>R² of the achieved attribute and the fraction of valid edits, seeds pooled per setting; "
                  "reference: the authors' run1e (their valid figures divided by 3, see docs/results.md). "
                  "Green: at least the reference.</p>",
                  _table(comparison, [("setting", "setting"), ("attribute", "attribute"), ("seeds", "seeds"),
                                      ("r2", "R²"), ("r2_reference", "R² ref"),
                                      ("valid", "valid"), ("valid_reference", "valid ref")],
                         compare={"r2": "r2_reference", "valid": "valid_reference"})]
    if baselines:
        methods = [k[:-3] for k in baselines[0] if k.endswith("_r2")]
        columns = [("setting", "setting"), ("attribute", "attribute")]
        for m in methods:
            label = f"{m} (ceiling)" if m in CEILINGS else m
            columns += [(f"{m}_r2", f"{label} R²"), (f"{m}_valid", f"{label} valid")]
        scored = [k[:-len("_untargeted")] for k in baselines[0] if k.endswith("_untargeted")]
        columns += [(f"{m}_untargeted", f"{m} untargeted") for m in scored]
        columns += [(f"{m}_success", f"{m} success") for m in scored]
        parts += ["<h2>SeNT and the baselines</h2>",
                  "<p>Same models, test pairs, decoder, extractor and metrics. identity: z1 unchanged; "
                  "oracle: z2; sent-target: z1 with SeNT's relevant (top-3 MI) dims taken from z2, the code SeNT's "
                  "loss drives towards. oracle and sent-target use the target melody's code: they are ceilings, "
                  "not competitors (SeNT below sent-target: not converged; sent-target low too: the VAE does "
                  "not allow the edit with those dims). attribute-vector: mean code differences; "
                  "linear-direction: a linear fit's direction; regularised-dimension: the attribute's own "
                  "latent dim (not for beta-VAE). verified: candidate codes (SeNT's, its move scaled, "
                  "attribute-vector, regularised-dimension, a line search) decoded and checked with the "
                  "extractor, the one reaching the value with the fewest other changes kept; it uses the "
                  "requested value only, no target melody. untargeted: mean change of the other attributes "
                  "(normalised), lower is better; success: the fraction of edits that reach the value and change "
                  "no other attribute (baselines.csv has it for every method).</p>",
                  _table(baselines, columns)]
    parts += [_model_section(d, path, link_prefix) for d in sorted(Path(p) for p in model_dirs)]
    parts.append("</body></html>")
    with atomic_path(path, ".html") as tmp:
        tmp.write_text("\n".join(parts))
    return path


def _model_section(d: Path, report: Path, link_prefix: str | None) -> str:
    """One model's provenance, figures per method, example players and MIDI links."""
    parts = [f'<div class="model"><h2>{html.escape(d.name)}</h2>' + _provenance(d)]
    for method in ("sent", *METHODS[1:], *BASELINES):
        figures = [d / f"{stem}{method_suffix(method)}.png" for stem in FIGURES]
        images = [_image(f) for f in figures if f.exists()]
        if images:
            parts += [f"<h3>method: {html.escape(method)}</h3>", *images]
    players, kinds = _examples(d)
    if players:
        parts.append("<h3>Example edits</h3><p>start melody, target example (a real melody with the "
                     "requested value), SeNT's edit" + (", the verified edit" if "verified" in kinds else "") +
                     "; &#9654; plays it (synthesised in the page)</p>" + players)
    examples = sorted((d / "examples").glob("*.mid")) if (d / "examples").is_dir() else []
    if examples:
        links = []
        for f in examples:
            href = f"{link_prefix}/{d.name}/examples/{f.name}" if link_prefix else os.path.relpath(f, report.parent)
            links.append(f'<a href="{html.escape(href)}">{html.escape(f.stem)}</a>')
        parts.append("<p>MIDI files: " + " · ".join(links) + "</p>")
    parts.append("</div>")
    return "\n".join(parts)
