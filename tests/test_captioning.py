"""Grounded language of the shapes world, BLEU against torchmetrics and nltk, decoding, and
attention against PyTorch."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from visioncourse import captioning
from visioncourse.data import generate
from visioncourse.data import language as L

CORPUS = (
    ["a small red circle left of a large blue square", "two shapes : a red circle and a blue square",
     "there is a large green triangle", "there is a green square"],
    [["a small red circle left of a large blue square", "a large blue square right of a small red circle"],
     ["two shapes : a small red circle and a large blue square", "there is a small red circle and a large blue square"],
     ["there is a large green triangle", "a large green triangle", "one shape : a large green triangle"],
     ["a large green triangle", "one shape : a large green triangle", "there is a large green triangle"]],
)  # fmt: skip


@pytest.mark.parametrize("n_gram", [1, 2, 3, 4])
def test_bleu_equals_torchmetrics_and_nltk(n_gram):
    """(No candidate shorter than 4 words: nltk counts such a sentence as one 4-gram.)"""
    from nltk.translate.bleu_score import corpus_bleu
    from torchmetrics.functional.text import bleu_score

    candidates, references = CORPUS
    ours = captioning.bleu_score(candidates, references, n_gram)
    theirs = bleu_score(candidates, references, n_gram=n_gram).item()
    weights = (1 / n_gram,) * n_gram
    nltk = corpus_bleu(
        [[r.split() for r in refs] for refs in references], [c.split() for c in candidates], weights
    )
    assert 0 < ours < 1
    assert ours == pytest.approx(theirs, abs=1e-6) and ours == pytest.approx(nltk, abs=1e-9)


def test_bleu_zero_order_and_nltk_smoothing():
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    candidates, references = ["a red circle"], [["a red square"]]  # no 3-gram matches
    assert captioning.bleu_score(candidates, references, 4) == 0.0
    smoothed = captioning.bleu_score(candidates, references, 4, smooth=True)
    nltk = corpus_bleu([[references[0][0].split()]], [candidates[0].split()],
                       smoothing_function=SmoothingFunction().method1)  # fmt: skip
    assert smoothed > 0 and smoothed == pytest.approx(nltk, abs=1e-9)
    assert captioning.bleu_score(["x y z"], [["a b c"]], 4, smooth=True) == 0.0  # as nltk


def test_bleu_brevity_penalty_and_clipping():
    # "the the the" against "the cat": clipped unigram matches 1 of 3
    assert captioning.bleu_score(["the the the"], [["the cat"]], 1) == pytest.approx(1 / 3)
    # a correct but short candidate: BP = exp(1 - 4/2)
    assert captioning.bleu_score(["a b"], [["a b c d"]], 1) == pytest.approx(math.exp(1 - 2))


def toy_model(table):
    """A 'decoder' whose next-token log-probabilities depend only on the previous token."""
    log_table = torch.log_softmax(table, dim=1)
    return lambda token, state: (log_table[int(token)], state)


def test_beam_width_one_is_greedy_and_a_wide_beam_is_exhaustive():
    torch.manual_seed(0)
    V, END, T = 4, 3, 4
    for trial in range(20):
        table = torch.randn(V, V) * 2
        step = toy_model(table)
        greedy = captioning.greedy_decode(step, None, 0, END, T)
        assert captioning.beam_search(step, None, 0, END, T, beam_width=1, alpha=0.0) == greedy
        # exhaustive: every sentence of 1..T tokens ending with END, or T tokens without it
        logp = torch.log_softmax(table, 1)
        best, best_score = None, -math.inf
        for length in range(1, T + 1):
            for seq in itertools.product(range(V), repeat=length):
                if END in seq[:-1] or (length < T and seq[-1] != END):
                    continue
                score = sum(logp[a, b].item() for a, b in zip((0, *seq), seq))
                if score > best_score:
                    best, best_score = list(seq), score
        wide = captioning.beam_search(step, None, 0, END, T, beam_width=V**T, alpha=0.0)
        assert wide == best, trial


def test_length_normalisation_prefers_longer_sentences():
    # from the start: END with 0.5, else token 1, which is always followed by END with 0.9
    table = torch.log(
        torch.tensor([[0.0, 0.5, 0.0, 0.5], [0.05, 0.0, 0.05, 0.9], [0.3] * 4, [0.25] * 4]) + 1e-9
    )
    step = toy_model(table)
    assert captioning.beam_search(step, None, 0, 3, 5, beam_width=3, alpha=0.0) == [3]
    assert captioning.beam_search(step, None, 0, 3, 5, beam_width=3, alpha=1.0) == [1, 3]


def test_soft_attention_equals_a_loop_and_sdpa_equals_ours():
    torch.manual_seed(1)
    N, L_, D, H, A = 2, 5, 3, 4, 6
    feats, hidden = torch.randn(N, L_, D), torch.randn(N, H)
    wf, wh, v = torch.randn(D, A), torch.randn(H, A), torch.randn(A)
    context, weights = captioning.soft_attention(feats, hidden, wf, wh, v)
    for n in range(N):
        e = torch.stack([torch.tanh(feats[n, j] @ wf + hidden[n] @ wh) @ v for j in range(L_)])
        a = torch.exp(e) / torch.exp(e).sum()
        torch.testing.assert_close(weights[n], a)
        torch.testing.assert_close(context[n], sum(a[j] * feats[n, j] for j in range(L_)))
    q, k, val = torch.randn(2, 3, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 5)
    out, w = captioning.dot_product_attention(q, k, val)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, val), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))


def test_vocabulary_round_trip_and_closed():
    vocab = L.Vocabulary.shapes_world()
    b = generate(32, seed=5, max_objects=3)
    refs = L.reference_captions(b.scene, b.config, 5, seed=0)
    qs, answers, _ = L.questions(b.scene, b.config, seed=0)
    sentences = [r for rs in refs for r in rs] + qs + answers
    ids = vocab.encode(sentences)
    assert (ids != L.UNK).all() and (ids[:, 0] == L.START).all()
    assert [vocab.decode(row) for row in ids] == [" ".join(L._words(s)) for s in sentences]
    assert vocab.encode(["a red circle"], max_len=3).tolist() == [
        [L.START, vocab.index["a"], L.END]
    ]


def test_references_are_true_paraphrases_and_seeded():
    b = generate(200, seed=7, max_objects=3)
    refs = L.reference_captions(b.scene, b.config, 5, seed=0)
    assert refs == L.reference_captions(b.scene, b.config, 5, seed=0)
    assert refs != L.reference_captions(b.scene, b.config, 5, seed=1)
    assert all(len(r) == 5 for r in refs) and [r[0] for r in refs] == b.captions
    flat = [r for rs in refs for r in rs]
    scene_index = [i for i in range(200) for _ in range(5)]
    for sentence, i in zip(flat, scene_index):
        one = L.fact_scores([sentence], b.scene[i : i + 1], b.config)
        assert one["precision"] == 1.0 and one["recall"] == 1.0, sentence


def _row(scene, i):
    from visioncourse.data import Scene

    return Scene(
        *(
            getattr(scene, f)[i : i + 1]
            for f in ("present", "shape", "color", "rgb", "radius", "center")
        )
    )


def test_questions_answers_are_true():
    b = generate(300, seed=11, max_objects=3)
    qs, answers, types = L.questions(b.scene, b.config, seed=3)
    assert set(types) == set(L.QUESTION_TYPES)
    for i, (q, a, t) in enumerate(zip(qs, answers, types)):
        objs, relation, count = L.scene_facts(b.scene, b.config, i)
        if t == "count":
            assert a == L.NUMBER_WORDS[count]
        elif t == "color":
            shape = q.split()[-2]
            assert [c for _, c, s in objs if s == shape] == [a]
        elif t == "shape":
            color = q.split()[-3]
            assert [s for _, c, s in objs if c == color] == [a]
        elif t == "exist":
            c, s = q.split()[3:5]
            assert a == ("yes" if any((c, s) == (c2, s2) for _, c2, s2 in objs) else "no")
        else:
            words = q.split()
            asked = " ".join(words[3:-3])
            assert a == ("yes" if asked == relation[1] else "no"), (q, relation)
    yes = sum(a == "yes" for a, t in zip(answers, types) if t == "exist")
    assert 0.3 < yes / types.count("exist") < 0.7  # balanced


def test_fact_scores_catch_wrong_facts():
    b = generate(1, seed=3, max_objects=2, min_objects=2)
    objs, relation, _ = L.scene_facts(b.scene, b.config, 0)
    (s0, c0, h0), (s1, c1, h1) = objs
    wrong_colour = next(c for c in ("red", "green", "blue") if c != c0 and c != c1)
    inverted = L.OPPOSITE[relation[1]]
    assert L.fact_scores([f"a {c0} {h0} {inverted} a {c1} {h1}"], b.scene, b.config)[
        "precision"
    ] == pytest.approx(2 / 3)
    scores = L.fact_scores([f"a {wrong_colour} {h0}"], b.scene, b.config)
    assert scores == {"precision": 0.0, "recall": 0.0}
    assert L.fact_scores([f"two shapes : a {c0} {h0}"], b.scene, b.config) == {
        "precision": 1.0,
        "recall": 0.5,
    }
