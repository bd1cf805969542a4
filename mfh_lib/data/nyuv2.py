"""NYU Depth V2 (RGB-D semantic segmentation): loader for the official file and an offline stand-in.

Real data (expected layout under ``$MFH_DATA_DIR``)::

    nyuv2/nyu_depth_v2_labeled.mat        # the official labelled set, 1,449 frames (MATLAB v7.3 = HDF5)
    nyuv2_meta/splits.mat                 # trainNdxs (795) / testNdxs (654), 1-based frame indices
    nyuv2_meta/classMapping40.mat         # mapClass: 894 raw classes -> 40 classes (className)

The .mat file is HDF5 written by MATLAB, which stores arrays column-major, so h5py sees every axis
reversed: ``images`` is (N, 3, W, H) uint8, ``depths`` (N, W, H) float metres, ``labels`` (N, W, H)
uint16 with 0 = unlabelled and 1..894 the raw classes. :func:`read_labeled_mat` undoes the
transposition; :func:`load_nyuv2` maps labels to the 40-class protocol (unlabelled -> IGNORE_INDEX),
resizes and returns a :class:`MultimodalDataset` with ``a`` = depth (teacher) and ``b`` = RGB (student).

Stand-in (:func:`make_standin`): procedurally rendered rooms (a back wall and a floor plane seen by a
camera, so the floor's depth grows towards the horizon) with three to five objects. Every object is a
rectangle standing in front of the surface behind it, so **both modalities see every object** (a
colour change in RGB, a depth step in depth); its class is decided by two per-instance cues:

* a **texture** in RGB (vertical / horizontal / diagonal stripes, a checkerboard: one pattern per
  class, each covering half the face), and
* a **relief** in depth: the same pattern raised from the object's face (ribs, a checkerboard of studs).

Both cues are sized to be resolvable at the quick profile's 24 px: objects span 40-70% of the image
side, every pattern is made of 2-pixel bars or squares (a 4-pixel period), and the relief
(:data:`RELIEF_DEPTH`) is larger than the object's standoff from its surface. (A 0.3 m relief, with
the scene's depth spanning metres, 1-pixel dots for one class and a 1-pixel checkerboard for another,
left the depth networks unable to tell the object classes apart at this size: no depth teacher
reached the convergence gate.)

An instance is *modality-general* with probability ``shared_share`` (the planted gamma of MFH: the
share of decisive instances both modalities can decide): both cues name its class. Otherwise only
one cue is decisive: the other is the neutral one shared by every class (a plain colour in RGB, a
flat face in depth). Of the specific instances a share ``rgb_share`` (default 0.75) is decided by
RGB only and the rest by depth only, so RGB decides more instances than depth and RGB+D decides
all of them: the relations of real NYU (RGB > depth, RGB+D > RGB). No class is invisible to either
modality: each modality decides every class on its general instances and on its own specific ones.

Objects drawn later occlude earlier ones in RGB, depth and labels alike (nothing is repainted with
the background). As in NYU, where a sizeable part of every frame carries label 0, each object is
left unlabelled with probability ``unlabeled_share`` (its pixels get IGNORE_INDEX): the
cross-entropy skips them, the KD term of MFH eq. (1) does not, which is where a teacher's view of
the scene reaches the student.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ConfigError, check_unit_interval, require_subdir
from . import MultimodalDataset, MultimodalSplit, open_hdf5, require_rows, validate_array

IGNORE_INDEX = 255
NYU_SUBDIR = "nyuv2"
NYU_MAT_NAME = "nyu_depth_v2_labeled.mat"
META_SUBDIR = "nyuv2_meta"
NUM_RAW_CLASSES = 894

STANDIN_CLASSES = ("wall", "floor", "cabinet", "sofa", "lamp", "ball")
STANDIN_OBJECTS = STANDIN_CLASSES[2:]  # the classes decided by per-instance cues
STANDIN_TEXTURE = {"cabinet": "vertical stripes", "sofa": "horizontal stripes", "lamp": "a checkerboard",
                   "ball": "diagonal stripes"}  # the RGB cue of each object class (neutral: a plain colour)
STANDIN_RELIEF = {"cabinet": "vertical ribs", "sofa": "horizontal ribs", "lamp": "a checkerboard of studs",
                  "ball": "diagonal ribs"}  # the depth cue: the same pattern as relief (neutral: a flat face)
INSTANCE_KINDS = ("general", "rgb-only", "depth-only")  # which cue decides an object instance
STANDIN_SOURCE = "stand-in (synthetic RGB-D rooms, planted per-instance RGB / depth cues)"
RELIEF_DEPTH = 2.0  # metres the relief stands out of an object's face (the face stands 0.4-0.8 m out of its surface)
OBJECT_SIZE = (0.4, 0.7)  # an object's height and width, as fractions of the image side
WALL_DEPTH = (3.5, 5.5)  # metres, drawn per room: at least 0.5 m behind the nearest floor row
NEAR_FLOOR_DEPTH = 3.0  # metres at the bottom row: the nearest relief stays in front of the camera


# ----------------------------------------------------------------------------------------------
# Real data
# ----------------------------------------------------------------------------------------------
def load_meta(meta_dir: Path) -> dict:
    """Splits (0-based indices) and the 894 -> 40 class mapping from the nyuv2-meta-data files."""
    from scipy.io import loadmat

    meta_dir = Path(meta_dir)
    try:
        splits = loadmat(meta_dir / "splits.mat")
        mapping = loadmat(meta_dir / "classMapping40.mat")
    except FileNotFoundError as err:
        raise ConfigError(f"{err.filename} missing; {meta_dir} must hold splits.mat and classMapping40.mat "
                          "from github.com/ankurhanda/nyuv2-meta-data") from err
    for key, store in (("trainNdxs", splits), ("testNdxs", splits), ("mapClass", mapping), ("className", mapping)):
        if key not in store:
            raise ConfigError(f"{key!r} not found in the NYU meta files under {meta_dir}; use the original "
                              "splits.mat / classMapping40.mat")
    fix = "use the original splits.mat / classMapping40.mat from github.com/ankurhanda/nyuv2-meta-data"
    map_class = validate_array("mapClass", np.asarray(mapping["mapClass"]).reshape(-1), file=meta_dir / "classMapping40.mat",
                               shape=(NUM_RAW_CLASSES,), integer=True, low=1, high=40, fix=fix).astype(np.int64)
    for key in ("trainNdxs", "testNdxs"):
        validate_array(key, np.asarray(splits[key]).reshape(-1), file=meta_dir / "splits.mat", integer=True, low=1, fix=fix)
    # raw label 0 (unlabelled) -> ignore; raw c in 1..894 -> mapClass[c-1] in 1..40 -> 0-based 0..39
    lookup = np.concatenate([[IGNORE_INDEX], map_class - 1]).astype(np.int64)
    names = [str(np.asarray(n).reshape(-1)[0]) for n in np.asarray(mapping["className"]).reshape(-1)]
    return {
        "train_idx": np.asarray(splits["trainNdxs"]).reshape(-1).astype(np.int64) - 1,
        "test_idx": np.asarray(splits["testNdxs"]).reshape(-1).astype(np.int64) - 1,
        "label_lookup": lookup,
        "class_names": names,
    }


def _dataset(handle, name: str, ndim: int):
    if name not in handle:
        raise ConfigError(f"dataset {name!r} not found in {handle.filename}; expected the official "
                          f"{NYU_MAT_NAME} (MATLAB v7.3) with 'images', 'depths' and 'labels'")
    data = handle[name]
    if data.ndim != ndim:
        raise ConfigError(f"{name!r} in {handle.filename} has shape {data.shape}; expected {ndim} axes "
                          "as in the official file (images (N,3,W,H), depths/labels (N,W,H))")
    return data


def read_labeled_mat(path: Path, indices=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``indices`` (0-based; all when None) as images (n,3,H,W) uint8, depths (n,H,W) float32,
    raw labels (n,H,W) int64, with MATLAB's axis reversal undone."""
    with open_hdf5(path, f"the MATLAB v7.3 file {NYU_MAT_NAME} from the NYU Depth V2 website") as handle:
        images, depths, labels = _dataset(handle, "images", 4), _dataset(handle, "depths", 3), _dataset(handle, "labels", 3)
        n = images.shape[0]
        if images.shape[1] != 3 or depths.shape != images.shape[:1] + images.shape[2:] or labels.shape != depths.shape:
            raise ConfigError(f"inconsistent shapes in {path}: images {images.shape}, depths {depths.shape}, "
                              f"labels {labels.shape}; expected (N,3,W,H), (N,W,H), (N,W,H)")
        indices = np.arange(n) if indices is None else np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise ConfigError(f"split indices reach frame {indices.max() + 1} but {path} holds {n} frames; "
                              "use the splits.mat that belongs to this file")
        if indices.size == 0:
            height, width = images.shape[3], images.shape[2]
            return (np.zeros((0, 3, height, width), np.uint8), np.zeros((0, height, width), np.float32),
                    np.zeros((0, height, width), np.int64))
        # one frame at a time keeps memory at one 640x480 frame and satisfies h5py's indexing rules
        imgs = np.stack([images[i].transpose(0, 2, 1) for i in indices])
        deps = np.stack([depths[i].T for i in indices]).astype(np.float32)
        labs = np.stack([labels[i].T for i in indices]).astype(np.int64)
    fix = f"expected the official {NYU_MAT_NAME}: images uint8 0..255, depths in metres, labels 0..{NUM_RAW_CLASSES}"
    validate_array("images", imgs, file=path, low=0, high=255, fix=fix)
    validate_array("depths", deps, file=path, low=0, fix=fix)
    validate_array("labels", labs, file=path, low=0, high=NUM_RAW_CLASSES, fix=fix)
    return imgs, deps, labs


def _resize(images: torch.Tensor, depths: torch.Tensor, labels: torch.Tensor, size):
    if size is None or tuple(images.shape[-2:]) == tuple(size):
        return images, depths, labels
    images = F.interpolate(images, size=size, mode="area")
    depths = F.interpolate(depths, size=size, mode="area")
    labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
    return images, depths, labels


def _standardise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean) / std


def _make_dataset(train, val, test, num_classes, source, ground_truth) -> MultimodalDataset:
    """Normalise with training-set statistics (per channel) and pack (depth, RGB, labels) splits."""
    rgb_mean = train[0].mean(dim=(0, 2, 3), keepdim=True)
    rgb_std = train[0].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    d_mean, d_std = train[1].mean(), train[1].std().clamp_min(1e-6)

    def pack(split):
        rgb, depth, labels = split
        return MultimodalSplit(a=_standardise(depth, d_mean, d_std), b=_standardise(rgb, rgb_mean, rgb_std), y=labels)

    return MultimodalDataset(pack(train), pack(val), pack(test), modalities=("depth", "RGB"),
                             num_classes=num_classes, source=source, ground_truth=ground_truth)


def load_nyuv2(data_dir: Path, image_size=(240, 320), num_val: int = 0, chunk_size: int = 32) -> MultimodalDataset:
    """The 795/654 protocol with 40 classes; ``num_val`` frames from the end of the training split
    are held out for validation (the paper uses none). Images are resized to ``image_size`` (H, W)."""
    data_dir = Path(data_dir)
    nyu = require_subdir(data_dir, NYU_SUBDIR, f"{NYU_SUBDIR}/{NYU_MAT_NAME} (the official labelled NYU Depth V2 file)")
    meta = load_meta(require_subdir(data_dir, META_SUBDIR, f"{META_SUBDIR}/splits.mat and classMapping40.mat"))
    mat = nyu / NYU_MAT_NAME
    if not mat.exists():
        raise ConfigError(f"{mat} not found; download nyu_depth_v2_labeled.mat into {nyu}")
    train_idx = meta["train_idx"]
    splits_idx = {"train": train_idx[: len(train_idx) - num_val], "val": train_idx[len(train_idx) - num_val:],
                  "test": meta["test_idx"]}
    # training statistics normalise every split: one frame gives no standard deviation
    require_rows("train", len(splits_idx["train"]), 2, file=f"{META_SUBDIR}/splits.mat with num_val={num_val}",
                 why="inputs are standardised with its per-channel std; lower num_val")
    require_rows("test", len(splits_idx["test"]), 1, file=f"{META_SUBDIR}/splits.mat", why="mIoU is measured on it")
    lookup = torch.as_tensor(meta["label_lookup"])
    splits = {}
    for name, idx in splits_idx.items():
        parts = []
        for start in range(0, max(len(idx), 1), chunk_size):  # resize chunk by chunk: full-size frames are ~8 MB each
            imgs, deps, labs = read_labeled_mat(mat, idx[start:start + chunk_size])
            rgb = torch.as_tensor(imgs).float() / 255
            depth = torch.as_tensor(deps)[:, None]
            labels = lookup[torch.as_tensor(labs)]
            parts.append(_resize(rgb, depth, labels, image_size))
        splits[name] = tuple(torch.cat(tensors) for tensors in zip(*parts))
    return _make_dataset(splits["train"], splits["val"], splits["test"], num_classes=40,
                         source="NYU Depth V2 (real, 795/654, 40 classes)",
                         ground_truth={"class_names": meta["class_names"]})


# ----------------------------------------------------------------------------------------------
# Stand-in
# ----------------------------------------------------------------------------------------------
def _rect(rng, size, rows, min_frac=OBJECT_SIZE[0], max_frac=OBJECT_SIZE[1]):
    """A random rectangle (top, bottom, left, right) whose rows lie in ``rows`` = (lo, hi)."""
    lo, hi = rows
    height = int(rng.integers(max(2, int(min_frac * size)), max(3, int(max_frac * size)) + 1))
    height = min(height, hi - lo)
    width = int(rng.integers(max(2, int(min_frac * size)), max(3, int(max_frac * size)) + 1))
    top = int(rng.integers(lo, hi - height + 1))
    left = int(rng.integers(0, size - width + 1))
    return top, top + height, left, left + width


def _texture(name: str, rows, cols, period: int) -> np.ndarray:
    """(S,S) bool pattern of the cue of class ``name`` (True on half of the pixels)."""
    r, c = rows // period, cols // period
    return {"cabinet": c % 2 == 0, "sofa": r % 2 == 0, "lamp": (r + c) % 2 == 0,
            "ball": ((rows + cols) // period) % 2 == 0}[name]


def instance_kind(rng: np.random.Generator, shared_share: float, rgb_share: float) -> str:
    """general with probability gamma; else rgb-only with probability ``rgb_share``, depth-only otherwise."""
    if rng.uniform() < shared_share:
        return "general"
    return "rgb-only" if rng.uniform() < rgb_share else "depth-only"


def render_scene(rng: np.random.Generator, size: int, shared_share: float, unlabeled_share: float,
                 num_objects=(3, 5), rgb_noise: float = 0.04, depth_noise: float = 0.03, rgb_share: float = 0.75,
                 relief_depth: float = RELIEF_DEPTH):
    """One room: RGB (3,S,S) in [0,1], depth (S,S) in metres, labels (S,S), the instance kinds drawn
    (one per object, occluded or not) and the kind map (S,S): per pixel the index in
    :data:`INSTANCE_KINDS` of the object seen there, -1 on the wall and the floor."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    horizon = int(rng.integers(int(0.35 * size), int(0.6 * size)))
    wall_depth = float(rng.uniform(*WALL_DEPTH))
    # floor plane: depth falls from the wall's depth at the horizon to NEAR_FLOOR_DEPTH at the bottom row
    t = np.clip((rows - horizon) / max(1, size - 1 - horizon), 0, 1)
    surface = np.where(rows < horizon, wall_depth + 0.2 * (cols / size - 0.5), wall_depth * (1 - t) + NEAR_FLOOR_DEPTH * t)
    depth = surface.copy()
    labels = np.where(rows < horizon, 0, 1).astype(np.int64)
    kind_map = np.full((size, size), -1, np.int64)
    wall_colour, floor_colour = rng.uniform(0.3, 0.9, 3), rng.uniform(0.1, 0.7, 3)
    shading = 0.75 + 0.25 * rng.uniform() * (cols / size)  # one light source from the side
    rgb = np.where(labels[None] == 0, wall_colour[:, None, None], floor_colour[:, None, None] * (0.7 + 0.3 * (1 - t)))
    rgb = rgb * shading[None]
    drawn = []
    for _ in range(int(rng.integers(num_objects[0], num_objects[1] + 1))):
        name = STANDIN_OBJECTS[int(rng.integers(len(STANDIN_OBJECTS)))]
        kind = instance_kind(rng, shared_share, rgb_share)
        region = (0, horizon) if rng.uniform() < 0.5 else (horizon, size)
        if region[1] - region[0] < 4:
            region = (0, size)
        box = _rect(rng, size, region)
        top, bottom, left, right = box
        mask = np.zeros((size, size), bool)
        mask[top:bottom, left:right] = True
        # the face stands in front of the surface it rests on (never of earlier objects: no leak)
        face = surface[bottom - 1, (left + right - 1) // 2] - float(rng.uniform(0.4, 0.8))
        pattern = _texture(name, rows.astype(int), cols.astype(int), period=2)
        relief = pattern if kind != "rgb-only" else np.zeros_like(pattern)  # neutral depth cue: a flat face
        depth = np.where(mask, face - relief_depth * relief, depth)
        colour_a = rng.uniform(0, 1, 3)
        colour_b = 1 - colour_a  # the complementary colour: every texture has full contrast
        if kind == "depth-only":  # neutral RGB cue: a plain colour
            appearance = np.broadcast_to(colour_a[:, None, None], rgb.shape)
        else:
            appearance = np.where(pattern[None], colour_a[:, None, None], colour_b[:, None, None])
        rgb = np.where(mask[None], appearance, rgb)
        label = STANDIN_CLASSES.index(name) if rng.uniform() >= unlabeled_share else IGNORE_INDEX
        labels = np.where(mask, label, labels)
        kind_map = np.where(mask, INSTANCE_KINDS.index(kind), kind_map)
        drawn.append(kind)
    rgb = np.clip(rgb + rgb_noise * rng.standard_normal(rgb.shape), 0, 1)
    depth = depth + depth_noise * rng.standard_normal(depth.shape)
    return rgb.astype(np.float32), depth.astype(np.float32), labels, drawn, kind_map


def _render_split(num_scenes: int, size: int, shared_share: float, unlabeled_share: float, rgb_share: float, seed: int):
    rng = np.random.default_rng(seed)
    scenes = [render_scene(rng, size, shared_share, unlabeled_share, rgb_share=rgb_share) for _ in range(num_scenes)]
    if not scenes:
        empty = np.zeros((0, size, size), np.int64)
        return (torch.zeros(0, 3, size, size), torch.zeros(0, 1, size, size), torch.as_tensor(empty)), [], empty
    rgb = torch.as_tensor(np.stack([s[0] for s in scenes]))
    depth = torch.as_tensor(np.stack([s[1] for s in scenes]))[:, None]
    labels = torch.as_tensor(np.stack([s[2] for s in scenes]))
    kinds = [k for s in scenes for k in s[3]]
    return (rgb, depth, labels), kinds, np.stack([s[4] for s in scenes])


DECIDED_BY = {"RGB": ("general", "rgb-only"), "depth": ("general", "depth-only")}  # the kinds each modality decides


def decidable_share(labels: np.ndarray, kind_map: np.ndarray) -> dict:
    """Per modality and object class, the share of the class's labelled pixels whose instance that
    modality decides: what bounds a single-modality model's IoU on the class (it cannot tell the
    classes of the other instances apart). nan for a class with no labelled pixel."""
    shares = {}
    for modality, kinds in DECIDED_BY.items():
        decided = np.isin(kind_map, [INSTANCE_KINDS.index(k) for k in kinds])
        shares[modality] = {}
        for name in STANDIN_OBJECTS:
            pixels = labels == STANDIN_CLASSES.index(name)
            shares[modality][name] = float(decided[pixels].mean()) if pixels.any() else float("nan")
    return shares


def make_standin(num_train: int = 200, num_val: int = 0, num_test: int = 200, image_size: int = 32,
                 shared_share: float = 0.5, unlabeled_share: float = 0.3, seed: int = 0,
                 rgb_share: float = 0.75) -> MultimodalDataset:
    """Rendered RGB-D rooms (see the module docstring for what is planted). Test labels keep the same
    unlabelled share, which mIoU ignores, as NYU's unlabelled pixels are. ``ground_truth`` records
    the planted cues and shares, and ``test_decidable_share`` (:func:`decidable_share` on the test
    split: per modality and object class, the share of labelled pixels that modality can decide)."""
    check_unit_interval("shared_share", shared_share)
    check_unit_interval("unlabeled_share", unlabeled_share)
    check_unit_interval("rgb_share", rgb_share)
    if image_size < 16:
        raise ConfigError(f"image_size must be >= 16 pixels for the rendered rooms, got {image_size}")
    parts, kinds, kind_maps = {}, {}, {}
    for offset, (name, n) in enumerate((("train", num_train), ("val", num_val), ("test", num_test))):
        parts[name], kinds[name], kind_maps[name] = _render_split(n, image_size, shared_share, unlabeled_share, rgb_share,
                                                                  seed * 1000 + offset)
    drawn = np.array(kinds["train"] + kinds["test"])
    ground_truth = {
        "class_names": list(STANDIN_CLASSES),
        "texture": dict(STANDIN_TEXTURE),
        "relief": dict(STANDIN_RELIEF),
        "shared_share": shared_share,
        "rgb_share": rgb_share,
        "unlabeled_share": unlabeled_share,
        "instance_kind_share": {k: float((drawn == k).mean()) if drawn.size else 0.0 for k in INSTANCE_KINDS},
        "test_decidable_share": decidable_share(parts["test"][2].numpy(), kind_maps["test"]),
    }
    return _make_dataset(parts["train"], parts["val"], parts["test"], len(STANDIN_CLASSES), STANDIN_SOURCE, ground_truth)


def depth_as_rgb(depth: torch.Tensor) -> torch.Tensor:
    """Depth (N,1,H,W) repeated to 3 channels so one RGB network can take either modality (Omnivore)."""
    return depth.expand(-1, 3, -1, -1)


def rgbd(split: MultimodalSplit) -> torch.Tensor:
    """Early-fusion input (N,4,H,W) of the RGB+D teacher: RGB channels then depth."""
    return torch.cat([split.b, split.a], dim=1)
