"""Step time of chapter 01's networks and the cost of a profile's run (quick / record / full).

    python bench/bench_avmnist.py [--profile record] [--steps 5] [--threads 2] [--device auto] [--naive]

For the chosen profile of chapters/configs/01_case_study_avmnist.json it builds the chapter's
networks (UM teacher: 6-layer CNN; CM teacher: LeNet-5 + 5-layer CNN late fusion; student:
3-layer CNN; image-only LeNet-5), times one optimisation step of all the profile's seeds at once
(mfh_lib.training.Ensemble under torch.func.vmap, Adam, the profile's batch and spectrogram size,
rho = 0.5 KD for the student), and multiplies by the number of steps every training unit of the
chapter takes (epochs x batches per epoch; one unit = one model trained for all seeds): the main
study (teachers, noise teacher, image-only baseline, No-KD, KD students at every rho, controls,
cross-fitted teachers per fold), and the image sweep (CM teacher + image-only per setting, and
No-KD + CM-KD students where ``sweep_students``). Validation passes and data building are not
counted, so the estimate is a lower bound of the run's wall time. ``--naive`` also times a Python
loop over seeds (one module and one Adam each) for the student, to show what vmap saves.
"""
from __future__ import annotations

import argparse
import math

import torch

from mfh_lib import config
from mfh_lib.losses import kd_loss
from mfh_lib.models import AudioCNN, ImageAudioLateFusion, LeNet5
from mfh_lib.training import Ensemble, make_optimizer
from timing import seconds_per_call

CHAPTER = "01_case_study_avmnist"


def step_ms(make_model, inputs, labels, seeds, steps, device, rho=1.0, naive=False) -> float:
    """Milliseconds per optimisation step of all ``seeds`` (vectorised, or a loop over seeds)."""
    teacher = torch.randn(seeds, labels.shape[-1], 10, device=device)
    if naive:
        models = [make_model().to(device) for _ in range(seeds)]
        opts = [make_optimizer(m.parameters(), "adam", 1e-3) for m in models]

        def step():
            for i, (model, opt) in enumerate(zip(models, opts)):
                loss = kd_loss(model(*(x[i] for x in inputs)), teacher[i], labels[i], rho)
                opt.zero_grad()
                loss.backward()
                opt.step()
    else:
        ensemble = Ensemble(make_model, seeds, device=device)
        opt = make_optimizer(ensemble.parameters(), "adam", 1e-3)

        def step():
            logits = ensemble(*inputs)
            loss = torch.stack([kd_loss(logits[i], teacher[i], labels[i], rho) for i in range(seeds)]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return seconds_per_call(step, steps, device) * 1000


def training_units(cfg: dict) -> dict[str, int]:
    """How many models of each network the chapter trains (each for all seeds at once)."""
    cross = len(cfg["cross_fit_teachers"])
    settings = len(cfg["energy_sweep"]) + int(bool(cfg["multibench_components"]))
    return {
        "UM teacher": 2 + cfg["num_folds"] * ("UM" in cfg["cross_fit_teachers"]),  # the UM and the noise teacher
        "CM teacher": 1 + settings + cfg["num_folds"] * ("CM" in cfg["cross_fit_teachers"]),
        "image only": 1 + settings,
        "student": 1 + 2 * len(cfg["rhos"]) + 3 + cross + settings * 2 * int(cfg["sweep_students"]),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="record", choices=("quick", "record", "full"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--naive", action="store_true")
    args = parser.parse_args(argv)
    config.set_threads(args.threads)
    device = config.pick_device(args.device)
    cfg = config.load_profile(CHAPTER, args.profile)
    s, b, w = int(cfg["seeds"]), int(cfg["batch_size"]), int(cfg["width"])
    gen = torch.Generator().manual_seed(0)
    audio = torch.randn(s, b, 1, cfg["n_mels"], cfg["num_frames"], generator=gen).to(device)
    image = torch.randn(s, b, 1, 28, 28, generator=gen).to(device)
    labels = torch.randint(0, 10, (s, b), generator=gen).to(device)
    networks = {
        "UM teacher": (lambda: AudioCNN(6, w, norm=cfg["group_norm"]), (audio,), 1.0),
        "CM teacher": (lambda: ImageAudioLateFusion(audio_layers=5, width=w, norm=cfg["group_norm"]), (image, audio), 1.0),
        "image only": (LeNet5, (image,), 1.0),
        "student": (lambda: AudioCNN(3, w, norm=cfg["group_norm"]), (audio,), 0.5),
    }
    units = training_units(cfg)
    batches = math.ceil(cfg["num_train"] / b)
    print(f"profile {args.profile}: {s} seeds, {cfg['num_train']} training pairs, batch {b} ({batches} steps/epoch), "
          f"spectrograms {cfg['n_mels']}x{cfg['num_frames']}, width {w}, {args.threads} threads, {device}")
    total = 0.0
    for name, (make_model, inputs, rho) in networks.items():
        ms = step_ms(make_model, inputs, labels, s, args.steps, device, rho)
        epochs = cfg["student_epochs"] if name == "student" else cfg["teacher_epochs"]
        seconds = units[name] * epochs * batches * ms / 1000
        total += seconds
        line = f"{name:11s}: {ms:8.1f} ms/step (all seeds), {units[name]:2d} units x {epochs} epochs -> {seconds / 60:7.1f} min"
        if args.naive and name == "student":
            naive = step_ms(make_model, inputs, labels, s, args.steps, device, rho, naive=True)
            line += f"; naive loop over seeds {naive:.1f} ms/step (x{naive / ms:.2f})"
        print(line)
    print(f"training steps of a {args.profile} run: {total / 60:.1f} min ({total / 3600:.2f} h), validation and data not counted")


if __name__ == "__main__":
    main()
