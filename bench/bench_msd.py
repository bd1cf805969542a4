"""Seed-vectorised MSD training vs a per-seed Python loop (the chapter's hot path).

    python bench/bench_msd.py [--seeds 5] [--epochs 3] [--weighting meta]

Trains ``seeds`` students on RAVDESS-shaped random features (1,000 samples, 259 + 35 inputs,
8 classes) once as one vmap ensemble and once as ``seeds`` one-member ensembles, and prints the
wall times and their ratio. ``meta`` times Algorithm 1 (the look-ahead through functional_call
composes with vmap); ``kd`` / ``importance`` / ``population`` time the cheaper schemes.
"""
from __future__ import annotations

import argparse
import time

import torch

from mfh_lib import config, msd
from mfh_lib.data import MultimodalSplit


def fake_ravdess(n, generator, num_classes=8):
    y = torch.randint(0, num_classes, (n,), generator=generator)
    centres_a, centres_b = torch.randn(num_classes, 259, generator=generator), torch.randn(num_classes, 35, generator=generator)
    return MultimodalSplit(centres_a[y] * 0.3 + torch.randn(n, 259, generator=generator),
                           centres_b[y] * 0.5 + torch.randn(n, 35, generator=generator), y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--weighting", default="meta", choices=["kd", "population", "importance", "meta"])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    config.set_threads(2)
    device = config.pick_device(args.device)
    generator = torch.Generator().manual_seed(0)
    train, val = fake_ravdess(1000, generator).to(device), fake_ravdess(240, generator).to(device)
    torch.manual_seed(0)
    teacher = msd.LateFusionNet(259, 35, 8, (128,), (128,)).to(device)
    data = msd.training_data(train, msd.model_outputs(teacher, train), args.weighting, False)
    recipe = msd.StudentRecipe(weighting=args.weighting, num_epochs=args.epochs)
    population = torch.tensor([[1.0, 0.5, 0.5]]) if args.weighting == "population" else None

    def make_student():
        return msd.LateFusionNet(259, 35, 8, (16,), (16,))

    def run(num_seeds, seed):
        return msd.train_students(make_student, data, recipe, num_seeds=num_seeds, seed=seed, population=population,
                                  meta_split=val)

    run(1, 0)  # warm-up (allocations, first-call dispatch)
    start = time.perf_counter()
    run(args.seeds, 0)
    vectorised = time.perf_counter() - start
    start = time.perf_counter()
    for s in range(args.seeds):
        run(1, s)
    looped = time.perf_counter() - start
    print(f"weighting={args.weighting} seeds={args.seeds} epochs={args.epochs} device={device.type}")
    print(f"vmap ensemble: {vectorised:.2f} s   per-seed loop: {looped:.2f} s   speed-up: {looped / vectorised:.2f}x")


if __name__ == "__main__":
    main()
