"""Verified edits: every proposed latent code is decoded and checked before one is returned.

For an edit (a code z1 whose melody has attributes a1; attribute k to be set to value t) a few
candidate codes are decoded in one batch and scored with the exact attribute extractor:
- SeNT's code sp, and z1 + s (sp - z1) for each s in `scales` (its move shortened or lengthened);
- further proposals (in `evaluate` and `traverse`: attribute-vector and, where defined,
  regularised-dimension codes);
- then, for edits whose best candidate is not perfect, a short line search along that
  candidate's move: z1 + s (z_best - z1) for each s in `line`;
- then, for edits still not perfect, a search with the repository's surrogates (z -> attribute,
  the networks train-zc fits for SeNT's loss): a fixed number of gradient steps from the best
  code so far towards codes the surrogates predict to have the requested value and the kept ones;
  the codes after each of `search` steps are candidates (SurrogateSearch).
The candidate returned reaches t, changes the fewest other attributes, changes them least (sum of
|value change| / value range), and lies nearest z1, in that order. When none reaches t, the one
nearest t by the same order is returned, flagged as not reached. The extractor is part of the
tool, not of the test: this uses no target melody, only the requested value.

A `Judge` says what "reaches" and "changes" mean per attribute: equality for a categorical one;
within a tolerance (a fraction of the attribute's range) for a continuous one of a plug-in.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from sent.core.networks import ZtoC, decode_attributes, encode_attribute, load_zc
from sent.core.plugin import Plugin, invalid, load_plugin
from sent.util import validate
from sent.util.errors import SentError

MISSED = 10_000  # distance to the requested value of an invalid (undecodable) attribute


@dataclasses.dataclass(frozen=True)
class VerifyOptions:
    """The candidate budget: scales of SeNT's move, of the best candidate's move in the line
    search, and the surrogate-search steps after which a code is a candidate."""
    scales: tuple[float, ...] = (0.5, 1.5, 2.0, 3.0)
    line: tuple[float, ...] = (0.75, 1.25, 1.75, 2.5)
    search: tuple[int, ...] = (10, 25, 50)

    @classmethod
    def from_arguments(cls, scales=None, line=None, search=None) -> "VerifyOptions":
        """From the tools' --scales, --line and --search (comma-separated; defaults where None)."""
        default = cls()
        return cls(default.scales if scales is None else validate.positive_reals("scales", scales),
                   default.line if line is None else validate.positive_reals("line", line),
                   default.search if search is None else validate.increasing_wholes("search", search))

    @property
    def budget(self) -> int:
        """Decoded candidates per edit at most, besides the extra proposals."""
        return 1 + len(self.scales) + len(self.line) + len(self.search)


class _StackedZtoC:
    """ZtoC surrogates of one shape evaluated as one network: each layer one batched matmul for all
    of them (a search step on a single edit is otherwise dominated by per-layer call overhead)."""

    def __init__(self, models):
        layers = [[m for m in model.net if isinstance(m, torch.nn.Linear)] for model in models]
        self.weights = [torch.stack([ls[i].weight.detach().T for ls in layers]) for i in range(len(layers[0]))]
        self.biases = [torch.stack([ls[i].bias.detach() for ls in layers]).unsqueeze(1) for i in range(len(layers[0]))]

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """N x D codes -> G x N x width predictions."""
        h = z.unsqueeze(0).expand(len(self.weights[0]), -1, -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            h = torch.relu(h) if i < len(self.weights) - 1 else torch.sigmoid(h)
        return h


def _shape(model) -> tuple | None:
    """What ZtoC networks must share to be stacked (None: not a ZtoC, evaluated on its own)."""
    if not isinstance(model, ZtoC):
        return None
    return tuple(tuple(m.weight.shape) for m in model.net if isinstance(m, torch.nn.Linear))


def _network(models):
    """One callable (N x D -> G x N x width) for a group: stacked ZtoC networks, or one other network."""
    if _shape(models[0]) is not None:
        return _StackedZtoC(models)
    (model,) = models
    return lambda z: model(z)[None]


class SurrogateSearch:
    """Candidate codes from the repository's surrogates (one per attribute that has one): Adam
    steps on a code in SeNT's normalised space [-1, 1]^D, minimising the surrogates' squared error
    to the requested value (weighted TARGET_WEIGHT) and to every kept value. The surrogates were
    fitted on encoder codes, which carry each attribute in several dims, so the search may move
    dims SeNT's 3 do not; the decoder and the extractor still judge every code it proposes."""

    LR = 0.03
    TARGET_WEIGHT = 5.0

    def __init__(self, repo, surrogates: dict):
        """surrogates: attribute -> (network, its meta with "width")."""
        self.repo = repo
        self.widths = {g: meta["width"] for g, (_, meta) in surrogates.items()}
        groups: dict = {}
        for g, (model, _) in surrogates.items():
            shape = _shape(model)
            groups.setdefault(g if shape is None else shape, []).append(g)
        self.groups = [(members, _network([surrogates[g][0] for g in members])) for members in groups.values()]

    @classmethod
    def of(cls, repo) -> "SurrogateSearch | None":
        """The search over every surrogate the repository holds; None without surrogates."""
        present = [g for g in range(len(repo.names)) if repo.path(f"sent_ZC_{g}.model").is_file()]
        return cls(repo, {g: load_zc(repo, g) for g in present}) if present else None

    def __call__(self, codes: np.ndarray, wanted: np.ndarray, attribute: int, steps) -> list[np.ndarray]:
        """Raw codes after each of `steps` (increasing) Adam steps from raw `codes` (N x D), towards
        attributes `wanted` (N x F; invalid values are not targets). [] without a surrogate of
        `attribute` or without steps."""
        if attribute not in self.widths or not len(codes) or not len(steps):
            return []
        terms = []  # per group: its networks, targets (G x N x width), weights (G x N)
        for members, network in self.groups:
            targets, weights = [], []
            for g in members:
                valid = ~invalid(wanted[:, g])
                c = self.repo.normalise_c(np.where(valid, wanted[:, g], 0).astype(np.float64), g)
                targets.append(encode_attribute(torch.as_tensor(c), self.widths[g]))
                weights.append(torch.as_tensor((self.TARGET_WEIGHT if g == attribute else 1.0) * valid,
                                               dtype=torch.float32))
            terms.append((network, torch.stack(targets), torch.stack(weights)))
        z = torch.as_tensor(self.repo.normalise_z(codes)).requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=self.LR)
        snapshots = []
        with torch.enable_grad():  # callers decode under no_grad
            for step in range(1, max(steps) + 1):
                loss = sum((weight * ((network(z) - target) ** 2).sum(dim=2)).sum()
                           for network, target, weight in terms)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                with torch.no_grad():
                    z.clamp_(-1, 1)
                if step in steps:
                    snapshots.append(self.repo.denormalise_z(z.detach().numpy().copy()))
        return snapshots


DEFAULT_TOLERANCE = 0.05  # of a continuous attribute's range: reached / kept within it


@dataclasses.dataclass(frozen=True)
class Judge:
    """Per attribute: its span (what a change is relative to) and tolerance (0: values must be
    equal), and the plug-in that decodes and extracts."""
    spans: np.ndarray
    tolerances: np.ndarray
    plugin: Plugin

    @classmethod
    def for_plugin(cls, plugin: Plugin, f_range=None, tolerance: float = 0.0) -> "Judge":
        """Exact for categorical attributes (span: their number of values - 1); within TOLERANCE
        of the range in f_range ([min list, max list], needed only then) for continuous ones."""
        spans = np.array([max(len(a.values) - 1, 1) if a.categorical else
                          max(f_range[1][k] - f_range[0][k], 1e-12) for k, a in enumerate(plugin.attributes)],
                         dtype=np.float64)
        tolerances = np.array([0.0 if a.categorical else tolerance * span
                               for a, span in zip(plugin.attributes, spans)])
        return cls(spans, tolerances, plugin)

    @classmethod
    def exact(cls, n_attributes: int) -> "Judge":
        """Equality for every one of n_attributes attributes, no plug-in (comparisons only)."""
        return cls(np.ones(n_attributes), np.zeros(n_attributes), None)

    @classmethod
    def builtin(cls) -> "Judge":
        return cls.for_plugin(load_plugin(None))

    @classmethod
    def of(cls, repo, tolerance: float = DEFAULT_TOLERANCE) -> "Judge":
        """A repository's plug-in, continuous values judged against its fRange."""
        return cls.for_plugin(repo.plugin, repo.config["fRange"], tolerance)

    @property
    def dtype(self):
        return np.int64 if self.plugin.categorical else np.float64

    def reached(self, achieved: np.ndarray, attribute: int, target: np.ndarray) -> np.ndarray:
        value = achieved[..., attribute]
        return ~invalid(value) & (np.abs(value - target) <= self.tolerances[attribute])

    def changed(self, was: np.ndarray, got: np.ndarray, columns) -> np.ndarray:
        """Where the attributes `columns` (the last axis of was and got) changed beyond their
        tolerance. One invalid in `was` never counts; one that becomes invalid always does."""
        with np.errstate(invalid="ignore"):  # NaN - value, decided by invalid(got)
            return ~invalid(was) & (invalid(got) | (np.abs(got - was) > self.tolerances[columns]))


def _lexicographic_argmin(keys: list[np.ndarray]) -> np.ndarray:
    """Per row, the column minimising keys[0], ties broken by keys[1], and so on (each N x C)."""
    alive = np.ones(keys[0].shape, dtype=bool)
    for key in keys:
        masked = np.where(alive, key, np.inf)
        alive &= masked == masked.min(axis=1, keepdims=True)
    return alive.argmax(axis=1)


def rank_keys(achieved: np.ndarray, start: np.ndarray, attribute: int, target: np.ndarray,
              codes: np.ndarray, z1: np.ndarray, judge: Judge | None = None) -> list[np.ndarray]:
    """The ordering keys (each N x C) of candidates with decoded attributes `achieved` (N x C x F):
    distance to the requested value (0 within the judge's tolerance), number of other attributes
    changed (beyond their tolerance), their summed relative change, latent distance from z1.
    Other attributes invalid at the start are not counted; one that becomes invalid counts as a
    full-range change."""
    judge = judge or Judge.builtin()
    reached_value = achieved[:, :, attribute]
    off = np.abs(reached_value - target[:, None]).astype(np.float64)
    miss = np.where(invalid(reached_value), MISSED, np.where(off <= judge.tolerances[attribute], 0.0, off))
    others = [g for g in range(achieved.shape[2]) if g != attribute]
    got, was = achieved[:, :, others], start[:, None, others]
    changed = judge.changed(was, got, others)
    with np.errstate(invalid="ignore"):  # NaN - value, replaced by a full-range change
        size = np.where(invalid(got), 1.0, np.abs(got - was) / judge.spans[others]) * changed
    distance = np.linalg.norm(codes - z1[:, None, :], axis=2)
    return [miss, changed.sum(axis=2).astype(np.float64), size.sum(axis=2), distance]


def _choose(codes, achieved, start, attribute, target, z1, judge) -> np.ndarray:
    """Per edit, the index of its best candidate (codes N x C x D, achieved N x C x F)."""
    return _lexicographic_argmin(rank_keys(achieved, start, attribute, target, codes, z1, judge))


def _imperfect(chosen: dict, start, attribute, target, z1, judge) -> np.ndarray:
    """Rows whose chosen code misses the requested value or changes another attribute."""
    keys = rank_keys(chosen["achieved"][:, None], start, attribute, target, chosen["codes"][:, None], z1, judge)
    return np.flatnonzero((keys[0][:, 0] > 0) | (keys[1][:, 0] > 0))


def _refine(vae, chosen: dict, rows, extras: np.ndarray, offset: int, start, attribute, target, z1, judge) -> None:
    """Decode `extras` (len(rows) x E x D, further candidates for edits `rows`); where one beats the
    edit's chosen code, it becomes the chosen one (chosen's codes, achieved and candidate, offset +
    its index, are updated in place). Ties go to the code chosen before."""
    r, e, d = extras.shape
    extra_achieved = decode_attributes(vae, extras.reshape(r * e, d), plugin=judge.plugin).reshape(r, e, -1)
    both = np.concatenate([chosen["codes"][rows, None], extras], axis=1)
    both_achieved = np.concatenate([chosen["achieved"][rows, None], extra_achieved], axis=1)
    sub_best = _choose(both, both_achieved, start[rows], attribute, target[rows], z1[rows], judge)
    won = sub_best > 0
    winners = rows[won]
    chosen["codes"][winners] = both[won, sub_best[won]]
    chosen["achieved"][winners] = both_achieved[won, sub_best[won]]
    chosen["candidate"][winners] = offset + sub_best[won] - 1


def verified_codes(vae, z1: np.ndarray, start: np.ndarray, attribute: int, target: np.ndarray,
                   sent_codes: np.ndarray, proposals: dict[str, np.ndarray] | None = None,
                   options: VerifyOptions = VerifyOptions(), judge: Judge | None = None,
                   search: SurrogateSearch | None = None) -> dict:
    """Verified edits of raw codes z1 (N x D) whose items have attributes `start` (N x F), to
    value `target` (N) of `attribute`. `sent_codes` (N x D): SeNT's raw codes; `proposals`: name ->
    further raw codes (N x D); `judge`: the plug-in and its comparisons (default: dMelodies);
    `search`: the surrogates, searched for options.search steps (no search without it).
    Returns codes (N x D), achieved (N x F), reached (N, bool), candidate (N, index into `names`,
    the candidates' labels), first (N, the first round's best, whose move the line search
    follows) and searched (the codes of the edits a search step won, in row order): with the
    inputs, enough for rebuild_codes."""
    judge = judge or Judge.builtin()
    z1 = np.asarray(z1, dtype=np.float32)
    start, target = np.asarray(start, dtype=judge.dtype), np.asarray(target, dtype=judge.dtype).reshape(-1)
    move = np.asarray(sent_codes, dtype=np.float32) - z1
    names = ["sent", *(f"sent x{s:g}" for s in options.scales), *(proposals or {})]
    candidates = [z1 + move, *(z1 + s * move for s in options.scales),
                  *(np.asarray(p, dtype=np.float32) for p in (proposals or {}).values())]
    codes = np.stack(candidates, axis=1)  # N x C x D
    n, c, d = codes.shape
    achieved = decode_attributes(vae, codes.reshape(n * c, d), plugin=judge.plugin).reshape(n, c, -1)
    first = _choose(codes, achieved, start, attribute, target, z1, judge)
    rows = np.arange(n)
    chosen = {"codes": codes[rows, first], "achieved": achieved[rows, first], "candidate": first.copy()}
    context = (start, attribute, target, z1, judge)

    todo = _imperfect(chosen, *context)
    if options.line and len(todo):
        direction = chosen["codes"][todo] - z1[todo]
        line = np.stack([z1[todo] + s * direction for s in options.line], axis=1)  # T x L x D
        _refine(vae, chosen, todo, line, len(names), *context)
    names += [f"line x{s:g}" for s in options.line]

    searched_from = len(names)
    if search is not None and options.search:
        todo = _imperfect(chosen, *context)
        wanted = start[todo].copy()
        wanted[:, attribute] = target[todo]
        snapshots = search(chosen["codes"][todo], wanted, attribute, options.search)
        if snapshots:
            _refine(vae, chosen, todo, np.stack(snapshots, axis=1), searched_from, *context)
        names += [f"search {s}" for s in options.search]
    return {"codes": chosen["codes"], "achieved": chosen["achieved"],
            "reached": judge.reached(chosen["achieved"], attribute, target),
            "candidate": chosen["candidate"], "first": first, "names": names,
            "searched": chosen["codes"][chosen["candidate"] >= searched_from]}


def rebuild_codes(z1: np.ndarray, sent_codes: np.ndarray, proposals: dict[str, np.ndarray], first: np.ndarray,
                  candidate: np.ndarray, options: VerifyOptions, searched: np.ndarray | None = None) -> np.ndarray:
    """The codes verified_codes chose, from its inputs and its choices (candidate, first), by the
    same float32 operations, and the codes the surrogate search won (`searched`, stored: a
    gradient search is not worth repeating): so a verified method need not store all its codes."""
    z1 = np.asarray(z1, dtype=np.float32)
    move = np.asarray(sent_codes, dtype=np.float32) - z1
    round1 = np.stack([z1 + move, *(z1 + s * move for s in options.scales),
                       *(np.asarray(p, dtype=np.float32) for p in proposals.values())], axis=1)
    rows, c = np.arange(len(z1)), round1.shape[1]
    candidate, first = np.asarray(candidate, dtype=np.int64), np.asarray(first, dtype=np.int64)
    codes = round1[rows, np.minimum(candidate, c - 1)]
    for step, s in enumerate(options.line):
        on = candidate == c + step
        codes[on] = z1[on] + s * (round1[rows[on], first[on]] - z1[on])
    by_search = candidate >= c + len(options.line)
    if by_search.any():
        if searched is None or len(searched) != by_search.sum():
            raise SentError(f"{by_search.sum()} verified edits chose a surrogate-search code, but "
                            f"{0 if searched is None else len(searched)} such codes are stored")
        codes[by_search] = searched
    return codes


def moved_attributes(start: np.ndarray, achieved: np.ndarray, attribute: int, names) -> list[str]:
    """Names of the other attributes whose value differs between two attribute rows (F each)."""
    return [names[g] for g in range(len(start)) if g != attribute and start[g] >= 0 and achieved[g] != start[g]]
