"""The confounder stand-in: its planted structure (kinds, labels, importance, XOR flips)."""
import pytest
import torch

from mfh_lib.config import ConfigError
from mfh_lib.data.confounders import (KINDS, PLANTED_IMPORTANCE, importance_contrast, label_of,
                                      make_confounder_standin)


@pytest.fixture(scope="module")
def dataset():
    return make_confounder_standin(seed=0, num_train=600, num_val=100, num_test=100)


def test_sizes_and_shares(dataset):
    assert [len(s) for s in (dataset.train, dataset.val, dataset.test)] == [600, 100, 100]
    assert dataset.num_classes == 2 and dataset.modalities == ("image", "text")
    kind = dataset.ground_truth["train"]["kind"]
    for k, share in enumerate(dataset.ground_truth["shares"].values()):
        assert abs((kind == k).float().mean().item() - share) < 0.07
    assert 0.4 < dataset.train.y.float().mean().item() < 0.6


def test_labels_follow_the_planted_rule_and_importance(dataset):
    truth, polarity, charged = dataset.ground_truth["train"], dataset.ground_truth["polarity"], dataset.ground_truth["num_charged"]
    image, text, kind = truth["image_concept"], truth["text_concept"], truth["kind"]
    # image-decided examples have a neutral text, text-decided a neutral image, multimodal both charged
    assert (text[kind == 0] >= charged).all() and (image[kind == 1] >= charged).all()
    assert (image[kind != 1] < charged).all() and (text[kind != 0] < charged).all()
    pol_i = torch.where(image < charged, polarity["image"][image.clamp_max(charged - 1)], 0)
    pol_t = torch.where(text < charged, polarity["text"][text.clamp_max(charged - 1)], 0)
    assert torch.equal(dataset.train.y, label_of(kind, pol_i, pol_t))
    assert torch.equal(truth["importance"], PLANTED_IMPORTANCE[kind])
    assert set(importance_contrast(truth["importance"]).tolist()) == {1.0, -1.0, 0.0}


def test_the_same_image_with_another_text_flips_a_multimodal_label():
    kind = torch.full((2,), KINDS.index("multimodal"))
    image = torch.tensor([1, 1])
    assert label_of(kind, image, torch.tensor([0, 1])).tolist() == [1, 0]
    # for an image-decided example the text does not matter
    assert label_of(torch.zeros(2, dtype=torch.long), image, torch.tensor([0, 1])).tolist() == [1, 1]


def test_features_carry_the_concepts_and_seed_reproduces(dataset):
    again = make_confounder_standin(seed=0, num_train=600, num_val=100, num_test=100)
    assert dataset.content_hash == again.content_hash
    other = make_confounder_standin(seed=1, num_train=600, num_val=100, num_test=100)
    assert dataset.content_hash != other.content_hash
    # examples of one image concept are closer to each other than to other concepts
    a, concept = dataset.train.a, dataset.ground_truth["train"]["image_concept"]
    same = a[concept == concept[0]]
    assert (same - same.mean(0)).norm(dim=1).mean() < (a - a.mean(0)).norm(dim=1).mean()


def test_invalid_shares():
    with pytest.raises(ConfigError, match="shares"):
        make_confounder_standin(shares=(0.5, 0.5, 0.5))
