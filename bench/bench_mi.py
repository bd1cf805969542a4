"""Batched MI estimation and batched KD-risk Monte Carlo vs Python loops over seeds/draws, in one run.

    python bench/bench_mi.py [--seeds 8] [--n 1000] [--draws 2000]

1. KSG (mfh_lib.mi.ksg_mi) on `seeds` independent samples of N pairs: one batched call vs a loop.
2. The linear Gaussian KD risk (mfh_lib.cch.LinearGaussianKD.monte_carlo_risk): all draws in one
   batched solve vs a loop that fits one draw at a time.
Both ways compute identical numbers (checked); the script prints wall times and the ratio.
"""
import argparse
import time

import torch

from mfh_lib import cch, config, mi


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    config.set_threads(2)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.seeds, args.n, 2, generator=g, dtype=torch.float64)
    y = 0.6 * x[..., :1] + 0.8 * x[..., 1:]
    batched, t_batched = timed(lambda: mi.ksg_mi(x[..., :1], y))
    looped, t_loop = timed(lambda: torch.stack([mi.ksg_mi(x[s, :, :1], y[s]) for s in range(args.seeds)]))
    assert torch.allclose(batched, looped)
    print(f"KSG, {args.seeds} seeds x N={args.n}: loop {t_loop:.2f} s, batched {t_batched:.2f} s, "
          f"speed-up x{t_loop / t_batched:.1f}")

    model = cch.overlap_model(0.5, 1.0, d=20)
    lams = torch.tensor([0.0, 0.1, 0.5], dtype=torch.float64)
    batched, t_batched = timed(lambda: model.monte_carlo_risk(lams, 40, args.draws, torch.Generator().manual_seed(1)))

    def loop():
        gen = torch.Generator().manual_seed(1)
        x2, y2, t2 = model.sample(40, args.draws, gen)  # the same draws, then fitted one at a time
        out = []
        for i in range(args.draws):
            w_y = torch.linalg.lstsq(x2[i], y2[i][:, None]).solution[:, 0]
            w_t = torch.linalg.lstsq(x2[i], t2[i][:, None]).solution[:, 0]
            out.append(torch.stack([model.test_risk((w_y + lam * w_t) / (1 + lam)) for lam in lams]))
        return torch.stack(out)

    looped, t_loop = timed(loop)
    assert torch.allclose(batched, looped, rtol=1e-6)
    print(f"KD risk Monte Carlo, {args.draws} draws (n=40, d=20): loop {t_loop:.2f} s, batched {t_batched:.2f} s, "
          f"speed-up x{t_loop / t_batched:.1f}")


if __name__ == "__main__":
    main()
