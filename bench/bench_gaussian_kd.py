"""Batched Gaussian-MVD KD (mfh_lib.gaussian_kd.run_kd) vs a naive Python loop over runs.

    python bench/bench_gaussian_kd.py [--seeds 5] [--epochs 300] [--threads 1]

Both train, for every (Fig. 2 setting, seed) run, a teacher, a no-KD student and a KD student
for the same number of full-batch epochs. The naive loop is the plain way: one nn.Linear(d, 2)
per model, mfh_lib.losses.kd_loss, torch.optim.SGD; run_kd trains all runs at once.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from mfh_lib.data.gaussian_mvd import spec_from_sizes
from mfh_lib.gaussian_kd import KDSettings, draw_run_data, run_kd
from mfh_lib.losses import kd_loss


def naive_run(spec, seed, settings):
    data = draw_run_data(spec, seed, settings)

    def fit(x, y, teacher=None, rho=1.0):
        model = nn.Linear(x.shape[1], 2)
        opt = torch.optim.SGD(model.parameters(), lr=settings.lr)
        for _ in range(settings.num_epochs):
            loss = kd_loss(model(x), teacher, y, rho=rho, temperature=settings.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model

    teacher = fit(data["x_a_train"], data["y_train"])
    fit(data["x_b_train"], data["y_train"])
    with torch.no_grad():
        soft = teacher(data["x_a_train"])
    fit(data["x_b_train"], data["y_train"], soft, rho=settings.rho)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = [spec_from_sizes(25, 50, 20, 10, 10, k) for k in range(0, 11, 2)]
    settings = KDSettings(num_epochs=args.epochs)
    runs = len(specs) * args.seeds

    start = time.perf_counter()
    run_kd(specs, range(args.seeds), settings, num_threads=args.threads)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    for spec in specs:
        for seed in range(args.seeds):
            naive_run(spec, seed, settings)
    naive = time.perf_counter() - start

    print(f"{runs} runs x 3 models x {args.epochs} epochs, {args.threads} thread(s)")
    print(f"batched run_kd : {batched:7.2f} s")
    print(f"naive loop     : {naive:7.2f} s")
    print(f"speed-up       : {naive / batched:7.1f}x")


if __name__ == "__main__":
    main()
