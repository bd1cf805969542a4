"""Hot path of chapter 04_nyu_depth: one training step of S DeepLab V3+ seeds.

    python bench/bench_nyu.py [--seeds 3] [--size 24] [--batch 16] [--steps 5] [--threads 1]

Compares, in one run, (1) the seeds vectorised with torch.func.vmap (mfh_lib.training.Ensemble; this
needs GroupNorm, because BatchNorm updates running statistics in place), (2) a naive per-seed loop of
the same GroupNorm networks, and (3) the per-seed loop of BatchNorm networks the chapter uses.
Prints milliseconds per step (all seeds) and the ratios.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mfh_lib.config import pick_device, set_threads
from mfh_lib.models import deeplabv3plus
from mfh_lib.training import Ensemble

NUM_CLASSES = 8


def timed(step, num_steps: int, device) -> float:
    step()  # warm-up (allocations, cuDNN autotuning)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(num_steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / num_steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    device = pick_device("auto")
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(0, NUM_CLASSES, (args.batch, args.size, args.size), device=device)

    ensemble = Ensemble(lambda: deeplabv3plus(3, NUM_CLASSES, group_norm=True), args.seeds, device=device)
    ensemble_opt = torch.optim.Adam(ensemble.parameters(), lr=1e-3)

    def vmap_step():
        logits = ensemble(x, shared=True)
        loss = sum(F.cross_entropy(logits[s], y) for s in range(args.seeds))
        ensemble_opt.zero_grad()
        loss.backward()
        ensemble_opt.step()

    def loop_step_for(group_norm: bool):
        models = [deeplabv3plus(3, NUM_CLASSES, group_norm=group_norm).to(device) for _ in range(args.seeds)]
        optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

        def step():
            for model, opt in zip(models, optimizers):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return step

    vmap_ms = timed(vmap_step, args.steps, device)
    loop_gn_ms = timed(loop_step_for(True), args.steps, device)
    loop_bn_ms = timed(loop_step_for(False), args.steps, device)
    print(f"device={device.type}, threads={args.threads}, seeds={args.seeds}, batch={args.batch}, {args.size}x{args.size}")
    print(f"vmap, GroupNorm      : {vmap_ms:8.1f} ms/step")
    print(f"loop, GroupNorm      : {loop_gn_ms:8.1f} ms/step  (vmap speed-up x{loop_gn_ms / vmap_ms:.2f})")
    print(f"loop, BatchNorm (used): {loop_bn_ms:8.1f} ms/step  (vs vmap GroupNorm x{vmap_ms / loop_bn_ms:.2f} faster)")


if __name__ == "__main__":
    main()
