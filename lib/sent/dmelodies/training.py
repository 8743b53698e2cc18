"""Training and evaluation of the zoo's VAEs: losses, beta schedule, resumable training loop.

Losses, schedule and defaults follow ../shared/spec/vae.md. A training run is resumable from
its checkpoint, and the final model file carries a card with everything needed to reproduce it.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.dmelodies.control import log_rows as control_log_rows
from sent.dmelodies.control import markdown_table, model_control
from sent.dmelodies.vae import LATENT_DIM, VAE, ModelSpec, count_parameters, kl_divergence, load_model, save_model
from sent.util.errors import SentError
from sent.util.io import atomic_path


@dataclasses.dataclass
class TrainConfig:
    """A training schedule. Defaults are the paper's; `batches_per_epoch` can shorten epochs."""

    epochs: int = 100
    batch_size: int = 512
    lr: float = 1e-4
    lr_final: float | None = None        # cosine decay from lr to lr_final over the run; None = constant
    batches_per_epoch: int | None = None  # None = the whole training split each epoch
    beta_warmup_epochs: int = 10          # beta_t = 0 while epoch <= this
    beta_ramp_batches: int = 100_000      # batches over which beta_t grows to beta
    split_seed: int | None = None         # None = the model's seed, as in the paper
    split: tuple[float, float, float] = (0.70, 0.05, 0.25)
    teacher_forcing: float = 0.5          # probability that a batch is teacher-forced
    val_rows: int = 8192                  # validation rows scored after each epoch
    test_rows: int | None = None          # test rows scored for the model card (None = all)
    device: str = "cpu"
    threads: int | None = None
    init: str | None = None               # a model file whose weights start the run (fine-tuning)
    control_pairs: int = 500              # test pairs per attribute for the per-epoch control log; 0 = none
    revive_dead_logits: bool = False      # the decoder's ReLU logits pass raising gradients (vae.RevivableReLU)


def beta_at(epoch: int, batches_since_warmup: int, beta: float, warmup_epochs: int = 10,
            ramp_batches: int = 100_000) -> float:
    """beta_t: 0 while epoch <= warmup_epochs, then exp(k ln(1 + beta) / ramp) - 1 up to beta."""
    if epoch <= warmup_epochs:
        return 0.0
    if batches_since_warmup >= ramp_batches:
        return float(beta)
    return math.exp(batches_since_warmup * math.log1p(beta) / ramp_batches) - 1.0


def vae_loss(model: VAE, tokens: torch.Tensor, labels: torch.Tensor, beta_t: float,
             teacher_forced: bool) -> dict[str, torch.Tensor]:
    """Loss parts for one batch: loss = CE + relu(beta_t * KL - C) + reg."""
    z, mean, log_std = model.encode(tokens)
    logits = model.decoder(z, tokens if teacher_forced else None)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1))
    kl = kl_divergence(mean, log_std)
    kl_term = F.relu(beta_t * kl - model.spec.capacity)
    reg = model.regulariser(z, labels)
    accuracy = (logits.argmax(dim=2) == tokens).float().mean()
    return {"loss": ce + kl_term + reg, "ce": ce, "kl": kl, "kl_term": kl_term, "reg": reg,
            "accuracy": accuracy}


@torch.no_grad()
def reconstructions(model: VAE, tokens: np.ndarray, batch_size: int = 2048, device: str = "cpu") -> np.ndarray:
    """Free-running reconstructions (N, 16) of `tokens` from their posterior means."""
    model.eval()
    out = []
    for start in range(0, len(tokens), batch_size):
        x = torch.as_tensor(tokens[start:start + batch_size], dtype=torch.long, device=device)
        z, _, _ = model.encode(x, sample=False)
        out.append(model.decode_tokens(z).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, data.SEQ_LEN), dtype=np.int64)


def token_accuracy(model: VAE, tokens: np.ndarray, batch_size: int = 2048, device: str = "cpu"):
    """(per-token, whole-melody) accuracy of free-running reconstructions from the posterior mean."""
    match = reconstructions(model, tokens, batch_size, device) == np.asarray(tokens)
    return float(match.mean()), float(match.all(axis=1).mean())


def dead_tokens(tokens: np.ndarray, reconstructed: np.ndarray) -> list[int]:
    """Tokens of `tokens` that never appear in `reconstructed`: with the spec's ReLU logits, a
    token whose logit stays below 0 can never be predicted (see vae.RevivableReLU)."""
    return sorted(set(np.unique(tokens).tolist()) - set(np.unique(reconstructed).tolist()))


def _dead_token_summary(tokens: np.ndarray, reconstructed: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The dead tokens' names and which melodies (rows of `tokens`) hold one."""
    dead = dead_tokens(tokens, reconstructed)
    return [str(data.TOKEN_NAMES[t]) for t in dead], np.isin(tokens, dead).any(axis=1)


@torch.no_grad()
def prior_valid_fraction(model: VAE, n: int = 10_000, seed: int = 0, device: str = "cpu") -> float:
    """Fraction of decoded N(0, I) samples whose 9 attributes are all valid."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, LATENT_DIM, generator=gen).to(device)
    attrs = extract_attributes(model.decode_tokens(z))
    return float((attrs >= 0).all(axis=1).mean())


def load_model_or_checkpoint(path) -> tuple[VAE, dict]:
    """A model file or a training checkpoint (`OUT.ckpt`) as (model in eval mode, info): info holds
    the model id, its data split (seed, fractions) and the epochs trained."""
    path = Path(path)
    if path.suffix != ".ckpt":
        model, card = load_model(path)
        last = card["metrics"].get("final_epoch") or {}
        return model, {"id": card["id"], "split_seed": card["split"]["seed"],
                       "split": tuple(card["split"]["fractions"]), "epochs": last.get("epoch", -1) + 1}
    if not path.is_file():
        raise SentError(f"{path}: no such checkpoint")
    payload = _read_checkpoint(path, "cpu")
    try:
        key = payload["key"]
        spec = ModelSpec.parse(key["id"])
        model = VAE(spec)
        model.load_state_dict(payload["model"])
    except SentError:
        raise
    except Exception as exc:
        raise SentError(f"{path}: unreadable checkpoint ({type(exc).__name__})") from None
    seed = spec.seed if key.get("split_seed") is None else key["split_seed"]
    return model.eval(), {"id": spec.id, "split_seed": seed, "split": tuple(key["split"]),
                          "epochs": payload["state"]["epoch"]}


def dead_token_report(path, rows: int = 4096) -> dict:
    """Dead tokens of a model file or checkpoint on its first `rows` validation melodies, the
    fraction of those melodies holding one, and whole-melody accuracy with and without them."""
    model, info = load_model_or_checkpoint(path)
    val = data.split_indices(data.NUM_MELODIES, info["split_seed"], info["split"])[1][:rows]
    tokens = data.melody_tokens(data.factors_of(val)).astype(np.int64)
    recon = reconstructions(model, tokens)
    dead, holding = _dead_token_summary(tokens, recon)
    correct = (recon == tokens).all(axis=1)
    return {**info, "rows": len(tokens), "dead_tokens": dead,
            "holding": float(holding.mean()), "melody_accuracy": float(correct.mean()),
            "accuracy_without": float(correct[~holding].mean()) if (~holding).any() else float("nan")}


def evaluate(model: VAE, test_tokens: np.ndarray, prior_samples: int = 10_000, device: str = "cpu") -> dict:
    """Test-split token and melody accuracy, the tokens never reconstructed (and the fraction of
    test melodies holding one), and the valid fraction of decoded prior samples."""
    test_tokens = np.asarray(test_tokens, dtype=np.int64)
    recon = reconstructions(model, test_tokens, device=device)
    match = recon == test_tokens
    dead, holding = _dead_token_summary(test_tokens, recon)
    return {"test_token_accuracy": float(match.mean()), "test_melody_accuracy": float(match.all(axis=1).mean()),
            "test_rows": int(len(test_tokens)),
            "dead_tokens": dead, "dead_token_melodies": float(holding.mean()),
            "prior_valid_fraction": prior_valid_fraction(model, n=prior_samples, device=device),
            "prior_samples": prior_samples}


def make_optimizer(model: VAE, lr: float) -> torch.optim.Adam:
    """Adam(0.9, 0.999), no weight decay; the fused kernel updates all parameters in one pass."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


LOG_FIELDS = ("epoch", "step", "beta", "lr", "loss", "ce", "kl", "reg", "train_acc", "val_acc",
              "val_melody_acc", "seconds")


def train(spec: ModelSpec, config: TrainConfig, out: str | Path, dataset: dict | None = None,
          progress: bool = True) -> dict:
    """Train one model and write `out` (model + card), `out`.log.csv, `out`.control.csv (decoder
    control after each epoch, see sent.dmelodies.control) and, while running, a resumable `out`.ckpt.

    Returns the model card.
    """
    caller_threads = torch.get_num_threads()
    try:
        run = _Training(spec, config, Path(out), dataset or data.generate(), progress)
        for epoch in range(run.state["epoch"], config.epochs):
            run.end_epoch(epoch, *run.train_epoch(epoch))
        card = run.card()
    finally:  # config.threads is this run's: the caller's later torch work keeps its own count
        torch.set_num_threads(caller_threads)
    save_model(run.model.cpu(), run.out, card)
    run.ckpt_path.unlink(missing_ok=True)
    return card


class _Training:
    """One training run: its data split, model, optimizer and the state a checkpoint keeps."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, out: Path, dataset: dict, progress: bool):
        self.spec, self.config, self.out, self.dataset, self.progress = spec, config, out, dataset, progress
        self.ckpt_path, self.log_path = out.with_suffix(".ckpt"), out.with_suffix(".log.csv")
        self.control_path = out.with_suffix(".control.csv")
        self.device = _training_device(config)
        self.split_seed = spec.seed if config.split_seed is None else config.split_seed
        self.train_idx, self.val_idx, self.test_idx = data.split_indices(len(dataset["tokens"]), self.split_seed,
                                                                         config.split)
        self.tokens = torch.as_tensor(dataset["tokens"].astype(np.int64))
        self.labels = torch.as_tensor(dataset["factors"].astype(np.int64))
        self.val_tokens = dataset["tokens"][self.val_idx[:config.val_rows]].astype(np.int64)
        batches_full = len(self.train_idx) // config.batch_size
        self.per_epoch = min(batches_full, config.batches_per_epoch or batches_full)
        self.total_steps = self.per_epoch * config.epochs
        # denormal values (far below any that matters) made the GRU backward loop 1.5x slower
        torch.set_flush_denormal(True)
        torch.manual_seed(spec.seed)
        self.model = VAE(spec).to(self.device)
        self.model.decoder.revive_dead_logits = config.revive_dead_logits
        if config.init:
            _load_initial_weights(self.model, config.init)
        self.optimizer = make_optimizer(self.model, config.lr)
        self.state = self._start_or_resume()
        # runs may move between machines (runs/on-gpu): the card states each one's share
        self.machine = _hardware_text(_hardware(self.device))
        self.shuffle = torch.Generator().manual_seed(spec.seed)
        for _ in range(self.state["epoch"]):  # replay the shuffles of finished epochs: same order as unbroken run
            torch.randperm(len(self.train_idx), generator=self.shuffle)

    def _start_or_resume(self) -> dict:
        state = {"epoch": 0, "step": 0, "ramp": 0, "log": [], "control_log": [], "seconds": 0.0, "machines": {}}
        if self.ckpt_path.exists():
            state = _resume(self.ckpt_path, self.spec, self.config, self.model, self.optimizer)
        if self.config.revive_dead_logits:
            state.setdefault("revive_from_epoch", state["epoch"])  # may be switched on in a resumed run
        elif "revive_from_epoch" in state:
            raise SentError(f"{self.ckpt_path}: this run revives dead logits since epoch "
                            f"{state['revive_from_epoch']}; resume it with --revive_dead_logits")
        return state

    def train_epoch(self, epoch: int) -> tuple[dict, float, float, float]:
        """One epoch of batches: (summed losses, the last beta and lr, seconds)."""
        spec, config, state = self.spec, self.config, self.state
        self.model.train()
        start = time.perf_counter()
        order = torch.as_tensor(self.train_idx)[torch.randperm(len(self.train_idx), generator=self.shuffle)]
        sums = dict.fromkeys(("loss", "ce", "kl", "reg", "accuracy"), 0.0)
        bar = tqdm(range(self.per_epoch), desc=f"{spec.id} epoch {epoch}", disable=not self.progress, leave=False)
        for b in bar:
            lr = _lr_at(config, state["step"], self.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            beta_t = beta_at(epoch, state["ramp"], spec.beta, config.beta_warmup_epochs, config.beta_ramp_batches)
            rows = order[b * config.batch_size:(b + 1) * config.batch_size]
            x, y = self.tokens[rows].to(self.device), self.labels[rows].to(self.device)
            parts = vae_loss(self.model, x, y, beta_t, teacher_forced=bool(torch.rand(()) < config.teacher_forcing))
            if not torch.isfinite(parts["loss"]):
                raise SentError(f"{spec.id}: loss became {parts['loss'].item()} at epoch {epoch}, batch {b}; "
                                f"checkpoint {self.ckpt_path} holds the last finished epoch")
            self.optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            self.optimizer.step()
            state["step"] += 1
            if epoch > config.beta_warmup_epochs:
                state["ramp"] += 1
            for k in sums:
                sums[k] += parts[k].item()
            if b % 20 == 0:
                bar.set_postfix(loss=f"{parts['loss'].item():.3f}", acc=f"{parts['accuracy'].item():.3f}")
        val_acc, val_mel = token_accuracy(self.model, self.val_tokens, device=self.device)
        sums.update(val_acc=val_acc, val_mel=val_mel)
        return sums, beta_t, lr, time.perf_counter() - start

    def end_epoch(self, epoch: int, sums: dict, beta_t: float, lr: float, seconds: float) -> None:
        """Log the epoch, measure control, then checkpoint: a logged epoch is one a resumed run keeps."""
        state, config, per_epoch = self.state, self.config, self.per_epoch
        state["seconds"] += seconds
        share = state["machines"].setdefault(self.machine, {"epochs": 0, "seconds": 0.0})
        share["epochs"] += 1
        share["seconds"] = round(share["seconds"] + seconds, 1)
        row = {"epoch": epoch, "step": state["step"], "beta": beta_t, "lr": lr,
               **{k: sums[k] / per_epoch for k in ("loss", "ce", "kl", "reg")},
               "train_acc": sums["accuracy"] / per_epoch, "val_acc": sums["val_acc"],
               "val_melody_acc": sums["val_mel"], "seconds": round(state["seconds"], 1)}
        state["log"].append(row)
        state["epoch"] = epoch + 1
        if config.control_pairs:
            control = model_control(self.model, self.test_idx, pairs=config.control_pairs, seed=self.spec.seed)
            state["control_log"] += control_log_rows(control, epoch=epoch, step=state["step"], beta=beta_t,
                                                     kl=row["kl"])
        _checkpoint(self.ckpt_path, self.spec, config, self.model, self.optimizer, state)
        _write_csv(self.log_path, state["log"], LOG_FIELDS)
        if config.control_pairs:
            _write_csv(self.control_path, state["control_log"])
        if self.progress:
            print(f"{self.spec.id} epoch {epoch}: loss {row['loss']:.4f} ce {row['ce']:.4f} kl {row['kl']:.2f} "
                  f"reg {row['reg']:.4f} train_acc {row['train_acc']:.4f} val_acc {row['val_acc']:.4f} "
                  f"({state['seconds']:.0f} s)", flush=True)

    def card(self) -> dict:
        spec, config, state, test_idx = self.spec, self.config, self.state, self.test_idx
        return {
            "id": spec.id,
            "type": spec.type,
            "hyperparameters": dataclasses.asdict(spec),
            "split": {"seed": self.split_seed, "fractions": list(config.split),
                      "sizes": [len(self.train_idx), len(self.val_idx), len(test_idx)]},
            "schedule": {**{k: v for k, v in dataclasses.asdict(config).items() if k not in ("device", "threads")},
                         "split": list(config.split), "batches_per_epoch": self.per_epoch, "steps": state["step"],
                         "revive_from_epoch": state.get("revive_from_epoch"),
                         "optimizer": "Adam(betas=(0.9, 0.999))"},
            "metrics": {**evaluate(self.model, self.dataset["tokens"][test_idx[:config.test_rows]], device=self.device),
                        "final_epoch": state["log"][-1] if state["log"] else None},
            "control": model_control(self.model, test_idx, pairs=config.control_pairs or 500, seed=spec.seed),
            "parameters": count_parameters(self.model),
            "hardware": {**_hardware(self.device), "machines": state["machines"]},
            "wall_time_s": round(state["seconds"], 1),
            **({"initialised_from": initial_model_record(config.init)} if config.init else {}),
            "torch": torch.__version__,
            "encoding": "posterior mean for accuracies; eval mode (no dropout) for all inference",
        }


def _training_device(config: TrainConfig) -> str:
    if config.threads:
        torch.set_num_threads(int(config.threads))
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise SentError(f"device {config.device!r} requested but torch sees no CUDA device")
    return config.device


def _hardware(device: str) -> dict:
    return {"device": device if device == "cpu" else torch.cuda.get_device_name(),
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}


def _lr_at(config: TrainConfig, step: int, total: int) -> float:
    if config.lr_final is None or total <= 1:
        return config.lr
    t = min(step / (total - 1), 1.0)
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * t))


# revive_dead_logits may be switched on when a run resumes (its state records from which epoch)
_UNKEYED = ("device", "threads", "epochs", "val_rows", "test_rows", "control_pairs", "revive_dead_logits")


def _schedule_key(spec: ModelSpec, config: TrainConfig) -> dict:
    key = {"id": spec.id, **{k: v for k, v in dataclasses.asdict(config).items() if k not in _UNKEYED}}
    if config.init is None:
        del key["init"]  # so that checkpoints from before fine-tuning existed still resume
    return key


def initial_model_record(path) -> dict:
    """What a fine-tuned model's card keeps of the model it started from (and so on back): the
    schedule and cost of every stage, so the card states what the model cost in all."""
    _, card = load_model(path)
    record = {"file": Path(path).name, "id": card["id"], "schedule": card["schedule"],
              "hardware": card["hardware"], "wall_time_s": card["wall_time_s"]}
    if "initialised_from" in card:
        record["initialised_from"] = card["initialised_from"]
    return record


def _load_initial_weights(model: VAE, path) -> None:
    initial, _ = load_model(path)
    if initial.spec.type != model.spec.type:
        raise SentError(f"{path}: a {initial.spec.type} cannot start the training of a {model.spec.type}")
    model.load_state_dict(initial.state_dict())


def _checkpoint(path, spec, config, model, optimizer, state):
    payload = {"key": _schedule_key(spec, config), "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "state": state, "rng": torch.get_rng_state()}
    with atomic_path(path, ".ckpt") as tmp:
        torch.save(payload, tmp)


def _read_checkpoint(path, device: str) -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise SentError(f"{path}: unreadable checkpoint ({type(exc).__name__}); delete it to start over") from None


def _resume(path, spec, config, model, optimizer) -> dict:
    payload = _read_checkpoint(path, config.device)
    key = _schedule_key(spec, config)
    if payload.get("key") != key:
        raise SentError(f"{path}: checkpoint is for a different model or schedule; delete it to start over")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng"].cpu())  # map_location moved it to the training device
    return payload["state"]


def _write_csv(path, rows, fields=None):
    fields = fields or list(rows[0])
    with atomic_path(path, ".csv") as tmp:
        lines = [",".join(fields)]
        lines += [",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in fields) for r in rows]
        tmp.write_text("\n".join(lines) + "\n")


def _schedule_text(sched: dict) -> str:
    return (f"{sched['epochs']} epochs x {sched['batches_per_epoch']} batches of {sched['batch_size']} "
            f"= {sched['steps']:,} steps; Adam lr {sched['lr']}" +
            (f" cosine-decayed to {sched['lr_final']}" if sched.get("lr_final") is not None else " constant") +
            f"; beta 0 for epochs <= {sched['beta_warmup_epochs']}, then ramped over {sched['beta_ramp_batches']:,} "
            f"batches; teacher forcing p={sched['teacher_forcing']}" +
            (f"; dead logits revived (vae.RevivableReLU) from epoch {sched['revive_from_epoch']}"
             if sched.get("revive_from_epoch") is not None else ""))


def _hardware_text(hw: dict) -> str:
    return f"{hw['device']} ({hw['cpu']}, {hw['threads']} thread(s))"


def _cost_text(record: dict) -> str:
    """Where a stage ran and for how long; with more than one machine, each one's share."""
    machines = record["hardware"].get("machines", {})
    where = (_hardware_text(record["hardware"]) if len(machines) < 2 else
             "; ".join(f"{name}: {m['epochs']} epochs, {m['seconds'] / 60:.1f} min" for name, m in machines.items()))
    return f"{where}; wall time {record['wall_time_s'] / 60:.1f} min"


def _initial_stages(card: dict) -> list[dict]:
    stages, record = [], card.get("initialised_from")
    while record:
        stages.append(record)
        record = record.get("initialised_from")
    return stages


def zoo_markdown(cards: list[dict], shipped: set[str]) -> str:
    """One row per model card: schedule, training cost (all stages), test accuracies, prior
    validity, the disentanglement figures when measured, and whether the model is shipped in
    prebuilt/vae/."""
    lines = ["| model | shipped | steps (all stages) | batch, lr | training time | test token / melody accuracy "
             "| valid prior samples | MIG / Modularity / SAP / explicitness | reconstruction (posterior sample) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for card in sorted(cards, key=lambda c: c["id"]):
        sched, m, stages = card["schedule"], card["metrics"], _initial_stages(card)
        steps = sched["steps"] + sum(s["schedule"]["steps"] for s in stages)
        hours = (card["wall_time_s"] + sum(s["wall_time_s"] for s in stages)) / 3600
        d = card.get("disentanglement")
        measured = (f"{d['mig']:.3f} / {d['modularity']:.3f} / {d['sap']:.3f} / {d['explicitness']:.3f} | "
                    f"{d['reconstruction_accuracy']:.4f}") if d else "not measured | -"
        lines.append(f"| {card['id']} | {'yes' if card['id'] in shipped else 'no'} | {steps:,} | "
                     f"{sched['batch_size']}, {sched['lr']:g} | {hours:.1f} h | {m['test_token_accuracy']:.4f} / "
                     f"{m['test_melody_accuracy']:.4f} | {m['prior_valid_fraction']:.4f} | {measured} |")
    return "\n".join(lines) + "\n"


def card_markdown(card: dict) -> str:
    """A readable model card."""
    m, sched = card["metrics"], card["schedule"]
    last = m.get("final_epoch") or {}
    stages = _initial_stages(card)
    lines = [
        f"# {card['id']}", "",
        f"- type: {card['type']}; hyper-parameters: "
        + ", ".join(f"{k}={v}" for k, v in card["hyperparameters"].items()),
        f"- parameters: {card['parameters']:,}",
        f"- data split: seed {card['split']['seed']}, fractions {card['split']['fractions']}, "
        f"sizes {card['split']['sizes']}",
        f"- schedule: {_schedule_text(sched)}",
        f"- hardware: {_cost_text(card)}; torch {card['torch']}",
        *[f"- {'fine-tuned from' if i == 0 else 'which was fine-tuned from'} {stage['file']} ({stage['id']}), "
          f"trained: {_schedule_text(stage['schedule'])}; {_cost_text(stage)}" for i, stage in enumerate(stages)],
        *([f"- all stages: {sched['steps'] + sum(s['schedule']['steps'] for s in stages):,} steps, wall time "
           f"{(card['wall_time_s'] + sum(s['wall_time_s'] for s in stages)) / 60:.1f} min"] if stages else []),
        "", "## Metrics", "",
        f"- test token accuracy: {m['test_token_accuracy']:.4f} ({m.get('test_rows', 'all'):,} test melodies)",
        f"- test whole-melody accuracy: {m['test_melody_accuracy']:.4f}",
        *([f"- tokens never reconstructed (dead logits): {', '.join(m['dead_tokens']) or 'none'}, in "
           f"{m['dead_token_melodies']:.4f} of the test melodies"] if "dead_tokens" in m else []),
        f"- decoded prior samples with all 9 attributes valid: {m['prior_valid_fraction']:.4f} "
        f"({m.get('prior_samples', 10000):,} samples)",
    ]
    if last:
        lines.append(f"- last epoch: loss {last['loss']:.4f} (CE {last['ce']:.4f}, KL {last['kl']:.1f}, "
                     f"reg {last['reg']:.4f}), validation token accuracy {last['val_acc']:.4f}")
    lines += ["", f"Encoding for accuracies: {card['encoding']}.", ""]
    if card.get("disentanglement"):
        d = card["disentanglement"]
        lines += ["## Disentanglement", "",
                  f"On {d['rows']:,} test melodies, one {d['encoding']} each (`train-vae disentanglement`): "
                  f"MIG {d['mig']:.3f}, Modularity {d['modularity']:.3f}, SAP {d['sap']:.3f}, explicitness "
                  f"{d['explicitness']:.3f}, reconstruction (token) accuracy {d['reconstruction_accuracy']:.4f}.", ""]
    if card.get("control"):
        pairs = next(iter(card["control"].values()))["pairs"]
        lines += ["## Decoder control", "",
                  f"z1 of {pairs} test pairs per attribute (differing in that attribute only) takes z2's values "
                  "in some dims; the decoded attribute is scored like a SeNT edit (exact hits, R^2 over valid "
                  "decodings, valid fraction). `regularised`: dim k only; `mi-top3`: the 3 dims of highest MI "
                  "(SeNT's ceiling); `not-...`: every other dim; `all`: z2. Readout: held-out R^2 of a "
                  "linear map reading the attribute without its regularised (or top MI) dim.", "",
                  *markdown_table(card["control"]), ""]
    return "\n".join(lines)
