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
from torch import nn
from torch.nn import functional as F

from sent.errors import SentError
from sent.io import atomic_path, load_torch, save_torch
from sent.plugin import Plugin, invalid, load_plugin
from sent.repository import Repository, load_index_file

ZC_FORMAT = "sent-zc/1"
SENT_FORMAT = "sent-net/1"
SCHEDULES = ("constant", "cosine")
SELECTIONS = ("loss", "validation", "validation-loss")
SELECTED_SCORE = {"validation": "lossC", "validation-loss": "loss"}  # the held-out score each keeps lowest
CURVE_SCORES = ("r2", "valid", "lossC", "lossR", "lossI", "loss")


# ---------------------------------------------------------------- attribute encodings

def attribute_width(plugin: Plugin, attribute: int, one_hot: bool) -> int:
    """Width of an attribute's encoding: 1 (normalised value) or its number of values (one-hot)."""
    return plugin.value_count(attribute) if one_hot else 1


def encode_attribute(c: torch.Tensor, width: int) -> torch.Tensor:
    """Normalised values (B,) -> (B, width): the value itself (width 1), or a one-hot of its index."""
    if width == 1:
        return c.reshape(-1, 1)
    return F.one_hot(torch.round(c * (width - 1)).long().clamp(0, width - 1), width).float()


# ---------------------------------------------------------------- networks

class ZtoC(nn.Module):
    """Surrogate z -> c: widths 4D, 2D, D, ... halving while >= 16, then the attribute width, sigmoid."""

    def __init__(self, latent_dim: int = 32, width: int = 1):
        super().__init__()
        layers, w_in, w = [], latent_dim, 4 * latent_dim
        while w >= 16:
            layers += [nn.Linear(w_in, w), nn.ReLU()]
            w_in, w = w, w // 2
        layers += [nn.Linear(w_in, width), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.latent_dim, self.width = latent_dim, width

    def forward(self, z):
        return self.net(z)


class SentNet(nn.Module):
    """SentNet(z1, c1, c2) -> z in [-1, 1]^D, the traversal function of one attribute."""

    def __init__(self, latent_dim: int = 32, c_width: int = 1, iscale: int = 1, pre_stages: bool = False,
                 with_target: bool = False):
        super().__init__()
        w = iscale * latent_dim
        self.options = {"latent_dim": latent_dim, "c_width": c_width, "iscale": iscale,
                        "pre_stages": pre_stages, "with_target": with_target}
        self.in_z = nn.Linear(latent_dim, 2 * w)
        self.in_c1 = nn.Linear(c_width, w)
        self.in_c2 = nn.Linear(c_width, w)
        self.pre_c1 = nn.Linear(w, w) if pre_stages else None
        self.pre_c2 = nn.Linear(w, w) if pre_stages else None
        self.hidden = nn.Linear((4 if with_target else 3) * w, 2 * w)
        self.out = nn.Linear(2 * w, latent_dim)

    def forward(self, z1, c1, c2):
        in_z = F.relu(self.in_z(z1))
        a = F.relu(self.in_c1(c1))
        b = target = F.relu(self.in_c2(c2))
        if self.pre_c1 is not None:
            a, b = F.relu(self.pre_c1(a)), F.relu(self.pre_c2(b))
        parts = [a - b, in_z] + ([target] if self.options["with_target"] else [])
        return torch.tanh(self.out(F.relu(self.hidden(torch.cat(parts, dim=1)))))


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
    # Convergence levers (issue #13); the defaults leave the paper's recipe unchanged.
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


def _network_from_file(path, meta: dict, state: dict, build, latent_dim: int):
    """The network a model file describes, with one-line errors where its metadata or weights
    do not fit (a hand-edited or foreign file) or its codes are not the repository's width."""
    try:
        model = build(meta)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise SentError(f"{path}: damaged metadata in the model file ({type(exc).__name__}: {exc})") from None
    except RuntimeError as exc:  # load_state_dict: missing keys or tensors of other shapes
        detail = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)]
        raise SentError(f"{path}: the weights do not fit the network the file describes ({detail[0]})") from None
    width = model.options["latent_dim"] if isinstance(model, SentNet) else model.latent_dim
    if width != latent_dim:
        raise SentError(f"{path}: made for {width}-dim codes, but the repository's codes have {latent_dim} dims")
    return model.eval()


def load_zc(repo: Repository, attribute: int) -> tuple[ZtoC, dict]:
    path = repo.path(f"sent_ZC_{attribute}.model")
    if not path.exists():
        raise SentError(f"{path}: no surrogate for attribute {attribute} ({repo.names[attribute]}); run train-zc first")
    meta, state = load_torch(path, ZC_FORMAT)
    return _network_from_file(path, meta, state, lambda m: ZtoC(m["latent_dim"], m["width"]), repo.latent_dim), meta


def load_sent(repo: Repository, attribute: int) -> tuple[SentNet, dict]:
    path = repo.path(f"sent_{attribute}.model")
    if not path.exists():
        raise SentError(f"{path}: no traversal function for attribute {attribute}; run train-sent first")
    meta, state = load_torch(path, SENT_FORMAT)
    return _network_from_file(path, meta, state, lambda m: SentNet(**m["net"]), repo.latent_dim), meta


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
    of the evaluation (sent.metrics.scores), the mean perceptual loss lossC (1 per invalid melody,
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
        from sent.metrics import scores

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
               lrs: tuple[float, ...] = ()) -> dict:
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
    stuck on a plateau (docs/data/sent-lr-check). The files are the kept run's; the model's metadata
    lists every candidate's rate and that score.
    """
    k = attribute
    rates = tuple(float(lr) for lr in lrs) or (options.lr,)
    if len(rates) > 1 and options.select == "loss":
        raise SentError(f"{len(rates)} learning rates need select='validation' or 'validation-loss' to choose "
                        f"between them (training losses at different rates are not comparable)")
    if any(not math.isfinite(lr) or lr <= 0 for lr in rates):
        raise SentError(f"learning rates must be positive numbers, got {', '.join(map(str, rates))}")
    corr = torch.as_tensor(load_index_file(repo.path(f"corr_index_{k}.txt"), repo.latent_dim))
    uncorr = torch.as_tensor(load_index_file(repo.path(f"uncorr_index_{k}.txt"), repo.latent_dim))
    zc, zc_meta = load_zc(repo, k)
    if zc_meta["one_hot"] != options.one_hot:
        raise SentError(f"surrogate for attribute {k} was trained with one_hot={zc_meta['one_hot']}, "
                        f"but train-sent was asked for one_hot={options.one_hot}")
    for p in zc.parameters():
        p.requires_grad_(False)
    perception = None if options.simulate else Perception(repo, vae, k)
    z1, c1, z2, c2 = _pairs_tensors(repo, k, "train")
    available = len(z1) - options.validation
    if available < 1:
        raise SentError(f"{repo.names[k]}: {len(z1)} training pairs, too few to hold out {options.validation}")
    validation = (Validation(repo, k, vae, slice(available, len(z1)), options.one_hot, corr, uncorr,
                             options.lambdas) if options.validation else None)
    n = min(available, options.max_pairs or available)
    z1, c1, z2, c2 = z1[:n], c1[:n], z2[:n], c2[:n]
    width = attribute_width(repo.plugin, k, options.one_hot)
    e1, e2 = encode_attribute(c1, width), encode_attribute(c2, width)
    steps_per_epoch = math.ceil(n / options.batch_size)
    total_steps = min(options.steps or math.inf, options.epochs * steps_per_epoch)
    lr_factor = _learning_rate(options, total_steps)
    l1, l2, l3 = options.lambdas
    # The best network so far and the logs live under .partial names until the last step of the
    # last candidate: an interrupted run never leaves a sent_<k>.model (or a log) that evaluate
    # would take for finished.
    final = {name: repo.path(f"{name}_{k}{ext}") for name, ext in
             (("sent", ".model"), ("train", ".csv"), ("curve", ".csv"))}

    def train_one(lr: float, partial: dict) -> dict:
        """One run at learning rate `lr`, its files at the `partial` paths."""
        run_options = dataclasses.replace(options, lr=lr)
        torch.manual_seed(options.seed)
        net = SentNet(repo.latent_dim, e1.shape[1], options.iscale, options.pre_stages, options.with_target)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        meta = {"attribute": k, "name": repo.names[k], "net": net.options,
                "options": dataclasses.asdict(run_options), "relevant": corr.tolist(), "model_id": repo.model_id}
        rows, curve, best, step, train_seconds = [], [], math.inf, 0, 0.0

        def score_validation(epoch):
            nonlocal best
            v = validation.score(net)
            curve.append((step, train_seconds, *(v[c] for c in CURVE_SCORES)))
            _write_csv(partial["curve"], ("step", "seconds", *CURVE_SCORES), curve)
            measure = SELECTED_SCORE.get(options.select)
            if measure and step > 0 and v[measure] < best:  # never the untrained network
                best = v[measure]
                save_torch(partial["sent"], SENT_FORMAT, {**meta, "epoch": epoch, "step": step, "loss": best,
                                                          "validation": v}, net.state_dict())
            if progress:
                print(f"sent {repo.names[k]} lr {lr:g} step {step}: validation r2 {v['r2']:.4f} "
                      f"valid {v['valid']:.3f} lossC {v['lossC']:.4f}", flush=True)

        if validation is not None:
            score_validation(0)
        epoch = 0
        while step < total_steps:
            clock = time.perf_counter()
            net.train()
            order = torch.randperm(n)
            sums, seen = np.zeros(4), 0
            for start in range(0, n, options.batch_size):
                b = order[start:start + options.batch_size]
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(step)
                out = net(z1[b], e1[b], e2[b])
                loss_r, loss_i = code_losses(out, z1[b], z2[b], corr, uncorr)
                surrogate = F.mse_loss(zc(out), e2[b])
                if perception is None:
                    loss_c = surrogate
                else:  # the true value, the surrogate's gradient
                    loss_c = surrogate + (perception.loss(out, c2[b]) - surrogate).detach()
                loss = l1 * loss_r + l2 * loss_i + l3 * loss_c
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                sums += np.array([loss.item(), loss_r.item(), loss_i.item(), loss_c.item()]) * len(b)
                seen += len(b)
                if validation is not None and options.score_every and step % options.score_every == 0:
                    train_seconds += time.perf_counter() - clock
                    score_validation(epoch)
                    clock = time.perf_counter()
                if step >= total_steps:
                    break
            train_seconds += time.perf_counter() - clock
            means = sums / seen
            if not np.isfinite(means).all():
                kept = (f"best model so far (loss {best:.4g}) in {partial['sent']}" if math.isfinite(best)
                        else "no model saved")
                rate = f" (lr {lr:g})" if len(rates) > 1 else ""
                raise SentError(f"{repo.names[k]}{rate}: loss became NaN/inf at epoch {epoch}; {kept}")
            if options.select == "loss" and means[0] < best:
                best = float(means[0])
                save_torch(partial["sent"], SENT_FORMAT, {**meta, "epoch": epoch, "step": step, "loss": best},
                           net.state_dict())
            rows.append((epoch, *map(float, means), best))
            _write_csv(partial["train"], ("epoch", "loss", "lossR", "lossI", "lossC", "best"), rows)
            if validation is not None and (not options.score_every or (step >= total_steps and curve[-1][0] != step)):
                score_validation(epoch)
            if progress:
                print(f"sent {repo.names[k]} lr {lr:g} epoch {epoch}: loss {means[0]:.4f} R {means[1]:.4f} "
                      f"I {means[2]:.4f} C {means[3]:.4f}", flush=True)
            epoch += 1
        if not rows:
            raise SentError(f"{repo.names[k]}: no epochs to train (epochs={options.epochs})")
        return {**meta, "best_loss": best, "seconds": train_seconds, "steps": step, "curve": bool(curve)}

    runs = []
    for i, lr in enumerate(rates):
        suffix = ".partial" if len(rates) == 1 else f".lr{i}.partial"
        partial = {name: Path(f"{path}{suffix}") for name, path in final.items()}
        runs.append((train_one(lr, partial), partial))
    summary, partial = min(runs, key=lambda run: run[0]["best_loss"])  # the first of equals
    candidates = [{"lr": run["options"]["lr"], "loss": run["best_loss"]} for run, _ in runs]
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
    return {**summary, "candidates": candidates, "seconds": sum(run["seconds"] for run, _ in runs),
            "extract_seconds": perception.extract_seconds if perception else 0.0}


# ---------------------------------------------------------------- prediction

@torch.no_grad()
def decode_attributes(vae, z: np.ndarray, batch_size: int = 4096, plugin: Plugin | None = None) -> np.ndarray:
    """Attributes (N, K) of the items a model decodes from raw latent codes (N, D), by a plug-in
    (default: the built-in dMelodies one)."""
    plugin = plugin or load_plugin(None)
    return plugin.decode_attributes(vae, np.asarray(z, dtype=np.float32), batch_size)


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


@torch.no_grad()
def write_examples(repo: Repository, attribute: int, vae, edits: dict[str, np.ndarray]) -> list[Path]:
    """The first test pairs as melodies: the start melody, the target example and each method's
    edit (`edits`: method -> its codes of those pairs, e.g. sent and verified), as
    examples/<attribute>_<n>_<kind>.mid, and all their tokens in examples/<attribute>.json (what
    the report draws and plays)."""
    from sent.data import melody_tokens
    from sent.io import save_json
    from sent.music import write_melody

    _, a1, _, a2 = repo.raw_pairs(attribute, "test")
    decoded = {m: vae.decode_tokens(torch.as_tensor(z, dtype=torch.float32)).numpy() for m, z in edits.items()}
    count = min(len(z) for z in decoded.values())
    written, melodies = [], []
    for n in range(count):
        name = f"{repo.names[attribute]}_{n}"
        kinds = {"start": melody_tokens(a1[n:n + 1])[0], "target": melody_tokens(a2[n:n + 1])[0],
                 **{m: tokens[n] for m, tokens in decoded.items()}}
        for kind, tokens in kinds.items():
            path = repo.path("examples") / f"{name}_{kind}.mid"
            write_melody(tokens, path, title=f"{name} {kind}")
            written.append(path)
        melodies.append({kind: np.asarray(tokens).astype(int).tolist() for kind, tokens in kinds.items()})
    save_json(repo.path("examples") / f"{repo.names[attribute]}.json",
              {"attribute": repo.names[attribute], "examples": melodies})
    return written
