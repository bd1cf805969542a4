"""Algorithm 1's permutation loop: batched (mfh_lib.ranking) vs the paper's per-seed double loop.

    .venv/bin/python bench/bench_ranking.py [--seeds 3] [--permutations 10] [--n 960]

Setting: the RAVDESS chapter's hidden-layer ranking (128 channels, 8-class linear head) and its
input-level ranking (259 MFCC channels through a 259-32-8 MLP). Prints both timings and the ratio.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import time

import torch

from mfh_lib import config, models, ranking


def naive(head, features, reference, num_permutations, generator):
    """for seed: for m: for i: permute column i, run the head, Dist (Algorithm 1 as printed)."""
    S, n, d = features.shape
    out = torch.zeros(S, num_permutations, d, device=features.device)
    with torch.no_grad():
        for s in range(S):
            for m in range(num_permutations):
                for i in range(d):
                    x = features[s].clone()
                    x[:, i] = x[torch.randperm(n, generator=generator).to(x.device), i]
                    out[s, m, i] = (head[s](x) - reference[s]).pow(2).mean()
    return out


def bench(label, make_head, S, M, n, d, C, device):
    torch.manual_seed(0)
    heads = [make_head().to(device) for _ in range(S)]
    features, reference = torch.randn(S, n, d, device=device), torch.randn(S, n, C, device=device)
    weights = [dict(h.named_parameters()) for h in heads]
    stacked = {k: torch.stack([w[k].detach() for w in weights]) for k in weights[0]}
    base = heads[0]

    def batched_head(z):  # the S heads as one vmapped call, as an Ensemble member_part does
        return torch.func.vmap(lambda p, x: torch.func.functional_call(base, p, (x,)))(stacked, z)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    ranking.permutation_distances(batched_head, features, reference, num_permutations=M,
                                  generator=torch.Generator().manual_seed(0))
    sync()
    fast = time.perf_counter() - start
    start = time.perf_counter()
    naive(heads, features, reference, M, torch.Generator().manual_seed(0))
    sync()
    slow = time.perf_counter() - start
    print(f"[{device.type}] {label:34s} S={S} M={M} n={n} d={d}: batched {fast:7.2f} s | loop {slow:7.2f} s | speed-up x{slow / fast:.1f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--permutations", type=int, default=10)
    parser.add_argument("--n", type=int, default=960)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    config.set_threads(2)
    device = config.pick_device(args.device)
    bench("hidden layer (128 -> 8 linear head)", lambda: torch.nn.Linear(128, 8), args.seeds, args.permutations,
          args.n, 128, 8, device)
    bench("input level (259 -> 32 -> 8 MLP)", lambda: models.MLP(259, [32], 8), args.seeds, args.permutations,
          args.n, 259, 8, device)


if __name__ == "__main__":
    main()
