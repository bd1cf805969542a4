"""The step timer the bench scripts share (run them as ``python bench/NAME.py``: this folder is on
the path)."""
from __future__ import annotations

import time

import torch


def seconds_per_call(step, num_steps: int, device) -> float:
    """Seconds per call of ``step`` after one warm-up call (CUDA work is waited for on both ends)."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(num_steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / num_steps
