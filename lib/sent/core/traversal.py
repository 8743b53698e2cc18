"""SeNT traversal functions (spec steps 5-7): the ZtoC surrogate, SentNet, their training, prediction.

All latent codes here are normalised to [-1, 1] (Repository.normalise_z) and attribute values
to [0, 1]; the perceptual loss de-normalises SentNet's output, decodes it with the model's
decoder and scores the decoded item with the attribute extractor (both from the repository's
plug-in: the dMelodies VAE and the exact extractor when built-in).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from sent.core.networks import (
    SENT_FORMAT,
    ZC_FORMAT,
    SentNet,
    ZtoC,
    attribute_width,
    decode_attributes,
    encode_attribute,
    load_sent,
    load_zc,
)
from sent.core.plugin import invalid
from sent.core.repository import Repository, load_index_file
from sent.core.scores import scores
from sent.util.errors import SentError
from sent.util.io import atomic_path, load_torch, save_torch

SCHEDULES = ("constant", "cosine")
SELECTIONS = ("loss", "validation", "validation-loss")
SELECTED_SCORE = {"validation": "lossC", "validation-loss": "loss"}  # the held-out score each keeps lowest
CURVE_SCORES = ("r2", "valid", "lossC", "lossR", "lossI", "loss")


# ---------------------------------------------------------------- attribute encodings



# ---------------------------------------------------------------- networks



# ---------------------------------------------------------------- options

@dataclasses.dataclass
class SentOptions:
    """Training options of one traversal function; defaults are the paper's run ("run1e")."""

    epochs: int = 400
    batch_size: int = 64
    lr: float = 1e-3
    lambdas: tuple[float, float, float] = (1.0, 1.0, 1.0)
    one_hot: bool = False         # h
    simulate: bool = False        # s
    iscale: int = 1               # i: 2
    pre_stages: bool = False      # p
    with_target: bool = False     # c
    max_pairs: int | None = None  # limit on training pairs
    seed: int = 0
    # Convergence levers; the defaults leave the paper's recipe unchanged.
    steps: int | None = None      # stop after this many optimiser steps (default: all epochs)
    schedule: str = "constant"    # or "cosine": lr decays to 0 over the run's steps
    validation: int = 0           # training pairs held out (the last ones) to score the function on
    score_every: int = 0          # steps between validation scores (0: at the end of each epoch)
    # keep the epoch of lowest mean loss, or "validation": lowest validation lossC, or "validation-loss":
    # lowest validation loss (lossR + lossI + lossC, the training objective with the decoded lossC)
    select: str = "loss"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise SentError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.select not in SELECTIONS:
            raise SentError(f"select must be one of {', '.join(SELECTIONS)}, got {self.select!r}")
        if self.select != "loss" and not self.validation:
            raise SentError(f"select={self.select!r} needs held-out pairs (validation >= 1)")

    @classmethod
    def from_letters(cls, letters: str, **overrides) -> "SentOptions":
        """Options from the original run-name letters (h, s, i, p, c; e is the repository's pair split)."""
        unknown = set(letters) - set("ehsipc")
        if unknown:
            raise SentError(f"unknown variant letter(s) {''.join(sorted(unknown))!r}; valid: e h s i p c")
        return cls(one_hot="h" in letters, simulate="s" in letters, iscale=2 if "i" in letters else 1,
                   pre_stages="p" in letters, with_target="c" in letters, **overrides)


# ---------------------------------------------------------------- perceptual loss

class Perception:
    """Decoded attribute of normalised latent codes: the plug-in's decoder and extractor (no gradient)."""

    def __init__(self, repo: Repository, vae, attribute: int):
        if vae.latent_dim != repo.latent_dim:
            raise SentError(f"model latent size {vae.latent_dim} does not match the "
                            f"repository's {repo.latent_dim}")
        self.repo, self.vae, self.attribute = repo, vae, attribute
        self.plugin = repo.plugin
        # decode and extract once before timing: numba compiles on first use
        self.plugin.extract(self.plugin.decode(self.vae, np.zeros((1, repo.latent_dim), dtype=np.float32)))
        self.extract_seconds = 0.0

    @torch.no_grad()
    def attributes(self, zn: torch.Tensor) -> np.ndarray:
        """All decoded attributes (B, K) of normalised codes; times the extractor."""
        items = self.plugin.decode(self.vae, self.repo.denormalise_z(zn.detach().float()))
        start = time.perf_counter()
        attrs = self.plugin.extract(items)
        self.extract_seconds += time.perf_counter() - start
        return attrs

    def loss(self, zn: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of 1 (invalid) or (c - c2)^2, c the decoded attribute normalised."""
        a = self.attributes(zn)[:, self.attribute]
        bad = invalid(a)
        c = torch.as_tensor(self.repo.normalise_c(np.where(bad, 0, a).astype(np.float64), self.attribute),
                            dtype=c2.dtype)
        per_sample = torch.where(torch.as_tensor(bad), torch.ones_like(c), (c - c2) ** 2)
        return per_sample.mean()


# ---------------------------------------------------------------- training

def _pairs_tensors(repo: Repository, attribute: int, side: str, max_pairs: int | None = None):
    z1, c1, z2, c2 = repo.pairs(attribute, side)
    if max_pairs:
        z1, c1, z2, c2 = z1[:max_pairs], c1[:max_pairs], z2[:max_pairs], c2[:max_pairs]
    if len(z1) == 0:
        raise SentError(f"{repo.dir}: no {side} pairs for attribute {attribute} ({repo.names[attribute]})")
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return t(z1), t(c1[:, attribute]), t(z2), t(c2[:, attribute])


def _write_csv(path, header, rows):
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text(",".join(header) + "\n" + "".join(
            ",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows))


def train_zc(repo: Repository, attribute: int, epochs: int = 400, batch_size: int = 64, lr: float = 0.002,
             target_loss: float = 0.01, max_restarts: int = 10, one_hot: bool = False,
             max_pairs: int | None = None, seed: int = 0, progress: bool = False, log=None) -> dict:
    """Train the surrogate on the training pairs; restart with a fresh model until the best epoch
    loss is below target_loss (at most max_restarts restarts). Writes sent_ZC_<f>.model and
    train_zc_<f>.csv into the repository; returns a summary ("reached": the target was met).
    `log`, if given, receives one line per finished restart."""
    z1, c1, z2, c2 = _pairs_tensors(repo, attribute, "train", max_pairs)
    width = attribute_width(repo.plugin, attribute, one_hot)
    e1, e2 = encode_attribute(c1, width), encode_attribute(c2, width)
    rows, best = [], (math.inf, None, -1)
    started = time.perf_counter()
    for restart in range(max_restarts + 1):
        torch.manual_seed(seed + restart)
        model = ZtoC(repo.latent_dim, width)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for epoch in range(epochs):
            order = torch.randperm(len(z1))
            total = 0.0
            for start in range(0, len(z1), batch_size):
                b = order[start:start + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = F.mse_loss(model(z1[b]), e1[b])
                loss.backward()
                loss2 = F.mse_loss(model(z2[b]), e2[b])
                loss2.backward()
                opt.step()
                total += (loss.item() + loss2.item()) * len(b)
            epoch_loss = total / (2 * len(z1))
            if not math.isfinite(epoch_loss):
                break  # a diverged restart: the next one starts fresh
            if epoch_loss < best[0]:
                best = (epoch_loss, {k: v.clone() for k, v in model.state_dict().items()}, restart)
            rows.append((restart, epoch, epoch_loss, best[0]))
            if progress:
                print(f"zc {repo.names[attribute]} restart {restart} epoch {epoch}: loss {epoch_loss:.3g}", flush=True)
        if log:
            log(f"{repo.names[attribute]}: surrogate restart {restart + 1} of at most {max_restarts + 1}: best loss "
                f"{best[0]:.3g} (target {target_loss:g}), {time.perf_counter() - started:.0f} s so far")
        if best[0] < target_loss:
            break
    if best[1] is None:
        raise SentError(f"{repo.dir}: surrogate training for attribute {attribute} never produced a finite loss")
    meta = {"attribute": attribute, "name": repo.names[attribute], "latent_dim": repo.latent_dim, "width": width,
            "one_hot": one_hot, "best_loss": best[0], "restarts": best[2], "epochs": epochs,
            "target_loss": target_loss, "reached": best[0] < target_loss}
    _write_csv(repo.path(f"train_zc_{attribute}.csv"), ("restart", "epoch", "loss", "best"), rows)
    save_torch(repo.path(f"sent_ZC_{attribute}.model"), ZC_FORMAT, meta, best[1])
    return meta


def _learning_rate(options: SentOptions, total_steps: int):
    """The lr factor of step s: constant, or cosine from 1 to 0 over the run."""
    if options.schedule == "cosine":
        return lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))
    return lambda s: 1.0


def code_losses(out, z1, z2, corr, uncorr):
    """SeNT's lossR (MSE towards z2 on the relevant dims) and lossI (towards z1 on the others), as
    training and the held-out objective both compute them."""
    return F.mse_loss(out[:, corr], z2[:, corr]), F.mse_loss(out[:, uncorr], z1[:, uncorr])


class Validation:
    """The held-out training pairs of one attribute, scored by decoding: the R^2 and valid fraction
    of the evaluation (sent.core.scores.scores), the mean perceptual loss lossC (1 per invalid melody,
    else the squared error of the normalised value: what select='validation' minimises) and the
    training objective with that lossC, l1 lossR + l2 lossI + l3 lossC (what select='validation-loss'
    minimises: lossC alone can prefer an early network that still moves the irrelevant dims, which
    changes other attributes)."""

    def __init__(self, repo: Repository, attribute: int, vae, rows: slice, one_hot: bool,
                 corr: torch.Tensor, uncorr: torch.Tensor, lambdas=(1.0, 1.0, 1.0)):
        z1, c1, z2, c2 = repo.pairs(attribute, "train")
        _, self.a1, _, self.a2 = (a[rows] for a in repo.raw_pairs(attribute, "train"))
        t = lambda a: torch.as_tensor(a[rows], dtype=torch.float32)  # noqa: E731
        self.z1, self.z2 = t(z1), t(z2)
        width = attribute_width(repo.plugin, attribute, one_hot)
        self.e1, self.e2 = encode_attribute(t(c1[:, attribute]), width), encode_attribute(t(c2[:, attribute]), width)
        self.c2 = c2[rows, attribute].astype(np.float64)
        self.corr, self.uncorr, self.lambdas = corr, uncorr, lambdas
        self.repo, self.attribute, self.vae = repo, attribute, vae

    @torch.no_grad()
    def score(self, net: SentNet) -> dict:
        was_training = net.training
        net.eval()
        out = net(self.z1, self.e1, self.e2)
        net.train(was_training)
        codes = self.repo.denormalise_z(out).numpy()
        achieved = decode_attributes(self.vae, codes, plugin=self.repo.plugin)
        a = achieved[:, self.attribute]
        c = self.repo.normalise_c(a.astype(np.float64), self.attribute)
        loss_c = float(np.where(invalid(a), 1.0, (c - self.c2) ** 2).mean())
        loss_r, loss_i = map(float, code_losses(out, self.z1, self.z2, self.corr, self.uncorr))
        l1, l2, l3 = self.lambdas
        s = scores(self.a1, self.a2, achieved, self.repo.config["fRange"], self.attribute)
        return {"r2": s["r2"], "valid": s["valid"], "lossC": loss_c, "lossR": loss_r, "lossI": loss_i,
                "loss": l1 * loss_r + l2 * loss_i + l3 * loss_c}


def train_sent(repo: Repository, attribute: int, vae, options: SentOptions, progress: bool = False,
               lrs: tuple[float, ...] = (), seeds: tuple[int, ...] = ()) -> dict:
    """Train SentNet for one attribute; writes sent_<f>.model and train_<f>.csv (per epoch), and
    with held-out pairs curve_<f>.csv (step, training seconds, validation r2, valid, lossC, lossR,
    lossI, loss).

    Loss = l1 MSE(out, z2) on the relevant dims + l2 MSE(out, z1) on the irrelevant dims + l3 lossC.
    lossC is the true perceptual loss (decode + extract) carrying the surrogate's gradient, or with
    `simulate` the surrogate loss itself: the gradient, hence the trajectory, is the same either
    way, and the decoded value only decides which network is kept. The network kept is
    the epoch of lowest mean loss (the paper's choice, by epoch mean) or the scored step of lowest
    validation lossC (select='validation') or validation loss (select='validation-loss').

    With several learning rates `lrs` (instead of options.lr), one function is trained per rate,
    from the same initial network on the same batches, and the one of lowest selected validation
    score is kept (a validation selection only): a rate that suits most attributes can leave one
    stuck on a plateau (docs/data/sent-lr-check). Several `seeds` (instead of options.seed) do the
    same over initial networks, one function per seed and rate: an initial network can lead to a
    plateau that another escapes (docs/models.md). The files are the kept run's; the model's
    metadata lists every candidate's seed, rate and that score.
    """
    rates = _learning_rates(options, lrs)
    starts = [(seed, lr) for seed in (tuple(seeds) or (options.seed,)) for lr in rates]
    if len(starts) > len(rates) and options.select == "loss":
        raise SentError(f"{len(starts) // len(rates)} seeds need select='validation' or 'validation-loss' to "
                        f"choose between them (the training loss would favour an overfitted network)")
    problem = SentProblem(repo, attribute, vae, options)
    # The best network so far and the logs live under .partial names until the last step of the
    # last candidate: an interrupted run never leaves a sent_<k>.model (or a log) that evaluate
    # would take for finished.
    final = {name: repo.path(f"{name}_{attribute}{ext}") for name, ext in
             (("sent", ".model"), ("train", ".csv"), ("curve", ".csv"))}
    runs = []
    for i, (seed, lr) in enumerate(starts):
        suffix = ".partial" if len(starts) == 1 else f".{i}.partial"
        partial = {name: Path(f"{path}{suffix}") for name, path in final.items()}
        runs.append((SentRun(problem, lr, seed, partial, progress, several=len(starts) > 1).train(), partial))
    summary, candidates = _keep_best(runs, final)
    perception = problem.perception
    return {**summary, "candidates": candidates, "seconds": sum(run["seconds"] for run, _ in runs),
            "extract_seconds": perception.extract_seconds if perception else 0.0}


def _learning_rates(options: SentOptions, lrs) -> tuple[float, ...]:
    rates = tuple(float(lr) for lr in lrs) or (options.lr,)
    if len(rates) > 1 and options.select == "loss":
        raise SentError(f"{len(rates)} learning rates need select='validation' or 'validation-loss' to choose "
                        f"between them (training losses at different rates are not comparable)")
    if any(not math.isfinite(lr) or lr <= 0 for lr in rates):
        raise SentError(f"learning rates must be positive numbers, got {', '.join(map(str, rates))}")
    return rates


class SentProblem:
    """What every learning rate's run of one attribute shares: the training pairs and their
    encodings, the relevant dims, the frozen surrogate, the perception and the held-out pairs."""

    def __init__(self, repo: Repository, k: int, vae, options: SentOptions):
        self.repo, self.k, self.options = repo, k, options
        self.corr = torch.as_tensor(load_index_file(repo.path(f"corr_index_{k}.txt"), repo.latent_dim))
        self.uncorr = torch.as_tensor(load_index_file(repo.path(f"uncorr_index_{k}.txt"), repo.latent_dim))
        self.zc = self._frozen_surrogate()
        self.perception = None if options.simulate else Perception(repo, vae, k)
        z1, c1, z2, c2 = _pairs_tensors(repo, k, "train")
        available = len(z1) - options.validation
        if available < 1:
            raise SentError(f"{repo.names[k]}: {len(z1)} training pairs, too few to hold out {options.validation}")
        self.validation = (Validation(repo, k, vae, slice(available, len(z1)), options.one_hot, self.corr,
                                      self.uncorr, options.lambdas) if options.validation else None)
        self.n = n = min(available, options.max_pairs or available)
        self.z1, self.z2, self.c2 = z1[:n], z2[:n], c2[:n]
        width = attribute_width(repo.plugin, k, options.one_hot)
        self.e1, self.e2 = encode_attribute(c1[:n], width), encode_attribute(c2[:n], width)
        self.total_steps = min(options.steps or math.inf, options.epochs * math.ceil(n / options.batch_size))
        self.lr_factor = _learning_rate(options, self.total_steps)

    def _frozen_surrogate(self) -> ZtoC:
        zc, zc_meta = load_zc(self.repo, self.k)
        if zc_meta["one_hot"] != self.options.one_hot:
            raise SentError(f"surrogate for attribute {self.k} was trained with one_hot={zc_meta['one_hot']}, "
                            f"but train-sent was asked for one_hot={self.options.one_hot}")
        for p in zc.parameters():
            p.requires_grad_(False)
        return zc

    def losses(self, net: SentNet, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(loss, lossR, lossI, lossC) of one batch b (indices into the training pairs)."""
        out = net(self.z1[b], self.e1[b], self.e2[b])
        loss_r, loss_i = code_losses(out, self.z1[b], self.z2[b], self.corr, self.uncorr)
        surrogate = F.mse_loss(self.zc(out), self.e2[b])
        if self.perception is None:
            loss_c = surrogate
        else:  # the true value, the surrogate's gradient
            loss_c = surrogate + (self.perception.loss(out, self.c2[b]) - surrogate).detach()
        l1, l2, l3 = self.options.lambdas
        return l1 * loss_r + l2 * loss_i + l3 * loss_c, loss_r, loss_i, loss_c


class SentRun:
    """One training run from one seed's initial network at one learning rate, its files at the
    `partial` paths."""

    def __init__(self, problem: SentProblem, lr: float, seed: int, partial: dict, progress: bool, several: bool):
        self.p, self.lr, self.partial, self.progress, self.several = problem, lr, partial, progress, several
        self.label = f"lr {lr:g} seed {seed}"
        options, repo, k = problem.options, problem.repo, problem.k
        torch.manual_seed(seed)
        self.net = SentNet(repo.latent_dim, problem.e1.shape[1], options.iscale, options.pre_stages,
                           options.with_target)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.meta = {"attribute": k, "name": repo.names[k], "net": self.net.options,
                     "options": dataclasses.asdict(dataclasses.replace(options, lr=lr, seed=seed)),
                     "relevant": problem.corr.tolist(), "model_id": repo.model_id}
        self.rows, self.curve, self.best, self.step, self.seconds = [], [], math.inf, 0, 0.0

    def train(self) -> dict:
        p, options = self.p, self.p.options
        if p.validation is not None:
            self.score_validation(0)
        epoch = 0
        while self.step < p.total_steps:
            means = self.train_epoch(epoch)
            self.end_epoch(epoch, means)
            epoch += 1
        if not self.rows:
            raise SentError(f"{p.repo.names[p.k]}: no epochs to train (epochs={options.epochs})")
        return {**self.meta, "best_loss": self.best, "seconds": self.seconds, "steps": self.step,
                "curve": bool(self.curve)}

    def train_epoch(self, epoch: int) -> np.ndarray:
        """One pass over the shuffled pairs (or up to the last step); the mean losses."""
        p, options = self.p, self.p.options
        clock = time.perf_counter()
        self.net.train()
        order = torch.randperm(p.n)
        sums, seen = np.zeros(4), 0
        for start in range(0, p.n, options.batch_size):
            b = order[start:start + options.batch_size]
            for group in self.opt.param_groups:
                group["lr"] = self.lr * p.lr_factor(self.step)
            losses = p.losses(self.net, b)
            self.opt.zero_grad(set_to_none=True)
            losses[0].backward()
            self.opt.step()
            self.step += 1
            sums += np.array([x.item() for x in losses]) * len(b)
            seen += len(b)
            if p.validation is not None and options.score_every and self.step % options.score_every == 0:
                self.seconds += time.perf_counter() - clock
                self.score_validation(epoch)
                clock = time.perf_counter()
            if self.step >= p.total_steps:
                break
        self.seconds += time.perf_counter() - clock
        return sums / seen

    def end_epoch(self, epoch: int, means: np.ndarray) -> None:
        p, options, name = self.p, self.p.options, self.p.repo.names[self.p.k]
        if not np.isfinite(means).all():
            kept = (f"best model so far (loss {self.best:.4g}) in {self.partial['sent']}" if math.isfinite(self.best)
                    else "no model saved")
            rate = f" ({self.label})" if self.several else ""
            raise SentError(f"{name}{rate}: loss became NaN/inf at epoch {epoch}; {kept}")
        if options.select == "loss" and means[0] < self.best:
            self.best = float(means[0])
            self.save(epoch)
        self.rows.append((epoch, *map(float, means), self.best))
        _write_csv(self.partial["train"], ("epoch", "loss", "lossR", "lossI", "lossC", "best"), self.rows)
        if p.validation is not None and (not options.score_every or
                                         (self.step >= p.total_steps and self.curve[-1][0] != self.step)):
            self.score_validation(epoch)
        if self.progress:
            print(f"sent {name} {self.label} epoch {epoch}: loss {means[0]:.4f} R {means[1]:.4f} "
                  f"I {means[2]:.4f} C {means[3]:.4f}", flush=True)

    def score_validation(self, epoch: int) -> None:
        v = self.p.validation.score(self.net)
        self.curve.append((self.step, self.seconds, *(v[c] for c in CURVE_SCORES)))
        _write_csv(self.partial["curve"], ("step", "seconds", *CURVE_SCORES), self.curve)
        measure = SELECTED_SCORE.get(self.p.options.select)
        if measure and self.step > 0 and v[measure] < self.best:  # never the untrained network
            self.best = v[measure]
            self.save(epoch, validation=v)
        if self.progress:
            print(f"sent {self.p.repo.names[self.p.k]} {self.label} step {self.step}: validation r2 "
                  f"{v['r2']:.4f} valid {v['valid']:.3f} lossC {v['lossC']:.4f}", flush=True)

    def save(self, epoch: int, **extra) -> None:
        save_torch(self.partial["sent"], SENT_FORMAT, {**self.meta, "epoch": epoch, "step": self.step,
                                                       "loss": self.best, **extra}, self.net.state_dict())


def _keep_best(runs: list[tuple[dict, dict]], final: dict) -> tuple[dict, list[dict]]:
    """Move the files of the run of lowest selected score into place and drop the others';
    (that run's summary, every candidate's seed, rate and score)."""
    summary, partial = min(runs, key=lambda run: run[0]["best_loss"])  # the first of equals
    candidates = [{"seed": run["options"]["seed"], "lr": run["options"]["lr"], "loss": run["best_loss"]}
                  for run, _ in runs]
    if len(runs) > 1:  # the kept network records what it was chosen from
        meta, state = load_torch(partial["sent"], SENT_FORMAT)
        save_torch(partial["sent"], SENT_FORMAT, {**meta, "candidates": candidates}, state)
    os.replace(partial["train"], final["train"])
    if summary.pop("curve"):
        os.replace(partial["curve"], final["curve"])
    else:
        final["curve"].unlink(missing_ok=True)  # a curve from an earlier run would describe another function
    os.replace(partial["sent"], final["sent"])
    for _, other in runs:
        for path in other.values():
            path.unlink(missing_ok=True)
    return summary, candidates


# ---------------------------------------------------------------- prediction



@torch.no_grad()
def predict(repo: Repository, attribute: int, vae, batch_size: int = 4096):
    """Test-pair predictions: (de-normalised SentNet codes, attributes of their decoded melodies)."""
    net, meta = load_sent(repo, attribute)
    Perception(repo, vae, attribute)  # checks that the model fits the repository
    width = attribute_width(repo.plugin, attribute, meta["options"]["one_hot"])
    z1, c1, _, c2 = _pairs_tensors(repo, attribute, "test")
    out = net(z1, encode_attribute(c1, width), encode_attribute(c2, width))
    sp = repo.denormalise_z(out).numpy()
    return sp, decode_attributes(vae, sp, batch_size, plugin=repo.plugin)


