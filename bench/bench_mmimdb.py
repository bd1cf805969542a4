"""Seed-vectorised vs per-seed training of the MM-IMDB late-fusion teacher (the chapter's hot path).

    python bench/bench_mmimdb.py [--seeds 4] [--epochs 3] [--threads 2] [--repeats 2]

Both variants train the same networks (quick-profile widths) on the same stand-in data with AdamW,
batch 128: one ``Ensemble`` of S members under ``torch.func.vmap`` against S separate models in a
Python loop. Prints both wall times (best of ``--repeats``, after a warm-up) and their ratio.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mfh_lib import config, models, training
from mfh_lib.data import mmimdb

CONFIG = json.loads((Path(__file__).resolve().parent.parent / "chapters" / "configs" / "06_mmimdb.json").read_text())["quick"]


def make_fusion(data):
    return models.LateFusion(data.train.a.shape[1], data.train.b.shape[1], CONFIG["hidden_image"],
                             CONFIG["hidden_text"], CONFIG["embed_dim"], CONFIG["embed_dim"], data.num_classes)


def vectorised(data, rows, num_epochs):
    ensemble = training.Ensemble(lambda: make_fusion(data), rows.shape[0], seed=0)

    def loss_fn(ens, idx):
        logits = ens(data.train.a[idx], data.train.b[idx])
        return F.binary_cross_entropy_with_logits(logits, data.train.y[idx], reduction="none").mean((1, 2))

    training.train_ensemble(ensemble, [rows], loss_fn, num_epochs=num_epochs, batch_size=CONFIG["batch_size"],
                            optimizer="adamw", lr=CONFIG["lr"], weight_decay=CONFIG["weight_decay"],
                            generator=torch.Generator().manual_seed(0))


def per_seed_loop(data, rows, num_epochs):
    for i in range(rows.shape[0]):
        torch.manual_seed(i)
        model = make_fusion(data)
        opt = torch.optim.AdamW(model.parameters(), lr=CONFIG["lr"], weight_decay=CONFIG["weight_decay"])
        gen = torch.Generator().manual_seed(i)
        for _ in range(num_epochs):
            order = rows[i][torch.randperm(rows.shape[1], generator=gen)]
            for start in range(0, len(order), CONFIG["batch_size"]):
                idx = order[start:start + CONFIG["batch_size"]]
                loss = F.binary_cross_entropy_with_logits(model(data.train.a[idx], data.train.b[idx]), data.train.y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    config.set_threads(args.threads)
    data = mmimdb.load_mmimdb(None, seed=0, standin=CONFIG["standin"])
    rows, _ = mmimdb.random_halves(len(data.train), args.seeds, seed=0)
    timings = {}
    for name, fn in (("vectorised (Ensemble + vmap)", vectorised), ("per-seed loop", per_seed_loop)):
        fn(data, rows[:, :256], 1)  # warm-up: first-call costs (allocations, vmap tracing) are not the steady state
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn(data, rows, args.epochs)
            runs.append(time.perf_counter() - start)
        timings[name] = min(runs)  # the CPU is shared: the fastest repeat is the least disturbed
        print(f"{name:30s} {timings[name]:7.2f} s  ({args.seeds} seeds x {args.epochs} epochs x {rows.shape[1]} samples)")
    print(f"speed-up of the vectorised version: {timings['per-seed loop'] / timings['vectorised (Ensemble + vmap)']:.2f}x")


if __name__ == "__main__":
    main()
