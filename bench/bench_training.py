"""Seed-vectorised training (mfh_lib.training.Ensemble) vs a Python loop over seeds, in one run.

    python bench/bench_training.py [--seeds 10] [--epochs 30]

Trains the same MLP classifier for every seed both ways on identical data and prints wall times
and the speed-up ratio (loop / vectorised).
"""
import argparse
import time

import torch
import torch.nn.functional as F

from mfh_lib import config, models, training


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    config.set_threads(2)
    torch.manual_seed(0)
    x, y = torch.randn(args.n, 64), torch.randint(0, 8, (args.n,))
    make = lambda: models.MLP(64, [128, 64], 8)

    start = time.perf_counter()
    ens = training.Ensemble(make, args.seeds)
    training.train_ensemble(ens, [x, y], lambda e, xb, yb: torch.vmap(F.cross_entropy)(e(xb), yb),
                            shared=[True, True], num_epochs=args.epochs, batch_size=128, lr=0.05,
                            generator=torch.Generator().manual_seed(0))
    vectorised = time.perf_counter() - start

    start = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = make()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for _ in range(args.epochs):
            for idx in torch.randperm(args.n, generator=gen).split(128):
                opt.zero_grad()
                F.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
    loop = time.perf_counter() - start
    print(f"seeds={args.seeds} epochs={args.epochs}: loop {loop:.2f} s, vectorised {vectorised:.2f} s, "
          f"speed-up x{loop / vectorised:.1f}")


if __name__ == "__main__":
    main()
