"""visioncourse.retrieval against torch.nn, pytorch-metric-learning, torchmetrics and faiss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visioncourse import retrieval
from visioncourse.data import identities

faiss = pytest.importorskip("faiss")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
from pytorch_metric_learning.distances import LpDistance  # noqa: E402


def batch(n=24, d=8, classes=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    return torch.randn(n, d, generator=g), labels[torch.randperm(n, generator=g)]


@pytest.mark.parametrize("margin", [0.05, 0.2, 1.5])
def test_triplet_loss_equals_torch_with_squared_distance(margin):
    a, p, n = torch.randn(3, 10, 5).unbind(0)
    want = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: (x - y).pow(2).sum(-1), margin=margin
    )(a, p, n)
    torch.testing.assert_close(retrieval.triplet_loss(a, p, n, margin), want)


def test_contrastive_loss_by_hand():
    x0 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    x1 = torch.tensor([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])
    same = torch.tensor([1, 0, 0])
    # same pair: d² = 25; different at d = 0.5 < m = 2: (2 - 0.5)² = 2.25; at d = 5: 0
    torch.testing.assert_close(
        retrieval.contrastive_loss(x0, x1, same, 2.0), torch.tensor((25 + 2.25) / 3)
    )


def test_batch_hard_equals_pml_miner():
    emb, labels = batch()
    got_p, got_n = retrieval.batch_hard(torch.cdist(emb, emb), labels)
    a, p, n = pml_miners.BatchHardMiner(distance=LpDistance(normalize_embeddings=False))(
        emb, labels
    )
    assert torch.equal(a, torch.arange(len(labels)))
    assert torch.equal(got_p, p) and torch.equal(got_n, n)


def test_batch_hard_refuses_an_anchor_without_positive():
    emb = torch.randn(3, 2)
    with pytest.raises(ValueError, match="positive"):
        retrieval.batch_hard(torch.cdist(emb, emb), torch.tensor([0, 0, 1]))


@pytest.mark.parametrize("margin", [0.1, 0.5, 2.0])
def test_semihard_triplets_equal_pml_miner(margin):
    emb, labels = batch(seed=1)
    got = retrieval.semihard_triplets(torch.cdist(emb, emb), labels, margin)
    want = pml_miners.TripletMarginMiner(
        margin, type_of_triplets="semihard", distance=LpDistance(normalize_embeddings=False)
    )(emb, labels)

    def as_set(triplets):
        return set(zip(*(x.tolist() for x in triplets)))

    assert len(got[0]) > 0 and as_set(got) == as_set(want)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_equals_pml(temperature):
    z1, z2 = torch.randn(2, 16, 8).unbind(0)
    labels = torch.arange(16).repeat(2)
    want = pml_losses.NTXentLoss(temperature)(torch.cat((z1, z2)), labels)
    torch.testing.assert_close(retrieval.nt_xent(z1, z2, temperature), want, atol=1e-5, rtol=1e-5)


def vse_loss_by_loops(im, cap, margin, max_violation):
    s, total = im @ cap.T, 0.0
    for i in range(len(s)):
        costs_c = [max(0.0, margin - s[i, i] + s[i, j]) for j in range(len(s)) if j != i]
        costs_i = [max(0.0, margin - s[i, i] + s[j, i]) for j in range(len(s)) if j != i]
        total += max(costs_c) + max(costs_i) if max_violation else sum(costs_c) + sum(costs_i)
    return torch.tensor(float(total))


@pytest.mark.parametrize("max_violation", [False, True])
def test_vse_loss_equals_loops(max_violation):
    im, cap = F.normalize(torch.randn(2, 7, 4), dim=-1).unbind(0)
    got = retrieval.vse_loss(im, cap, 0.2, max_violation)
    torch.testing.assert_close(got, vse_loss_by_loops(im, cap, 0.2, max_violation))


def test_ranks_and_recall_equal_torchmetrics_hit_rate():
    from torchmetrics.retrieval import RetrievalHitRate, RetrievalRecall

    g = torch.Generator().manual_seed(3)
    scores = torch.rand(20, 30, generator=g)
    relevant = torch.rand(20, 30, generator=g) < 0.1
    relevant[:, 0] = True  # several relevant items per query, at least one
    ranks = retrieval.first_relevant_rank(scores, relevant)
    indexes = torch.arange(20)[:, None].expand(20, 30)
    for k in (1, 5, 10):
        hit = RetrievalHitRate(top_k=k)(
            scores.flatten(), relevant.flatten(), indexes=indexes.flatten()
        )
        assert retrieval.recall_at_k(ranks, k) == pytest.approx(hit.item())
        recall = RetrievalRecall(top_k=k)(
            scores.flatten(), relevant.flatten(), indexes=indexes.flatten()
        )
        assert recall.item() < hit.item()  # with several relevant items the two differ


def test_median_rank_follows_vse_code():
    ranks = torch.tensor([0, 3, 1, 7])  # numpy median 2.0 -> 3
    assert retrieval.median_rank(ranks) == np.floor(np.median(ranks.numpy())) + 1 == 3


def test_roc_curve_auc_equals_torchmetrics():
    from torchmetrics.functional import auroc

    g = torch.Generator().manual_seed(0)
    scores = torch.rand(200, generator=g).round(decimals=1)  # ties on purpose
    positive = torch.rand(200, generator=g) < scores
    fpr, tpr, auc = retrieval.roc_curve(scores, positive)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert auc.item() == pytest.approx(
        auroc(scores, positive.long(), task="binary").item(), abs=1e-6
    )


def test_exact_search_equals_faiss_flat():
    g = torch.Generator().manual_seed(0)
    db, q = torch.randn(500, 16, generator=g), torch.randn(20, 16, generator=g)
    index = faiss.IndexFlatL2(16)
    index.add(db.numpy())
    want_d, want_i = index.search(q.numpy(), 5)
    got_d, got_i = retrieval.exact_search(q, db, 5)
    assert np.array_equal(got_i.numpy(), want_i)
    np.testing.assert_allclose(got_d.numpy(), want_d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bits", [8, 13, 64])
def test_lsh_codes_and_hamming_distances_equal_faiss(bits):
    g = torch.Generator().manual_seed(bits)
    db, q = torch.randn(300, 16, generator=g), torch.randn(10, 16, generator=g)
    index = faiss.IndexLSH(16, bits)
    index.add(db.numpy())
    planes = torch.from_numpy(faiss.vector_to_array(index.rrot.A).reshape(bits, 16))
    codes = retrieval.pack_codes(retrieval.lsh_codes(db, planes))
    assert np.array_equal(codes.numpy(), faiss.vector_to_array(index.codes).reshape(300, -1))
    want_d, _ = index.search(q.numpy(), 7)
    got_d, got_i = retrieval.lsh_search(q, db, planes, 7)
    assert np.array_equal(got_d.numpy(), want_d.astype(np.int64))
    # the indices found are at the distances reported (ties may be ordered differently)
    hamming = (
        retrieval.lsh_codes(q, planes)[:, None] != retrieval.lsh_codes(db, planes)[None]
    ).sum(-1)
    assert torch.equal(hamming.gather(1, got_i), got_d)


def test_lsh_bit_on_the_plane_is_one_as_in_faiss():
    index = faiss.IndexLSH(8, 8, False)  # no rotation: the planes are the axes
    index.add(np.array([[0.0] * 8, [-1.0] + [0.0] * 7], dtype=np.float32))
    bits = retrieval.lsh_codes(torch.tensor([[0.0] * 8, [-1.0] + [0.0] * 7]), torch.eye(8))
    assert np.array_equal(
        retrieval.pack_codes(bits).numpy().ravel(), faiss.vector_to_array(index.codes)
    )


def test_identity_images_are_deterministic_and_split():
    ids = identities.sample_identities(50, seen=True, seed=0)
    assert identities.seen_in_training(ids).all()
    assert not identities.seen_in_training(identities.sample_identities(50, seen=False)).any()
    a = identities.identity_images(ids, seed=1)
    assert a.shape == (50, 3, 20, 20) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, identities.identity_images(ids, seed=1))
    # the object is painted with its identity's hue: the brightest pixel's colour
    one = identities.identity_images(torch.tensor([0, 1, 12]), seed=2)  # red, orange, cyan hues
    top = one.flatten(2).max(2).values
    assert top[0, 0] > top[0, 2] and top[2, 2] > top[2, 0]
