"""Hot path of chapter 04_nyu_depth: the training step of every network of the segmentation study,
and what a run of a profile costs.

    python bench/bench_nyu.py [--profile record] [--steps 5] [--threads 1] [--device auto]
    python bench/bench_nyu.py --profile record --probe-gate 48 [--every 4]

``--probe-gate E``: the convergence-gate probe. On the profile's stand-in (main gamma, seed 0) it
trains each teacher for up to E epochs, evaluates its test IoU every ``--every`` epochs (training
continues from the same weights; Adam's state restarts at each evaluation, a small deviation from
one uninterrupted run) and prints the first epoch at which it passes the chapter's gate (mIoU >= 35,
every class >= 15% IoU): how many epochs a record profile needs for verdicts that are not blocked.

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

import torch

from mfh_lib import config, segmentation
from mfh_lib.data import nyuv2
from mfh_lib.losses import kd_loss
from mfh_lib.training import iou_from_confusion, make_optimizer, segmentation_confusion, train_segmenter
from timing import seconds_per_call

GATE_MIOU, GATE_WORST_CLASS = 35.0, 15.0  # the chapter's declared preconditions (paper_numbers/04_nyu_depth.json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="record")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="default: the profile's")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--probe-gate", type=int, default=0, metavar="EPOCHS")
    parser.add_argument("--every", type=int, default=4)
    args = parser.parse_args()
    cfg = config.load_profile("04_nyu_depth", args.profile)
    config.set_threads(args.threads or cfg["threads"])
    device = config.pick_device(args.device)
    settings = segmentation.SegmentationStudySettings.from_dict(cfg, extra="ignore")
    if args.probe_gate:
        probe_gate(cfg, settings, args.probe_gate, args.every, device)
        return
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
        seconds[name] = seconds_per_call(step_for(networks[name], inputs), args.steps, device)
        networks[name].eval()
    for name, (teacher, view) in segmentation.STUDENTS.items():
        torch.manual_seed(0)
        student = segmentation.build_network("rgb", 3, data.num_classes, settings).to(device)
        seconds[name] = seconds_per_call(step_for(student, ("RGB",), networks[teacher], view), args.steps, device)

    steps = settings.num_epochs * (cfg["num_train"] // settings.batch_size)
    per_seed = steps * sum(seconds.values())
    settings_count = len(cfg["shared_shares"])
    print(f"profile={args.profile}, device={device.type}, threads={torch.get_num_threads()}, batch={settings.batch_size}, "
          f"{cfg['image_size']}x{cfg['image_size']} px, {steps} steps per network")
    for name, value in seconds.items():
        print(f"  {name:30s} {1000 * value:8.1f} ms/step")
    # the controls at the main setting: a noise teacher of the SA-Gate-like shape and two students
    # (approximated by the CM-KD student's step: an RGB student plus an SA-Gate-like forward, or less)
    controls = steps * (seconds["SA-Gate-like RGB+D teacher"] + 2 * seconds["CM-KD student (SA-Gate-like)"])
    print(f"one seed x one setting: {per_seed:8.1f} s (+ {controls:.1f} s for the controls at the main setting)")
    total = (per_seed * settings_count + controls) * settings.seeds
    print(f"{args.profile} run ({settings.seeds} seeds x {settings_count} settings, controls once): {total / 60:8.1f} min")


def probe_gate(cfg: dict, settings, max_epochs: int, every: int, device) -> None:
    """Epochs (and steps) each teacher needs to pass the convergence gate; see the module docstring."""
    data = nyuv2.make_standin(cfg["num_train"], 0, cfg["num_test"], cfg["image_size"], cfg["main_share"],
                              cfg["unlabeled_share"], seed=0, rgb_share=cfg["rgb_share"])
    train, test = segmentation.study_views(data.train, device), segmentation.study_views(data.test, device)
    labels, test_labels, k = data.train.y.to(device), data.test.y.to(device), data.num_classes
    steps_per_epoch = cfg["num_train"] // settings.batch_size
    print(f"gate probe: profile {cfg['image_size']} px, {cfg['num_train']} scenes, gamma {cfg['main_share']}, "
          f"{steps_per_epoch} steps/epoch, gate mIoU >= {GATE_MIOU:g} and every class >= {GATE_WORST_CLASS:g}")
    for name, (kind, views, evaluated_on) in segmentation.TEACHERS.items():
        torch.manual_seed(0)
        model = segmentation.build_network(kind, train[views[0]].shape[1], k, settings).to(device)
        generator, passed, trail = torch.Generator().manual_seed(0), None, []
        for epoch in range(every, max_epochs + 1, every):
            train_segmenter(model, [train[v] for v in views], labels, num_epochs=every, batch_size=settings.batch_size,
                            lr=settings.lr, weight_decay=settings.weight_decay, ignore_index=nyuv2.IGNORE_INDEX,
                            generator=generator, desc=name)
            iou, miou = iou_from_confusion(segmentation_confusion(model, test[evaluated_on], test_labels, k, nyuv2.IGNORE_INDEX))
            trail.append(f"{epoch}:{float(miou):.0f}/{float(iou.nan_to_num(0).min()):.0f}")
            if float(miou) >= GATE_MIOU and float(iou.nan_to_num(0).min()) >= GATE_WORST_CLASS:
                passed = epoch
                break
        verdict = f"passes at epoch {passed} ({passed * steps_per_epoch} steps)" if passed else f"not within {max_epochs} epochs"
        print(f"  {name:28s} {verdict}; epoch:mIoU/worst class {' '.join(trail)}")


if __name__ == "__main__":
    main()
