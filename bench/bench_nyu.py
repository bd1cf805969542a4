"""Hot path of chapter 04_nyu_depth: the training step of every network of the segmentation study,
and what a run of a profile costs.

    python bench/bench_nyu.py [--profile record] [--steps 5] [--threads 1] [--device auto]

For the profile's image size, batch size and network size (chapters/configs/04_nyu_depth.json) it
times one training step (forward, backward, Adam) of each teacher of
``mfh_lib.segmentation.TEACHERS`` (the modality-general one on a batch holding every scene as RGB
and as depth) and of an RGB student distilling from each of them (its step plus the teacher's
forward). From these it prints the cost of one seed of one gamma setting and of the whole profile:
steps per network = num_epochs x (num_train // batch_size), times seeds x settings. Evaluation and
data rendering are not counted (a few per cent at the quick size).
"""
from __future__ import annotations

import argparse
import time

import torch

from mfh_lib import config, segmentation
from mfh_lib.data import nyuv2
from mfh_lib.losses import kd_loss
from mfh_lib.training import make_optimizer


def timed(step, num_steps: int, device) -> float:
    """Seconds per call of ``step`` after one warm-up call."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(num_steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / num_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="record")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="default: the profile's")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    cfg = config.load_profile("04_nyu_depth", args.profile)
    config.set_threads(args.threads or cfg["threads"])
    device = config.pick_device(args.device)
    settings = segmentation.SegmentationStudySettings.from_dict(cfg, extra="ignore")
    data = nyuv2.make_standin(settings.batch_size, 0, 0, cfg["image_size"], cfg["main_share"], seed=0)
    views = segmentation.study_views(data.train, device)
    labels = data.train.y.to(device)
    networks = {}

    def step_for(model, inputs, teacher=None, teacher_view=None):
        opt = make_optimizer(model.parameters(), "adam", settings.lr)

        def step():
            model.train()
            x = torch.cat([views[v] for v in inputs])
            target = labels.repeat(len(inputs), 1, 1)
            soft = None
            if teacher is not None:
                with torch.no_grad():
                    soft = teacher(views[teacher_view])
            loss = kd_loss(model(x), soft, target, rho=settings.rho if teacher is not None else 1.0,
                           temperature=settings.temperature, ignore_index=nyuv2.IGNORE_INDEX)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    seconds = {}
    for name, (kind, inputs, _) in segmentation.TEACHERS.items():
        torch.manual_seed(0)
        networks[name] = segmentation.build_network(kind, views[inputs[0]].shape[1], data.num_classes, settings).to(device)
        seconds[name] = timed(step_for(networks[name], inputs), args.steps, device)
        networks[name].eval()
    for name, (teacher, view) in segmentation.STUDENTS.items():
        torch.manual_seed(0)
        student = segmentation.build_network("rgb", 3, data.num_classes, settings).to(device)
        seconds[name] = timed(step_for(student, ("RGB",), networks[teacher], view), args.steps, device)

    steps = settings.num_epochs * (cfg["num_train"] // settings.batch_size)
    per_seed = steps * sum(seconds.values())
    settings_count = len(cfg["shared_shares"])
    print(f"profile={args.profile}, device={device.type}, threads={torch.get_num_threads()}, batch={settings.batch_size}, "
          f"{cfg['image_size']}x{cfg['image_size']} px, {steps} steps per network")
    for name, value in seconds.items():
        print(f"  {name:30s} {1000 * value:8.1f} ms/step")
    print(f"one seed x one setting: {per_seed:8.1f} s")
    print(f"{args.profile} run ({settings.seeds} seeds x {settings_count} settings): {per_seed * settings.seeds * settings_count / 60:8.1f} min")


if __name__ == "__main__":
    main()
