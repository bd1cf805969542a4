"""RAVDESS from the raw audio: feature-extraction time and a quick audio-teacher accuracy probe.

    python bench/bench_ravdess_audio.py [--data-dir ../shared/data] [--fresh-cache] [--epochs 8]

1. Loads the 1,440 clips' MFCC maps (mfh_lib.data.ravdess_audio) twice and prints both times, wall
   and CPU: the first load computes them unless the results cache already holds them
   (``--fresh-cache`` uses an empty temporary cache, so the first load always computes); the second
   reads the cache.
2. Trains the 3-conv + 3-FC CNN audio teacher (mfh_lib.audio_models) on the MFCC maps, all seeds at
   once (mfh_lib.training.Ensemble), on the book's actor-held-out split and on a random clip split
   (the paper's protocol), and a face-AU MLP student alone on the same splits. Prints the seconds
   per optimiser step and the test accuracy at each member's best validation epoch: mean and 95%
   t interval over seeds, plus each seed.

The default network is a slim member of the family (widths 4/8/16, FC 128/64) so the whole run stays
within a few minutes on 2 CPU cores; ``--widths 32 64 128 --hidden 1024 128`` is the authors' size.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: spinning threads starve a busy CPU

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mfh_lib import config, models, stats, training
from mfh_lib.audio_models import audio_cnn_teacher
from mfh_lib.cache import ResultsCache
from mfh_lib.data import ravdess_audio

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu

    def __str__(self):
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


def fit(make, x_train, y_train, evals: dict, *, seeds: int, epochs: int, batch_size: int, lr: float,
        weight_decay: float, seed: int = 0) -> dict:
    """Train ``seeds`` members with Adam + CE; record each member's val/test accuracy after every epoch."""
    ens = training.Ensemble(make, seeds, seed=seed)
    history = {name: [] for name in evals}
    steps = [0]

    def record(epoch):
        for name, (x, y) in evals.items():
            history[name].append(training.member_accuracy(training.predict_ensemble(ens, x, shared=True, batch_size=256), y))

    def loss_fn(model, xb, yb):
        steps[0] += 1
        return torch.vmap(F.cross_entropy)(model(xb), yb)

    with Timer() as timer:
        training.train_ensemble(ens, [x_train, y_train], loss_fn, shared=[True, True], num_epochs=epochs,
                                batch_size=batch_size, optimizer="adamw", lr=lr, weight_decay=weight_decay,
                                generator=torch.Generator().manual_seed(seed), on_epoch_end=record, desc="fit")
    curves = {name: torch.stack(h) for name, h in history.items()}  # (epochs, seeds)
    best = curves["val"].argmax(0)
    members = torch.arange(seeds)
    return {"test_at_best_val": curves["test"][best, members], "test_last": curves["test"][-1],
            "best_epoch": best + 1, "timer": timer, "steps": steps[0]}


def describe(name: str, result: dict) -> str:
    s = stats.summarize(result["test_at_best_val"])
    per_seed = ", ".join(f"{v:.1f}" for v in result["test_at_best_val"].tolist())
    last = stats.summarize(result["test_last"])
    step = result["timer"].wall / max(result["steps"], 1)
    return (f"  {name:<34} test {s.mean:5.1f}% (95% t CI {s.ci_low:.1f}-{s.ci_high:.1f}; seeds {per_seed}; "
            f"best epochs {result['best_epoch'].tolist()}), last epoch {last.mean:.1f}%; "
            f"{result['timer']}, {step * 1000:.0f} ms/step")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get(config.DATA_ENV_VAR) or str(DEFAULT_DATA))
    parser.add_argument("--fresh-cache", action="store_true", help="time the first extraction in an empty cache")
    parser.add_argument("--splits", nargs="+", default=["actor", "random"], choices=["actor", "random"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data-seed", type=int, default=0, help="which actors / clips are held out")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--student-epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--widths", type=int, nargs=3, default=[4, 8, 16])
    parser.add_argument("--hidden", type=int, nargs=2, default=[128, 64])
    parser.add_argument("--pool", type=int, nargs=2, default=[7, 14])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config.set_threads(args.threads)

    tmp = tempfile.TemporaryDirectory() if args.fresh_cache else None
    cache = ResultsCache(ravdess_audio.CACHE_NAMESPACE, root=Path(tmp.name) if tmp else None)
    print(f"data: {args.data_dir}; cache: {cache.dir}; torch threads {torch.get_num_threads()}")
    datasets = {}
    with Timer() as first:
        datasets[args.splits[0]] = ravdess_audio.load_ravdess_audio_face(args.data_dir, split=args.splits[0],
                                                                         seed=args.data_seed, cache=cache)
    with Timer() as second:
        for split in args.splits:
            datasets[split] = ravdess_audio.load_ravdess_audio_face(args.data_dir, split=split, seed=args.data_seed,
                                                                    cache=cache)
    per_load = Timer()
    per_load.wall, per_load.cpu = second.wall / len(args.splits), second.cpu / len(args.splits)
    ds = datasets[args.splits[0]]
    print(f"features: a {tuple(ds.train.a.shape[1:])} MFCC maps, b {tuple(ds.train.b.shape[1:])} AUs; "
          f"1,440 clips = {len(ds.train)} train / {len(ds.val)} val / {len(ds.test)} test")
    print(f"load 1 ({'computed' if args.fresh_cache else 'computed unless cached'}): {first}")
    print(f"load 2 (cached), per load: {per_load}")

    make_teacher = lambda: audio_cnn_teacher(ds.num_classes, widths=args.widths, hidden=args.hidden,
                                             pool_grid=tuple(args.pool))
    params = sum(p.numel() for p in make_teacher().parameters())
    print(f"teacher: audio_cnn_teacher(widths={args.widths}, hidden={args.hidden}, pool={args.pool}), "
          f"{params:,} weights; {args.seeds} seeds vectorised, {args.epochs} epochs, batch {args.batch_size}, "
          f"AdamW lr {args.lr} wd {args.weight_decay}")
    for split in args.splits:
        d = datasets[split]
        print(f"{split} split ({d.source}):")
        teacher = fit(make_teacher, d.train.a, d.train.y, {"val": (d.val.a, d.val.y), "test": (d.test.a, d.test.y)},
                      seeds=args.seeds, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      weight_decay=args.weight_decay)
        print(describe("audio CNN teacher (MFCC maps)", teacher), flush=True)
        make_student = lambda: models.MLP(d.train.b.shape[1], [128, 128], d.num_classes)
        student = fit(make_student, d.train.b, d.train.y, {"val": (d.val.b, d.val.y), "test": (d.test.b, d.test.y)},
                      seeds=args.seeds, epochs=args.student_epochs, batch_size=args.batch_size, lr=args.lr,
                      weight_decay=args.weight_decay)
        print(describe("face-AU MLP student alone", student), flush=True)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
