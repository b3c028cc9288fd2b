"""Training: one config dataclass, the per-model recipe tables, and a loop you can read in one screen.

Models with the same augmentation and batch size train together: each epoch's augmented images and
order are made once and every model steps on every batch, each with its own optimizer and schedule.
"""
import contextlib
import copy
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .augment import augment
from .models import count_parameters, create_model, describe_model


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30             # augmented data keeps improving for a long time under the one-cycle schedule
    batch_size: int = 128        # small batches generalise better on MNIST and are still fast on tensors
    lr: float = 2e-3             # peak learning rate of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4   # AdamW's decoupled decay: mild, the models are small
    warmup: float = 0.15         # fraction of steps spent ramping up: lets BatchNorm statistics settle
    optimizer: str = "adamw"     # "adam" adds weight decay to the gradient (an L2 term, as the write-ups did); "sgd"
    schedule: str = "onecycle"   # or "constant": the write-ups' fixed rate
    label_smoothing: float = 0.0 # off: we select epochs by plain validation loss
    valid_size: int = 5000       # training images held out to pick the best epoch; the test set is used once
    keep: str = "best"           # or "last": a short fine-tune's schedule ends where it should (tuned.py)
    # Augmentation (augment.py), fresh every epoch; all zero = train on the clean images.
    rotate: float = 12.0         # max degrees either way: people tilt their digits
    scale: float = 0.1           # max relative size change: to_mnist fixes size, but not perfectly
    shear: float = 0.25          # max horizontal shear: slanted handwriting
    shift: float = 2.0           # max pixels: centring by centre of mass varies with the shape
    thickness: float = 0.7       # max blend toward a 3x3 dilation/erosion: brushes and pens differ
    elastic: float = 1.0         # px of smooth random displacement: wobbly hand-drawn strokes
    styles: float = 0.3          # share of 0s/7s/1s given a slash/crossbar/flag: common styles MNIST lacks
    noise: float = 0.0           # std of Gaussian noise added to every training batch: a write-up's regulariser
    # How the arithmetic runs: the same recipe, faster. Evaluation is always exact float32.
    bf16: bool = True            # bf16 autocast for training steps on CUDA (tensor cores)
    bf16_cpu: bool = False       # and on a CPU: only CPUs with AMX gain (bench_steps.py); the rest emulate bf16
    channels_last: bool = True   # NHWC convolutions: cuDNN's and oneDNN's fast kernels (CPU: cnn 147 -> 114 s/epoch)
    compile: bool = False        # torch.compile every model: pays for its compile time only in long GPU runs
    fused: bool = True           # fused optimizer on CUDA: one kernel per step for all parameters, not one per tensor


AUGMENTATION_FIELDS = ("rotate", "scale", "shear", "shift", "thickness", "elastic", "styles")

# Milder augmentation for the models the full strength cost clean accuracy (LeNet-5: 99.18 -> 99.38 %
# on MNIST test, and better on drawings too; README, "Lighter augmentation").
LIGHT_AUGMENTATION = dict(rotate=10.0, thickness=0.5, elastic=0.5, styles=0.15)

# Per-model departures from TrainConfig's defaults, all in one place.
RECIPES = {
    "fcn-dropout": dict(lr=1e-3),
    "mlp-500": dict(lr=1e-3, **LIGHT_AUGMENTATION),
    "mlp-128": dict(lr=1e-3),
    # sigmoids learn slowly: higher lr, no decay
    "lenet5": dict(epochs=50, lr=5e-3, weight_decay=0.0, **LIGHT_AUGMENTATION),
    "cnn": dict(epochs=30),                                # the costliest per epoch, and the strongest
    # the ~60k MLPs converge sooner (best epochs within 2 of the end either way); on a CPU, where their
    # per-epoch augmentation dominates, 20 epochs saves a third of the time. The deepest and
    # narrowest of them (two 10-wide bottlenecks) keeps the full 30.
    **{f"custom-mlp-{k}": dict(epochs=20) for k in range(2, 7)},
}

# `train_all.py --quick`: the whole zoo in minutes on a laptop CPU, to issue 2's accuracy floors rather
# than the best figures. Clean images (augmenting costs a CPU as much as an MLP's epoch) and 8 epochs;
# the small MLPs take a higher rate (tried at 2e-3 and 5e-3: +0.2 to +0.5 points at 5e-3, while
# fcn-dropout fell to 94.8 % there). fcn-dropout's dropout needs more steps than 8 epochs (97.82 % at 8,
# 98.28 % at 16, either rate), and the cnn, one of whose epochs costs more than all the others' together,
# gets two (98.99 % after one, 99.29 % after two).
QUICK = dict(epochs=8, **{field: 0.0 for field in AUGMENTATION_FIELDS})
QUICK_RECIPES = {
    "fcn-dropout": dict(epochs=16),
    "mlp-128": dict(lr=5e-3),
    **{f"custom-mlp-{k}": dict(lr=5e-3) for k in range(2, 7)},
    "lenet5": dict(lr=5e-3, weight_decay=0.0),
    "cnn": dict(epochs=2),
}


def recipe(name, quick=False, **overrides):
    base, table = (QUICK, QUICK_RECIPES) if quick else ({}, RECIPES)
    return replace(TrainConfig(), **{**base, **table.get(name, {}), **overrides})


def augmenting(cfg):
    return any(getattr(cfg, field) for field in AUGMENTATION_FIELDS)


def stream_key(cfg):
    """Models whose configs agree on this can share one stream of augmented batches."""
    return cfg.batch_size, cfg.noise, tuple(getattr(cfg, field) for field in AUGMENTATION_FIELDS)


OPTIMIZERS = {
    "adamw": lambda params, cfg, fused: torch.optim.AdamW(params, cfg.lr, weight_decay=cfg.weight_decay, fused=fused),
    "adam": lambda params, cfg, fused: torch.optim.Adam(params, cfg.lr, weight_decay=cfg.weight_decay, fused=fused),
    "sgd": lambda params, cfg, fused: torch.optim.SGD(params, cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay,
                                                      fused=fused),
}


@contextlib.contextmanager
def exact_float32():
    """Evaluate in true float32 (no TF32) so accuracies measured on a GPU reproduce on a CPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


class Phases(defaultdict):
    """Seconds per phase of a run (data, warm-up, training, evaluation, writing), GPU work included."""
    def __init__(self):
        super().__init__(float)

    @contextlib.contextmanager
    def __call__(self, phase, device=None):
        start = time.perf_counter()
        yield
        if device is not None and torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)  # queued kernels belong to this phase, not the next
        self[phase] += time.perf_counter() - start


@torch.no_grad()
def evaluate(model, split, batch_size=2000):
    """-> (mean loss, accuracy, number correct), with one host synchronisation."""
    model.eval()
    loss, correct = torch.zeros((), device=split.x.device), torch.zeros((), device=split.x.device, dtype=torch.long)
    with exact_float32():
        for i in range(0, len(split.y), batch_size):
            logits = model(split.x[i:i + batch_size]).float()
            y = split.y[i:i + batch_size]
            loss += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    loss, correct = loss.item(), correct.item()
    return loss / len(split.y), correct / len(split.y), correct


class Run:
    """One model in training: its recipe, optimizer, schedule, history and best epoch so far."""

    def __init__(self, name, cfg, train_size, seed, device, architecture=None, init=None):
        """`name` labels the run; `architecture` = (registry name, builder kwargs), default (name, {});
        `init`: a state dict to start from (fine-tuning) instead of fresh weights."""
        self.name, self.cfg, self.seed, self.device = name, cfg, seed, device
        self.architecture = architecture or (name, {})
        torch.manual_seed(seed)  # the same initial weights whichever models train beside it
        self.model = create_model(self.architecture[0], **self.architecture[1])
        if init is not None:
            self.model.load_state_dict(init)
        self.model = self.model.to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # only 4-d weights change
        self.opt = OPTIMIZERS[cfg.optimizer](self.model.parameters(), cfg, cfg.fused and device.type == "cuda")
        steps = cfg.epochs * -(-train_size // cfg.batch_size)
        self.sched = (torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=cfg.lr, total_steps=steps,
                                                          pct_start=cfg.warmup) if cfg.schedule == "onecycle"
                      else torch.optim.lr_scheduler.ConstantLR(self.opt, factor=1.0))
        if cfg.compile:
            # each compiled model is one more cache entry for the same wrapper code; past dynamo's limit
            # (8) the rest of the zoo would run eager, with no more than a logged warning
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        self.forward = torch.compile(self.model) if cfg.compile else self.model
        self.autocast = torch.autocast(device.type, torch.bfloat16,
                                       enabled=cfg.bf16 and (device.type == "cuda" or cfg.bf16_cpu))
        # per-epoch sums kept on the device: no host sync per step
        self.loss_sum, self.correct, self.grad_norm_sum, self.steps = (torch.zeros((), device=device) for _ in range(4))
        self.history, self.best = [], None
        self.train_seconds, self.trained_with = 0.0, [name]  # the shared stream's time, and who shared it
        self.step_seconds = 0.0

    def step(self, x, y):
        start = time.perf_counter()  # this model's own share of a shared stream (on a GPU: launch time only)
        with self.autocast:
            logits = self.forward(x)
            loss = F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm_sum += torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters()])
        self.lr = self.sched.get_last_lr()[0]  # the rate this step used
        self.opt.step()
        self.sched.step()
        self.loss_sum += loss.detach().float() * len(y)
        self.correct += (logits.detach().argmax(1) == y).sum()
        self.steps += 1
        self.step_seconds += time.perf_counter() - start

    def warm_up(self, x, y):
        """One forward and backward that changes nothing: compiles and picks kernels before timing starts."""
        state = copy.deepcopy(self.model.state_dict())
        with self.autocast:
            F.cross_entropy(self.forward(x), y).backward()
        self.opt.zero_grad(set_to_none=True)
        self.model.load_state_dict(state)  # BatchNorm's running statistics moved

    def end_epoch(self, epoch, train_size, valid, seconds, partial=None):
        """Record the epoch's history row (`seconds`: its shared stream's time) and keep the best weights.

        `train_size`: the images this epoch trained on; `partial`: the share of the epoch trained, when it stopped early.
        """
        valid_loss, valid_acc, _ = evaluate(self.model, valid)
        param_norm = torch.nn.utils.get_total_norm([p.detach() for p in self.model.parameters()])
        # train loss and accuracy are running figures over the epoch's augmented batches, as the model changed
        sums = torch.stack([self.loss_sum, self.correct, self.grad_norm_sum, self.steps, param_norm]).tolist()
        for total in (self.loss_sum, self.correct, self.grad_norm_sum, self.steps):
            total.zero_()
        self.history.append(dict(
            epoch=epoch, train_loss=round(sums[0] / train_size, 5), train_accuracy=round(sums[1] / train_size, 5),
            valid_loss=round(valid_loss, 5), valid_accuracy=valid_acc, lr=float(f"{self.lr:.4g}"),
            grad_norm=round(sums[2] / sums[3], 5),  # global L2 norm of the gradients, mean over the steps
            param_norm=round(sums[4], 4), seconds=round(seconds, 2),
            **({"partial": round(partial, 4)} if partial is not None else {})))
        if self.best is None or self.history[-1]["valid_loss"] < self.best[0] or self.cfg.keep == "last":
            self.best = (self.history[-1]["valid_loss"], epoch, copy.deepcopy(self.model.state_dict()))
        self.model.train()


def train_together(jobs, train, valid, seed=0, phases=None, progress=True, on_epoch=None, architectures=None,
                   on_batch=None, init=None):
    """{name: TrainConfig} -> {name: Run} trained, best epoch not yet restored (see `finish`).

    Models with equal `stream_key` share each epoch's augmented images and order: exactly the stream
    each would get training alone with this seed. `on_epoch(run)` is called after each model's epoch.
    `architectures` {name: (registry name, kwargs)} lets a job's name differ from its architecture.
    `on_batch(epoch, images_seen, runs)` is called after every step; if it returns true, training ends
    there: the part-epoch is recorded like an epoch (its row has `partial`, the share of the epoch seen).
    `init` {name: state dict}: weights a job starts from (fine-tuning), else fresh ones.
    """
    phases = Phases() if phases is None else phases
    device, n = train.x.device, len(train.y)
    runs = {name: Run(name, cfg, n, seed, device, (architectures or {}).get(name), (init or {}).get(name))
            for name, cfg in jobs.items()}
    streams = defaultdict(list)
    for run in runs.values():
        streams[stream_key(run.cfg)].append(run)
    for group in streams.values():
        cfg, generator = group[0].cfg, torch.Generator(device=device).manual_seed(seed)
        if device.type == "cuda" or cfg.compile:
            with phases("warm-up", device):
                for run in group:
                    run.warm_up(train.x[:cfg.batch_size], train.y[:cfg.batch_size])
        names = [run.name for run in group]
        for run in group:
            run.trained_with = names
        elapsed, stop = 0.0, False
        for epoch in tqdm(range(1, max(run.cfg.epochs for run in group) + 1), desc=", ".join(names)[:40],
                          disable=not progress):
            active = [run for run in group if epoch <= run.cfg.epochs]
            before, seen = phases["training"], 0
            with phases("training", device):
                # shared: this epoch's augmented training images and their order
                images = augment(train.x, train.y, cfg, generator) if augmenting(cfg) else train.x
                perm = torch.randperm(n, device=device, generator=generator)
                for i in range(0, n, cfg.batch_size):
                    idx = perm[i:i + cfg.batch_size]
                    x, y = images[idx], train.y[idx]
                    if cfg.noise:
                        x = x + cfg.noise * torch.randn(x.shape, device=device, generator=generator)
                    for run in active:  # per model: forward, loss, step
                        run.step(x, y)
                    seen += len(idx)
                    if on_batch is not None and on_batch(epoch, seen, active):
                        stop = True
                        break
            seconds = phases["training"] - before
            elapsed += seconds
            with phases("evaluation", device):
                for run in active:
                    run.train_seconds = elapsed
                    run.end_epoch(epoch, seen, valid, seconds, partial=seen / n if seen < n else None)
                    if on_epoch:
                        on_epoch(run)
            if stop:
                return runs
    return runs


def finish(run, test):
    """Restore the epoch with the lowest validation loss, measure the test set once -> (model, metadata)."""
    model = run.model
    model.load_state_dict(run.best[2])
    test_loss, test_acc, test_correct = evaluate(model, test)
    name, model_args = run.architecture
    metadata = dict(
        name=name, description=describe_model(name, **model_args), parameters=count_parameters(model),
        test_accuracy=test_acc, test_correct=test_correct, test_loss=round(test_loss, 6),
        best_epoch=run.best[1], epochs=run.cfg.epochs, train_seconds=round(run.train_seconds, 1),
        step_seconds=round(run.step_seconds, 1),
        trained_with=run.trained_with, device=device_name(run.device), torch_version=torch.__version__,
        seed=run.seed, recipe=asdict(run.cfg), history=run.history,
        **({"model_args": model_args} if model_args else {}),
    )
    return model.cpu().to(memory_format=torch.contiguous_format).eval(), metadata


def device_name(device):
    device = torch.device(device)
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type
