"""Time the batched gradient flow of Theorem 1 against a naive loop of one flow per run.

    python bench/bench_theory.py [--runs-per-gamma 5] [--repeats 3]

Both integrate the same runs (11 gammas x S seeds, n = 200, d = 10, 80 Euler steps) with the
same code (mfh_lib.theory.gradient_flow), so the ratio is the gain from batching alone; the
results are checked to agree before timing is reported.
"""
from __future__ import annotations

import argparse
import time

import torch

from mfh_lib import config, theory


def best_of(repeats: int, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-per-gamma", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    config.set_threads(2)
    device = config.pick_device(args.device)
    data = theory.theorem1_data(200, 10, list(range(11)), args.runs_per_gamma, 2, seed=0, device=device)
    features = data.features_b.flatten(0, 1)  # (runs, n, d)
    teacher = data.teacher_logits.flatten(0, 1)

    def batched():
        return theory.gradient_flow(features, teacher, flow_time=40, step=0.5)[2][-1]

    def looped():
        return torch.stack([theory.gradient_flow(features[r], teacher[r], flow_time=40, step=0.5)[2][-1]
                            for r in range(features.shape[0])])

    t_batched, r_batched = best_of(args.repeats, batched)
    t_looped, r_looped = best_of(args.repeats, looped)
    torch.testing.assert_close(r_batched, r_looped, rtol=1e-10, atol=1e-12)
    print(f"device={device}, {features.shape[0]} runs (n=200, d=10), 80 Euler steps each")
    print(f"batched: {t_batched:.3f} s   per-run loop: {t_looped:.3f} s   speed-up x{t_looped / t_batched:.1f}")


if __name__ == "__main__":
    main()
