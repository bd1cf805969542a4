"""mfh_lib: the shared library of the MFH reproducibility book.

Modules, flat by concept: config (profiles, seeding, device, data dir), cache (resumable results,
progress), stats (estimates, intervals, power), evidence (declared claim tests and verdicts),
claims (the ledger), controls (noise teacher, born-again, label smoothing, cross-fitting), losses
(KD, MSD), models, training (seed-vectorised loops), gamma_dial (chapter 01's gamma dial on class-paired data),
avmnist_report (chapter 01's tables and figures), theory (MFH lemmas and bounds), mi (mutual
information), ranking (Algorithm 1), multilabel (MFH App. B.3's F1-matched multi-label KD study),
segmentation (chapter 04's RGB-D segmentation KD study: CEN-like / SA-Gate-like / modality-general teachers),
plotting, and data/ (one module per dataset: real loader + stand-in; splits: generic splits and
standardisation).
"""
__version__ = "0.1.0"

import os
import platform

# Left alone, MKL, PyTorch's vectorised kernels and oneDNN pick code paths per CPU (AVX-512 or AVX2,
# Intel or AMD branches). The paths round differently, and SGD amplifies a last-bit difference into
# a different accuracy, so a golden made on one CPU fails on another (seen: an AVX2 AMD EPYC vs the
# machine that made the goldens). These pins give every x86-64 CPU the same kernels.
REPRODUCIBLE_CPU_ENV = {
    "MKL_CBWR": "COMPATIBLE",  # the one MKL branch documented to match across Intel and non-Intel CPUs
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own kernels: AVX2 also on AVX-512 CPUs
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # convolutions
}


def use_reproducible_cpu_env() -> None:
    """Set REPRODUCIBLE_CPU_ENV (and passive OpenMP waiting) unless already set.

    It acts only on processes that import torch afterwards: call it before torch is imported, e.g.
    in the process that starts the chapters' kernels (conftest.py, scripts/run_chapters.py).
    """
    # Spinning OpenMP threads starve a busy 2-core CPU (30-100x slower small ops); results are unchanged.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if platform.machine().lower() in ("x86_64", "amd64"):
        for name, value in REPRODUCIBLE_CPU_ENV.items():
            os.environ.setdefault(name, value)
