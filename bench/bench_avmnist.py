"""Seed-vectorised KD training of the AV-MNIST audio student vs a naive Python loop over seeds.

    python bench/bench_avmnist.py [--seeds 3] [--steps 20] [--batch 50] [--size 24] [--width 8] [--threads 2]

Both run the same number of optimisation steps of MFH eq. (1) (rho = 0.5, KL to fixed teacher
logits) for the 3-layer CNN student and, separately, the 6-layer CNN teacher's supervised step
(GroupNorm, as in the chapter): the vectorised way is one mfh_lib.training.Ensemble (all seeds
stacked under torch.func.vmap, one Adam); the naive way is one nn.Module and one Adam per seed, stepped in a Python loop. The script
checks that both give the same losses at the first step and prints wall times and the ratio.
"""
from __future__ import annotations

import argparse
import time

import torch

from mfh_lib.losses import kd_loss
from mfh_lib.models import AudioCNN
from mfh_lib.training import Ensemble


def vectorised(make_model, batches, rho, seeds):
    ensemble = Ensemble(make_model, seeds, seed=0)
    opt = torch.optim.Adam(ensemble.parameters(), lr=1e-3)
    first = None
    for x, y, t in batches:
        logits = ensemble(x)
        losses = torch.stack([kd_loss(logits[i], t[i], y[i], rho) for i in range(seeds)])
        opt.zero_grad()
        losses.sum().backward()
        opt.step()
        first = losses.detach() if first is None else first
    return first


def naive(make_model, batches, rho, seeds):
    models, opts = [], []
    for i in range(seeds):
        torch.manual_seed(i)
        models.append(make_model())
        opts.append(torch.optim.Adam(models[-1].parameters(), lr=1e-3))
    first = None
    for x, y, t in batches:
        losses = []
        for i, (model, opt) in enumerate(zip(models, opts)):
            loss = kd_loss(model(x[i]), t[i], y[i], rho)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        first = torch.stack(losses) if first is None else first
    return first


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--size", type=int, default=24, help="spectrogram height = width")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    s, b = args.seeds, args.batch
    batches = [(torch.randn(s, b, 1, args.size, args.size, generator=gen), torch.randint(0, 10, (s, b), generator=gen),
                torch.randn(s, b, 10, generator=gen)) for _ in range(args.steps)]
    print(f"{s} seeds, {args.steps} steps of batch {b}, spectrograms 1x{args.size}x{args.size}, width {args.width}, "
          f"{args.threads} threads")
    for name, make_model, rho in (("student (3-layer CNN, KD rho=0.5)", lambda: AudioCNN(3, args.width), 0.5),
                                  ("teacher (6-layer CNN, labels only)", lambda: AudioCNN(6, args.width), 1.0)):
        vectorised(make_model, batches[:1], rho, s)  # warm-up
        v_first, v_time = timed(lambda: vectorised(make_model, batches, rho, s))
        n_first, n_time = timed(lambda: naive(make_model, batches, rho, s))
        assert torch.allclose(v_first, n_first, atol=1e-4), (v_first, n_first)
        print(f"{name}: vectorised {v_time:.2f} s, naive loop {n_time:.2f} s, speed-up x{n_time / v_time:.2f}")


if __name__ == "__main__":
    main()
