"""MM-IMDB movie-genre classification (Arevalo et al., 2017): loader and offline stand-in.

Real data
---------
Expected file: ``$MFH_DATA_DIR/mmimdb/multimodal_imdb.hdf5``, the layout distributed by Arevalo et al.
and used by MultiBench (Liang et al., 2021):

=================  ===============  ==================================================
key                shape            content
=================  ===============  ==================================================
``features``       (25959, 300)     text: mean word2vec embedding of the plot outline
``vgg_features``   (25959, 4096)    image: VGG-16 fc7 features of the poster
``genres``         (25959, 23)      multi-hot labels, columns in the order of :data:`GENRES`
``imdb_ids``       (25959,)         IMDb ids (not used here)
``images``         (25959, 3, 256, 160)  raw posters (optional, not read)
=================  ===============  ==================================================

The official split is by row ranges (:data:`OFFICIAL_SPLIT`): train 0:15552, val 15552:18160,
test 18160:25959. Features are standardised with the training split's mean and std
(:func:`mfh_lib.data.splits.standardize`; VGG features are unnormalised ReLU outputs). Modality
``a`` is the image (poster), ``b`` the text (plot): the MFH App. B.3 student is a text network and
the crossmodal information comes from the poster.

Stand-in
--------
When no ``mmimdb/`` folder exists, :func:`make_standin` draws a synthetic two-modality multi-label
task with the same interface and a documented ground truth (see its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import ConfigError
from . import MultimodalDataset, MultimodalSplit, open_hdf5, require_rows, validate_array
from .splits import random_halves, standardize  # noqa: F401  (random_halves: MFH App. B.3's halves, kept here for old imports)

SUBDIR = "mmimdb"
FILENAME = "multimodal_imdb.hdf5"

#: The 23 genres of multimodal_imdb.hdf5, in the column order of its ``genres`` array
#: (Arevalo et al., 2017: genres sorted by frequency).
GENRES = (
    "Drama", "Comedy", "Romance", "Thriller", "Crime", "Action", "Adventure", "Horror",
    "Documentary", "Mystery", "Sci-Fi", "Fantasy", "Family", "Biography", "War", "History",
    "Music", "Animation", "Musical", "Western", "Sport", "Short", "Film-Noir",
)
#: MFH App. B.3 keeps two genres.
PAPER_GENRES = ("Drama", "Comedy")
#: Row ranges [start, stop) of the official split.
OFFICIAL_SPLIT = {"train": (0, 15552), "val": (15552, 18160), "test": (18160, 25959)}
TEXT_KEY, IMAGE_KEY, LABEL_KEY = "features", "vgg_features", "genres"
#: Names of the stand-in's planted factor groups: shared by both modalities, text-only, image-only.
FACTOR_GROUPS = ("general", "text", "image")


def genre_columns(genres) -> list[int]:
    """Column indices of ``genres`` (names, case-insensitive) in the label array; None = all 23."""
    if genres is None:
        return list(range(len(GENRES)))
    if isinstance(genres, str):
        genres = [genres]
    if not isinstance(genres, (list, tuple)) or not all(isinstance(g, str) for g in genres):
        raise ConfigError(f"genres must be a genre name or a list of names from mfh_lib.data.mmimdb.GENRES, "
                          f"got {genres!r}")
    lookup = {g.lower(): i for i, g in enumerate(GENRES)}
    unknown = [g for g in genres if g.lower() not in lookup]
    if unknown or not genres:
        raise ConfigError(f"unknown genre(s) {unknown or genres}; choose from mfh_lib.data.mmimdb.GENRES: {list(GENRES)}")
    return [lookup[g.lower()] for g in genres]


def load_mmimdb(data_dir, *, seed: int = 0, genres=PAPER_GENRES, split=None, standin: dict | None = None) -> MultimodalDataset:
    """MM-IMDB as a :class:`MultimodalDataset` (a = poster/image features, b = plot/text features).

    ``data_dir``: the folder holding ``mmimdb/`` (None or no such subfolder: the stand-in).
    ``seed``: draws the stand-in (the real split is fixed, so it is unused there).
    ``genres``: genre names to keep as labels (default MFH's drama and comedy; None = all 23).
    ``split``: row ranges {"train": (start, stop), "val": ..., "test": ...}; default the official one.
    ``standin``: keyword arguments for :func:`make_standin` (sizes, factor shares).
    """
    columns = genre_columns(genres)
    names = tuple(GENRES[c] for c in columns)
    if data_dir is None or not (Path(data_dir) / SUBDIR).exists():
        return make_standin(seed=seed, genres=names, **(standin or {}))
    return read_hdf5(Path(data_dir) / SUBDIR / FILENAME, columns, names, split or OFFICIAL_SPLIT)


def read_hdf5(path: Path, columns: list[int], names: tuple[str, ...], split: dict) -> MultimodalDataset:
    import numpy as np

    if not path.exists():
        raise ConfigError(f"{str(path)!r} not found; put MM-IMDB's {FILENAME} (Arevalo et al. / MultiBench) "
                          f"in the {SUBDIR}/ folder of $MFH_DATA_DIR, or remove that folder to use the stand-in")
    layout = (f"keys {TEXT_KEY!r} (N,300), {IMAGE_KEY!r} (N,4096) finite features and {LABEL_KEY!r} (N,23) 0/1 "
              "labels as in MultiBench's multimodal_imdb.hdf5")
    with open_hdf5(path, f"MM-IMDB's {FILENAME} with {layout}") as f:
        missing = [k for k in (TEXT_KEY, IMAGE_KEY, LABEL_KEY) if k not in f]
        if missing:
            raise ConfigError(f"{str(path)!r} lacks dataset(s) {missing}; expected {layout}")
        n = f[LABEL_KEY].shape[0]
        expected_shapes = {LABEL_KEY: (n, len(GENRES)), TEXT_KEY: (n, "D_text"), IMAGE_KEY: (n, "D_image")}
        for key, shape in expected_shapes.items():
            if f[key].ndim != 2 or f[key].shape[0] != n or (key == LABEL_KEY and f[key].shape[1] != len(GENRES)):
                raise ConfigError(f"{str(path)!r}: field {key!r} has shape {f[key].shape}; expected {shape} "
                                  f"(row-aligned with {LABEL_KEY!r}); {layout}")
        for part in ("train", "val", "test"):
            start, stop = split.get(part, (0, -1))
            if not 0 <= start < stop <= n:
                raise ConfigError(f"split {part!r} = {split.get(part)} does not fit a file of {n} rows; "
                                  f"pass split={{'train': (start, stop), ...}} matching the file")
        # training statistics standardise every split: one row gives no standard deviation
        require_rows("train", split["train"][1] - split["train"][0], 2, file=path,
                     why="features are standardised with its std; widen split['train']")
        parts = {}
        for part in ("train", "val", "test"):
            start, stop = split[part]
            arrays = [np.asarray(f[key][start:stop], dtype=np.float32) for key in (IMAGE_KEY, TEXT_KEY, LABEL_KEY)]
            for key, values in zip((IMAGE_KEY, TEXT_KEY), arrays):
                validate_array(key, values, file=path, fix=f"expected {layout}")
            validate_array(LABEL_KEY, arrays[2], file=path, integer=True, low=0, high=1, fix=f"expected {layout}")
            parts[part] = arrays
    # Standardise each modality with the training split's statistics only (mfh_lib.data.splits).
    part_names = ("train", "val", "test")
    image, text = (standardize(*(parts[p][m] for p in part_names)) for m in (0, 1))
    splits = {p: MultimodalSplit(*(torch.as_tensor(x[i], dtype=torch.float32) for x in (image, text)),
                                 torch.from_numpy(parts[p][2][:, columns]))
              for i, p in enumerate(part_names)}
    return MultimodalDataset(splits["train"], splits["val"], splits["test"], ("image", "text"), len(columns),
                             source=f"MM-IMDB (real features; genres: {', '.join(names)})", multilabel=True,
                             ground_truth={"genres": names})


# ----------------------------------------------------------------------------------------------
# Stand-in
# ----------------------------------------------------------------------------------------------

@dataclass
class StandInWorld:
    """The generative model of the stand-in (everything needed to re-render inputs from factors).

    Factors: ``general`` (dim_general) appear in both modalities, ``text`` (dim_text) only in the
    text features, ``image`` (dim_image) only in the image features; all i.i.d. N(0, 1).
    Genre k's score is  s_k = sum over groups g of  sqrt(share_g) * <w_gk, z_g> / ||w_gk||,  so each
    group explains a planted share of the score's variance; y_k = 1[s_k + label_noise * e > tau_k]
    with logistic e and tau_k setting the genre's prevalence.
    Text  = [z_general, z_text]  @ P_text  + text_noise  * N(0, I)   (dense, word2vec-like)
    Image = relu([z_general, z_image] @ P_image + image_noise * N(0, I))  (non-negative, VGG-like)
    """

    text_projection: torch.Tensor   # (dim_general + dim_text, text_features)
    image_projection: torch.Tensor  # (dim_general + dim_image, image_features)
    genre_weights: dict             # group -> (dim_group, K), columns scaled to sqrt(share)
    thresholds: torch.Tensor        # (K,)
    dim_general: int
    text_noise: float
    image_noise: float

    def render(self, factors: dict, noise: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(image, text) features of the given factors with fixed observation noise."""
        text = torch.cat([factors["general"], factors["text"]], 1) @ self.text_projection + self.text_noise * noise["text"]
        image = torch.relu(torch.cat([factors["general"], factors["image"]], 1) @ self.image_projection
                           + self.image_noise * noise["image"])
        return image, text

    def scores(self, factors: dict) -> torch.Tensor:
        """(N, K) noiseless genre scores s_k."""
        return sum(factors[g] @ self.genre_weights[g] for g in FACTOR_GROUPS)


def make_standin(*, seed: int = 0, genres=PAPER_GENRES, num_train: int = 15552, num_val: int = 2608,
                 num_test: int = 7799, text_features: int = 300, image_features: int = 512,
                 dim_general: int = 8, dim_text: int = 8, dim_image: int = 8,
                 shares=(0.40, 0.35, 0.25), text_noise: float = 1.0, image_noise: float = 1.5,
                 label_noise: float = 0.25, prevalence=(0.54, 0.33)) -> MultimodalDataset:
    """Synthetic stand-in for MM-IMDB with planted modality-general and modality-specific evidence.

    Ground truth (``dataset.ground_truth``): each genre's score splits its variance into planted
    ``shares`` = (general, text-only, image-only) factor groups (default 40/35/25 %). The text sees
    general + text factors (75 % of the score variance), the image general + image factors (65 %)
    through noisier, rectified features, so text is the dominant modality as on MM-IMDB
    (MSD, Fig. 3). ``prevalence`` is each genre's positive rate (defaults: MM-IMDB's drama 54 % and
    comedy 33 %, cycled for more genres). Split sizes default to the official ones.

    ``ground_truth`` holds the :class:`StandInWorld`, and per split the factors and observation
    noise, so :func:`permuted_factor_inputs` can re-render inputs with one factor group shuffled.
    """
    if len(shares) != 3 or min(shares) < 0 or abs(sum(shares) - 1) > 1e-6:
        raise ConfigError(f"shares must be three non-negative numbers (general, text, image) summing to 1, got {shares}")
    names = tuple(genres)
    num_genres = len(names)
    gen = torch.Generator().manual_seed(int(seed))
    dims = {"general": dim_general, "text": dim_text, "image": dim_image}

    def normal(*shape):
        return torch.randn(*shape, generator=gen)

    weights = {}
    for group, share in zip(FACTOR_GROUPS, shares):
        w = normal(dims[group], num_genres)
        weights[group] = w / w.norm(dim=0, keepdim=True) * share**0.5
    # Projections keep every factor recoverable; scaled so each feature has O(1) variance.
    text_projection = normal(dim_general + dim_text, text_features) / (dim_general + dim_text) ** 0.5
    image_projection = normal(dim_general + dim_image, image_features) / (dim_general + dim_image) ** 0.5
    prevalence = torch.tensor([prevalence[k % len(prevalence)] for k in range(num_genres)])
    # s_k + label_noise * logistic ~ approx N(0, 1 + (label_noise * pi / sqrt 3)^2): threshold at its quantile.
    spread = (1 + (label_noise * torch.pi / 3**0.5) ** 2) ** 0.5
    thresholds = torch.distributions.Normal(0.0, spread).icdf(1 - prevalence)
    world = StandInWorld(text_projection, image_projection, weights, thresholds, dim_general, text_noise, image_noise)

    parts, truth = {}, {"world": world, "shares": dict(zip(FACTOR_GROUPS, shares)), "genres": names}
    for part, n in (("train", num_train), ("val", num_val), ("test", num_test)):
        factors = {g: normal(n, dims[g]) for g in FACTOR_GROUPS}
        noise = {"text": normal(n, text_features), "image": normal(n, image_features)}
        uniform = torch.rand(n, num_genres, generator=gen).clamp(1e-6, 1 - 1e-6)
        logistic = torch.log(uniform) - torch.log1p(-uniform)
        y = (world.scores(factors) + label_noise * logistic > thresholds).float()
        image, text = world.render(factors, noise)
        parts[part] = MultimodalSplit(image, text, y)
        truth[part] = {"factors": factors, "noise": noise}
    source = (f"stand-in (synthetic MM-IMDB: planted general/text/image genre evidence "
              f"{'/'.join(f'{s:.0%}' for s in shares)}; genres: {', '.join(names)})")
    return MultimodalDataset(parts["train"], parts["val"], parts["test"], ("image", "text"), num_genres,
                             source=source, multilabel=True, ground_truth=truth)


def permuted_factor_inputs(dataset: MultimodalDataset, part: str = "test", seed: int = 0) -> dict:
    """{group: (image, text)}: the ``part`` inputs re-rendered with factor group ``group`` shuffled
    across samples (the other groups and the observation noise unchanged). Stand-in only.

    A model's output change under each shuffle measures how much its decision relies on that
    planted group: the ground-truth counterpart of MFH's permutation-based Algorithm 1.
    """
    truth = dataset.ground_truth
    if "world" not in truth:
        raise ConfigError("factor permutations need the stand-in's ground truth; real MM-IMDB has no planted factors")
    world, factors, noise = truth["world"], truth[part]["factors"], truth[part]["noise"]
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(factors["general"].shape[0], generator=gen)
    return {group: world.render({**factors, group: factors[group][order]}, noise) for group in FACTOR_GROUPS}


__all__ = ["SUBDIR", "FILENAME", "GENRES", "PAPER_GENRES", "OFFICIAL_SPLIT", "FACTOR_GROUPS", "genre_columns",
           "load_mmimdb", "read_hdf5", "StandInWorld", "make_standin", "permuted_factor_inputs", "random_halves"]
