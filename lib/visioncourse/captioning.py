"""Captioning pieces: corpus BLEU, greedy and beam-search decoding, and attention.

``bleu_score`` follows Papineni et al. (2002) as ``torchmetrics.functional.text.bleu_score``
and nltk's ``corpus_bleu`` compute it: clipped n-gram counts summed over the corpus, the
reference length closest to each candidate's, one brevity penalty for the corpus.
``beam_search`` keeps the ``beam_width`` best partial sentences by total log-probability and
ranks finished ones by ``log P / length ** alpha``. ``soft_attention`` is the additive
attention of Show, Attend and Tell (Xu et al., 2015); ``dot_product_attention`` is the one
``F.scaled_dot_product_attention`` computes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def ngrams(words: list[str], n: int) -> Counter:
    """How often each n-gram (a tuple of n words) occurs in ``words``."""
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu_score(candidates: list[str], references: list[list[str]], n_gram: int = 4,
               smooth: bool = False) -> float:  # fmt: skip
    """Corpus BLEU-``n_gram`` of whitespace-tokenised sentences, several references each.

    p_n = (clipped n-gram matches summed over the corpus) / (candidate n-grams summed over
    the corpus); BLEU = BP · exp(mean of log p_1..p_N), BP = min(1, exp(1 − r / c)) with c the
    candidates' total length and r the sum of the reference lengths closest to each candidate
    (the shorter on a tie, as nltk; torchmetrics takes the first). An order with no match
    makes BLEU 0, as in torchmetrics (even with its ``smooth=True``) and nltk. Short captions
    hit this often, so ``smooth=True`` gives such an order 0.1 of a match instead, as nltk's
    ``SmoothingFunction().method1`` does (Chen & Cherry, 2014).
    """
    matches, totals = [0] * n_gram, [0] * n_gram
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references):
        words, ref_words = cand.split(), [r.split() for r in refs]
        cand_len += len(words)
        ref_len += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]
        for n in range(1, n_gram + 1):
            counts = ngrams(words, n)
            most = Counter()
            for r in ref_words:
                most |= ngrams(r, n)  # the largest count of each n-gram in any one reference
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(len(words) - n + 1, 0)
    if matches[0] == 0:  # no word in common: 0 even when smoothing, as in nltk
        return 0.0
    if smooth:  # nltk also counts at least one n-gram per order
        matches, totals = [m if m else 0.1 for m in matches], [max(t, 1) for t in totals]
    if cand_len == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / n_gram
    brevity = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)
    return brevity * math.exp(log_precision)


StepFn = Callable[[Tensor, object], tuple[Tensor, object]]


def greedy_decode(step: StepFn, state: object, start: int, end: int, max_len: int) -> list[int]:
    """Take the most likely token at every step until ``end`` or ``max_len`` tokens.

    ``step(token (Tensor[1] long), state) -> (log_probs (Tensor[V]), new state)``. Returns
    the tokens after ``start``, ``end`` included when it was chosen.
    """
    token, out = torch.tensor([start]), []
    for _ in range(max_len):
        log_probs, state = step(token, state)
        token = log_probs.argmax().view(1)
        out.append(int(token))
        if out[-1] == end:
            break
    return out


def beam_search(step: StepFn, state: object, start: int, end: int, max_len: int, beam_width: int,
                alpha: float = 0.75) -> list[int]:  # fmt: skip
    """The ``beam_width`` best partial sentences, extended one token at a time.

    At each step every live beam is extended by every token, and the ``beam_width`` best
    extensions by total log-probability live on; a beam that emits ``end`` is finished.
    Finished sentences (and those still alive after ``max_len`` tokens) are ranked by
    ``log P / length ** alpha`` (length normalisation; alpha = 0 ranks by log P). Width 1 is
    greedy decoding. Returns the best sentence's tokens after ``start``.
    """
    beams = [(0.0, [], state)]  # (log P, tokens, state)
    finished = []
    for _ in range(max_len):
        candidates = []
        for score, tokens, st in beams:
            last = torch.tensor([tokens[-1] if tokens else start])
            log_probs, new_state = step(last, st)
            top = torch.topk(log_probs, min(beam_width, log_probs.numel()))
            for lp, tok in zip(top.values.tolist(), top.indices.tolist()):
                candidates.append((score + lp, tokens + [tok], new_state))
        candidates.sort(key=lambda c: c[0], reverse=True)
        beams = []
        for cand in candidates[:beam_width]:
            (finished if cand[1][-1] == end else beams).append(cand)
        if not beams:
            break
    finished += beams
    return max(finished, key=lambda c: c[0] / len(c[1]) ** alpha)[1]


def soft_attention(features: Tensor, hidden: Tensor, w_features: Tensor, w_hidden: Tensor,
                   v: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Additive ("soft") attention over image regions, as in Show, Attend and Tell.

    Args:
        features (Tensor[N, L, D]): one feature per region (the CNN grid, flattened).
        hidden (Tensor[N, H]): the decoder's state.
        w_features (Tensor[D, A]), w_hidden (Tensor[H, A]), v (Tensor[A]): the scoring MLP.
    Returns:
        (context (Tensor[N, D]), weights (Tensor[N, L])): ``e = tanh(F W_f + h W_h) v``,
        ``weights = softmax(e)`` over the regions, ``context = Σ weights · features``.
    """
    scores = torch.tanh(features @ w_features + (hidden @ w_hidden)[:, None]) @ v
    weights = F.softmax(scores, dim=1)
    return (weights[..., None] * features).sum(1), weights


def dot_product_attention(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """``softmax(Q Kᵀ / √d) V`` and its weights; ``query (Tensor[..., Lq, d])``."""
    weights = F.softmax(query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1]), dim=-1)
    return weights @ value, weights
