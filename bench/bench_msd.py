"""Speed of MSD student training: the fused forward vs the naive vmap(functional_call) one.

    python bench/bench_msd.py [--seeds 3] [--epochs 3] [--weighting meta] [--repeats 2]

Trains ``seeds`` students (one vmap ensemble) on RAVDESS-shaped random features (1,000 samples,
259 + 35 inputs, 8 classes) at the chapter's quick settings (width 8, batch 128), once with the
generic ``vmap(functional_call)`` forward of the LateFusionNet (the naive version) and once with
the fused batched-matmul forward (``msd.fused_forward``; the encoders run once per batch for all
three views), in one run, and prints both wall times (best of ``repeats``) and their ratio. Both
paths give the same losses up to float rounding (tests/test_msd.py checks it).
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
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--weighting", default="meta", choices=["kd", "population", "importance", "meta"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    config.set_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    train, val = fake_ravdess(1000, generator), fake_ravdess(240, generator)
    torch.manual_seed(0)
    teacher = msd.LateFusionNet(259, 35, 8, (128,), (128,))
    data = msd.training_data(train, msd.model_outputs(teacher, train), args.weighting, False)
    recipe = msd.StudentRecipe(weighting=args.weighting, num_epochs=args.epochs, batch_size=128, lr=0.01)
    population = msd.population_grid([0.0, 0.5, 1.0]) if args.weighting == "population" else None

    def run():
        return msd.train_students(lambda: msd.LateFusionNet(259, 35, 8, (8,), (8,)), data, recipe,
                                  num_seeds=args.seeds, population=population, meta_split=val)

    def best_time(fused):
        with msd.fused_forward(fused):
            run()  # warm-up (allocations, first-call dispatch)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
        return min(times)

    naive, fused = best_time(False), best_time(True)
    print(f"weighting={args.weighting} seeds={args.seeds} epochs={args.epochs} threads={args.threads}")
    print(f"naive vmap(functional_call): {naive:.2f} s   fused: {fused:.2f} s   speed-up: {naive / fused:.2f}x")


if __name__ == "__main__":
    main()
