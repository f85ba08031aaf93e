# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 09_captioning_vqa
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # Chapter 09 — Image captioning, attention and visual question answering
#
# **What you will learn**
# - grounded language: a shapes world whose images come with several reference captions and
#   with questions and answers, all true by construction;
# - a CNN encoder and an LSTM decoder trained with **teacher forcing**; the image given as the
#   decoder's initial state (Karpathy & Fei-Fei, 2015) or as its first input (Vinyals et al.,
#   2015), compared;
# - decoding: greedy and **beam search** with length normalisation;
# - **BLEU** from scratch, checked against torchmetrics, and a metric only a synthetic world
#   allows: the share of stated facts that are true, and where the two disagree;
# - **soft attention** (Xu et al., 2015) over the CNN's grid, its maps drawn word by word, and
#   whether it looks at the object it names;
# - **visual question answering**: a question encoder fused with the image, against models that
#   see only the question or only the image.
#
# **Lectures:** "Detection, segmentation, captioning" (image captioning: CNN + language-generating
# RNN, attention, question answering) and "Deep Learning, Episode 7: Advanced computer vision"
# (image description and captioning). It builds on chapter 08's LSTM.
#
# **Run time:** about 80 seconds in fast mode on 2 CPU cores; a few minutes in full mode on a
# GPU.

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "09_captioning_vqa"
if "google.colab" in sys.modules:
    home = "/content/course"
    if not os.path.isdir(f"{home}/course/student/{CHAPTER}"):  # cloned whole, or not at all:
        subprocess.run(["rm", "-rf", home, f"{home}.partial"], check=True)
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, f"{home}.partial"], check=True)
        os.rename(f"{home}.partial", home)  # an interrupted clone never looks finished
    if importlib.util.find_spec("visioncourse") is None:  # not installed by an earlier run
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", home], check=True)
        importlib.invalidate_caches()
    os.chdir(f"{home}/course/student/{CHAPTER}")

from visioncourse.exercises import Grader
from visioncourse.runtime import setup, sizes

grader = Grader(CHAPTER, repo=COURSE_REPO)  # runs the public tests in ./tests
rt = setup(seed=0)

# %%
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from visioncourse import captioning
from visioncourse.data import ShapesConfig, generate
from visioncourse.data import language as lang
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import mean_std, separated
from visioncourse.train import fit
from visioncourse.viz import to_numpy_image

S = sizes(
    fast=dict(train_images=4000, test_images=400, encoder_steps=500, caption_steps=400, batch=48,
              seeds=3, hidden=96, vqa_steps=400),
    full=dict(train_images=20000, test_images=2000, encoder_steps=2000, caption_steps=3000, batch=128,
              seeds=5, hidden=256, vqa_steps=3000),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. Grounded language
#
# Every shapes-world image now comes with **five reference captions**, paraphrases of the same
# facts (which objects, their size and colour, where the first is relative to the second, how
# many), and with **a question and its answer** (colour, shape, count, existence, relation).
# All come from one small grammar (`visioncourse.data.language`), so every word is true of its
# image, and a sentence can be parsed back into facts and checked.

# %%
# elongation=1: the square world, where a "circle" is round and a "square" square
world = ShapesConfig(image_size=32, max_objects=2, min_size=0.3, max_size=0.5, elongation=1)
vocab = lang.Vocabulary.shapes_world()
train = generate(S.train_images, world, seed=0)
test = generate(S.test_images, world, seed=10**6)
train_refs = lang.reference_captions(train.scene, world, 5, seed=0)
test_refs = lang.reference_captions(test.scene, world, 5, seed=1)
print(f"vocabulary: {len(vocab)} words, e.g. {vocab.words[:12]}")
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
qs, answers, types = lang.questions(test.scene, world, seed=0)
for i, ax in enumerate(axes):
    ax.imshow(to_numpy_image(test.images[i])), ax.axis("off")
    ax.set_title("\n".join(test_refs[i][:3]) + f"\nQ: {qs[i]}  A: {answers[i]}", fontsize=7)
plt.show()
captions = vocab.encode([r for refs in train_refs for r in refs])  # (5 n, L): <start> words <end> <pad>...
print("encoded:", tuple(captions.shape), captions[0].tolist(), "->", vocab.decode(captions[0]))

# %% [markdown]
# ## 2. The image encoder
#
# The captioning papers of 2015 did not train their CNN with the captions: they took one
# trained on ImageNet classification and used its features. We do the same on our scale: a
# small CNN learns to say which (colour, shape) pairs an image contains, and its last
# convolutional grid — 8 × 8 cells of 32 features, each cell looking at a 4 × 4 patch and its
# surroundings — is then frozen and shared by every model of this chapter, so that the
# comparisons below differ only in the decoder.

# %%
NUM_PAIRS = world.num_colors * world.num_shapes


def pair_targets(batch):
    """(n, colours × shapes) in {0, 1}: which (colour, shape) pairs the image contains."""
    pairs = batch.scene.color * world.num_shapes + batch.scene.shape
    return F.one_hot(torch.where(batch.scene.present, pairs, NUM_PAIRS), NUM_PAIRS + 1)[..., :NUM_PAIRS].amax(1).float()


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.grid = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )
        self.classify = nn.Linear(32, NUM_PAIRS)

    def forward(self, images):  # the classifier reads the grid's maximum over cells
        return self.classify(self.grid(images).amax((2, 3)))


torch.manual_seed(0)
encoder = Encoder().to(rt.device)
train_targets = pair_targets(train).to(rt.device)
g = torch.Generator().manual_seed(0)


def encoder_batch(step):
    idx = torch.randint(len(train), (S.batch,), generator=g)
    return train.images[idx].to(rt.device), train_targets[idx]


fit(encoder, encoder_batch, F.binary_cross_entropy_with_logits, S.encoder_steps, lr=1e-2, desc="encoder")
with torch.no_grad():
    correct = (encoder(test.images.to(rt.device)) > 0) == pair_targets(test).to(rt.device)
    train_grid = encoder.grid(train.images.to(rt.device)).flatten(2).transpose(1, 2)  # (n, 64 cells, 32)
    test_grid = encoder.grid(test.images.to(rt.device)).flatten(2).transpose(1, 2)
print(f"encoder: every (colour, shape) pair right on {correct.all(1).float().mean():.1%} of held-out images; "
      f"grid features {tuple(test_grid.shape[1:])} per image")

# %% [markdown]
# ## 3. A language-generating LSTM that looks at the image
#
# The decoder is chapter 08's language model with the image as extra input. Words enter
# through an embedding; the LSTM's state carries the sentence so far; a linear layer scores the
# next word. Two ways to give it the image, from the lecture:
#
# - **as the initial state**: `h_0 = tanh(W_i · image)`, then `<start>`. Karpathy & Fei-Fei
#   (2015), as on the slide, add the projected image to the first step instead,
#   `+ 1(t = 1) ⊙ b_v`; both hand the image to the state before the first word and never again;
# - **as the first input** (Vinyals et al., 2015, "Show and Tell"): the image, projected to the
#   size of a word embedding, is fed as input `x_{-1}` before `<start>`, from a zero state.
#
# In both, "the image" is the frozen grid flattened into one vector, so that where things are
# is not lost. A **blind** decoder that never sees the image is the control: whatever it scores
# comes from the language alone. **Teacher forcing**: during training the decoder is fed the *reference* words,
# not its own guesses, and every position is trained at once to predict the next word.


# %%
class Captioner(nn.Module):
    """An LSTM decoder over a frozen (cells, features) grid. ``mode``: "blind" (no image: the
    control), "init" (image as the initial state), "input" (image as the first input),
    "mean context" (initial state from the image, plus the grid's average fed with every
    word) or "attention" (the same, with the average weighted by soft attention)."""

    def __init__(self, mode, hidden=S.hidden, embed=32, features=32, cells=64, attention=32):
        super().__init__()
        self.mode = mode
        self.embed = nn.Embedding(len(vocab), embed)
        # LayerNorm: the flattened grid has 2048 features of very different scales
        self.image = nn.Sequential(nn.LayerNorm(cells * features),
                                   nn.Linear(cells * features, embed if mode == "input" else hidden))
        self.context = mode in ("attention", "mean context")
        self.cell = nn.LSTMCell(embed + (features if self.context else 0), hidden)
        self.out = nn.Linear(hidden, len(vocab))
        if mode == "attention":  # the scoring MLP of soft attention
            self.w_features = nn.Parameter(torch.randn(features, attention) / features**0.5)
            self.w_hidden = nn.Parameter(torch.randn(hidden, attention) / hidden**0.5)
            self.v = nn.Parameter(torch.randn(attention) / attention**0.5)

    def start(self, grid):
        """The state before the first word."""
        zeros = grid.new_zeros(len(grid), self.cell.hidden_size)
        if self.mode == "blind":
            return zeros, zeros
        if self.mode == "input":
            return self.cell(self.image(grid.flatten(1)), (zeros, zeros))
        return torch.tanh(self.image(grid.flatten(1))), zeros

    def step(self, tokens, state, grid):
        """One word in -> next-word scores, the new state, the attention weights (or None)."""
        h, c = state
        x, weights = self.embed(tokens), None
        if self.mode == "attention":
            context, weights = attend_fn(grid, h, self.w_features, self.w_hidden, self.v)
            x = torch.cat((x, context), dim=1)
        elif self.mode == "mean context":  # attention with uniform weights: the control
            x = torch.cat((x, grid.mean(1)), dim=1)
        h, c = self.cell(x, (h, c))
        return self.out(h), (h, c), weights

    def forward(self, grid, tokens):
        """Teacher forcing: scores (N, L, V) for every position of the input words (N, L)."""
        state, scores = self.start(grid), []
        for t in range(tokens.shape[1]):
            logits, state, _ = self.step(tokens[:, t], state, grid)
            scores.append(logits)
        return torch.stack(scores, dim=1)

    @torch.no_grad()
    def greedy(self, grid, max_len=16):
        """Batched greedy decoding: (tokens (N, max_len), attention (N, max_len, cells) or None)."""
        state = self.start(grid)
        tokens = torch.full((len(grid),), lang.START, dtype=torch.long, device=grid.device)
        out, maps = [], []
        for _ in range(max_len):
            logits, state, weights = self.step(tokens, state, grid)
            tokens = logits.argmax(1)
            out.append(tokens)
            maps.append(weights)
        return torch.stack(out, 1), (torch.stack(maps, 1) if maps[0] is not None else None)


attend_fn = captioning.soft_attention  # until exercise 9.4

# %% [raw]
# # BEGIN QUESTION
# name: ex9_1
# points: 1

# %% [markdown]
# **Exercise 9.1 — the teacher-forcing loss.** Complete `caption_loss(scores, captions)`:
# `captions (Tensor[N, L])` are encoded references (`<start> words <end> <pad>…`); the decoder
# was fed `captions[:, :-1]` and returned `scores (Tensor[N, L-1, V])`, one next-word
# distribution per input position. Return the mean cross-entropy of predicting each *next*
# word, leaving out the positions whose target is `<pad>` (id `lang.PAD` = 0): padding is not
# a word the model should learn to say.

# %% [raw]
# # BEGIN SOLUTION


# %%
def caption_loss(scores, captions):
    # BEGIN SOLUTION
    targets = captions[:, 1:]
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1), ignore_index=lang.PAD)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_caption_loss_shift_and_padding(caption_loss):
    import math

    import torch

    from visioncourse.exercises import expect_close

    # vocabulary of 4; one caption <start>=1, word 3, <end>=2, <pad>=0. Scores favour token 3
    # after <start> and token 2 after word 3; the last position's target is <pad>.
    captions = torch.tensor([[1, 3, 2, 0]])
    scores = torch.tensor([[[0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 1.0, 0.0], [5.0, 0.0, 0.0, 0.0]]])
    want = (-math.log(math.exp(2) / (3 + math.exp(2))) - math.log(math.e / (3 + math.e))) / 2
    expect_close("Exercise 9.1 (caption_loss)", caption_loss(scores, captions), want,
                 inputs="captions [[<start>, 3, <end>, <pad>]], scores of shape (1, 3, 4)",
                 hint="targets are captions[:, 1:] (the next words); leave out <pad> targets, average the rest")


test_caption_loss_shift_and_padding(caption_loss)


# %%
def test_caption_loss_averages_over_words(caption_loss):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    captions = torch.tensor([[1, 3, 2, 0, 0], [1, 3, 3, 3, 2]])  # 2 and 4 target words
    scores = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(0))
    keep = captions[:, 1:] != 0
    expect_close("Exercise 9.1 (caption_loss)", caption_loss(scores, captions),
                 F.cross_entropy(scores[keep], captions[:, 1:][keep]), atol=1e-6,
                 inputs="two captions with 2 and 4 target words",
                 hint="one mean over all 6 real target words, not a mean of per-caption means")


test_caption_loss_averages_over_words(caption_loss)


# %%
# HIDDEN
def test_caption_loss_batch_with_ragged_lengths(caption_loss):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    torch.manual_seed(9)
    captions = torch.tensor([[1, 5, 6, 7, 2, 0, 0], [1, 4, 2, 0, 0, 0, 0], [1, 8, 9, 9, 9, 9, 2]])
    scores = torch.randn(3, 6, 10)
    targets = captions[:, 1:]
    keep = targets != 0
    want = F.cross_entropy(scores[keep], targets[keep])
    expect_close("Exercise 9.1 (caption_loss)", caption_loss(scores, captions), want, atol=1e-5,
                 inputs="3 captions of 3, 1 and 5 words", hint="average over real target words only")


test_caption_loss_batch_with_ragged_lengths(caption_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
loss_fn = use_or_reference("Exercise 9.1", "caption_loss",
                           lambda s, c: F.cross_entropy(s.reshape(-1, s.shape[-1]), c[:, 1:].reshape(-1), ignore_index=lang.PAD),
                           torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0)),
                           torch.tensor([[1, 3, 2, 0], [1, 4, 4, 2]]))
train_captions = captions.view(len(train), 5, -1).to(rt.device)


def train_captioner(mode, seed):
    torch.manual_seed(seed)
    model = Captioner(mode).to(rt.device)
    g = torch.Generator().manual_seed(seed)

    def batch(step):  # a random image and one of its five references
        idx = torch.randint(len(train), (S.batch,), generator=g)
        caps = train_captions[idx, torch.randint(5, (S.batch,), generator=g)]
        return (train_grid[idx], caps[:, :-1]), caps

    history = fit(model, batch, loss_fn, S.caption_steps, lr=3e-3, desc=f"captioner ({mode}, seed {seed})")
    return model, history


def describe(model, grid):
    """Greedy captions as strings, and the attention maps if the model has them."""
    tokens, maps = model.greedy(grid)
    return [vocab.decode(row) for row in tokens.cpu()], maps

# %% [markdown]
# ## 4. Scoring captions: BLEU, and facts
#
# **BLEU** (Papineni et al., 2002) compares a candidate sentence with several references by
# their shared n-grams. For each order n = 1..N, the *clipped precision* p_n counts the
# candidate's n-grams that occur in a reference, each at most as often as it occurs in the
# reference that has it most often (so "the the the" cannot score by repetition), summed over
# the whole corpus and divided by the candidate n-grams. A **brevity penalty**
# `BP = min(1, exp(1 − r/c))` punishes candidates shorter than their references (c: the
# candidates' total length; r: the sum, over candidates, of the reference length closest to
# each). `BLEU-N = BP · exp(mean of log p_1..p_N)`, and an order without a single match makes
# it 0.

# %% [raw]
# # BEGIN QUESTION
# name: ex9_2
# points: 2

# %% [markdown]
# **Exercise 9.2 — corpus BLEU.** Complete `corpus_bleu(candidates, references, n_gram)`:
# `candidates` is a list of sentences (strings, words separated by spaces), `references` a list
# with a list of reference sentences for each candidate; return BLEU-`n_gram` as a float, as
# defined above (on a tie for the closest reference length, take the shorter reference; return
# 0.0 when an order has no match). `captioning.ngrams(words, n)` counts n-grams in a
# `Counter`, and `Counter`s combine with `|` (the larger count of each key).

# %% [raw]
# # BEGIN SOLUTION


# %%
def corpus_bleu(candidates, references, n_gram=4):
    # BEGIN SOLUTION
    from collections import Counter

    matches, totals = [0] * n_gram, [0] * n_gram
    c_len = r_len = 0
    for cand, refs in zip(candidates, references):
        words, ref_words = cand.split(), [r.split() for r in refs]
        c_len += len(words)
        r_len += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]
        for n in range(1, n_gram + 1):
            most = Counter()
            for r in ref_words:
                most |= captioning.ngrams(r, n)
            counts = captioning.ngrams(words, n)
            matches[n - 1] += sum(min(k, most[g]) for g, k in counts.items())
            totals[n - 1] += max(len(words) - n + 1, 0)
    if c_len == 0 or min(matches) == 0:
        return 0.0
    bp = 1.0 if c_len > r_len else math.exp(1 - r_len / c_len)
    return bp * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / n_gram)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_bleu_clipping_and_brevity(corpus_bleu):
    import math

    from visioncourse.exercises import expect_close

    expect_close("Exercise 9.2 (corpus_bleu)", corpus_bleu(["the the the"], [["the cat"]], 1), 1 / 3,
                 inputs='candidate "the the the", reference "the cat", BLEU-1',
                 hint="clip each n-gram's count at its largest count in one reference")
    expect_close("Exercise 9.2 (corpus_bleu)", corpus_bleu(["a b"], [["a b c d", "a b c d e"]], 1),
                 math.exp(1 - 4 / 2), inputs='candidate "a b", references "a b c d" and "a b c d e", BLEU-1',
                 hint="brevity penalty exp(1 - r/c) with r the closest reference length (4), c = 2")
    expect_close("Exercise 9.2 (corpus_bleu)", corpus_bleu(["a red circle"], [["a red square"]], 2), math.sqrt(1 / 3),
                 inputs='candidate "a red circle", reference "a red square", BLEU-2',
                 hint="p_1 = 2/3, p_2 = 1/2, BP = 1: sqrt(2/3 · 1/2)")


test_bleu_clipping_and_brevity(corpus_bleu)


# %%
def test_bleu_is_a_corpus_score_with_the_closest_reference(corpus_bleu):
    import math

    from visioncourse.exercises import expect_close

    # two candidates: counts are summed over the corpus before dividing (not a mean of scores)
    got = corpus_bleu(["a b c", "d e f g"], [["a b x"], ["d e f g"]], 1)
    expect_close("Exercise 9.2 (corpus_bleu)", got, 6 / 7, inputs='"a b c" vs "a b x", "d e f g" vs itself, BLEU-1',
                 hint="p_1 = (2 + 4) / (3 + 4); BP = 1")
    # references of 2 and 5 words around a 4-word candidate: the closest is 5 (not the shortest)
    got = corpus_bleu(["a b c d"], [["a b", "a b c d e"]], 1)
    expect_close("Exercise 9.2 (corpus_bleu)", got, math.exp(1 - 5 / 4), inputs='"a b c d" vs "a b" and "a b c d e"',
                 hint="r is the reference length closest to the candidate's (5 here), then BP = exp(1 - r/c)")
    # clipping takes the largest count in any ONE reference, not the sum over references
    got = corpus_bleu(["the the"], [["the cat", "a the"]], 1)
    expect_close("Exercise 9.2 (corpus_bleu)", got, 0.5, inputs='"the the" vs "the cat" and "a the"',
                 hint="'the' appears at most once in any one reference: 1 match of 2")


test_bleu_is_a_corpus_score_with_the_closest_reference(corpus_bleu)


# %%
# HIDDEN
def test_bleu_equals_torchmetrics_on_a_corpus(corpus_bleu):
    from torchmetrics.functional.text import bleu_score

    from visioncourse.data import generate
    from visioncourse.data import language as lang
    from visioncourse.exercises import expect_close

    b = generate(40, seed=3, max_objects=3)
    refs = lang.reference_captions(b.scene, b.config, 5, seed=4)
    cands = [r[(i * 7) % 5] for i, r in enumerate(lang.reference_captions(b.scene, b.config, 5, seed=9))]
    cands = [c.replace("red", "blue", 1) if i % 3 == 0 else c for i, c in enumerate(cands)]
    others = [r[1:] for r in refs]
    for n in (1, 2, 3, 4):
        want = bleu_score(cands, others, n_gram=n).item()
        expect_close("Exercise 9.2 (corpus_bleu)", corpus_bleu(cands, others, n), want, atol=1e-5,
                     inputs=f"40 shapes-world captions with 4 references each, BLEU-{n}",
                     hint="sum matches and totals over the whole corpus before dividing")
    expect_close("Exercise 9.2 (corpus_bleu)", corpus_bleu(["red circle"], [["a blue square"]], 4), 0.0,
                 inputs="no match at all", hint="an order without a match gives 0")


test_bleu_equals_torchmetrics_on_a_corpus(corpus_bleu)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The production counterparts** are `torchmetrics.functional.text.bleu_score` and nltk's
# `corpus_bleu` (the course's tests check `visioncourse.captioning.bleu_score` against both).
# One caution they share: with short captions, an order with no match at all makes BLEU 0, and
# torchmetrics' `smooth=True` does not change that; nltk's `SmoothingFunction().method1`
# (also `bleu_score(..., smooth=True)` here) does. Below, BLEU is unsmoothed.
#
# **Facts.** Because the grammar is known, a generated caption can be parsed back into its
# claims (objects, the relation, the count) and each checked against the scene:
# `lang.fact_scores` gives **fact precision** (the share of stated facts that are true) and
# **fact recall** (the share of the image's objects the caption names).

# %%
from torchmetrics.functional.text import bleu_score as torchmetrics_bleu

bleu_fn = use_or_reference("Exercise 9.2", "corpus_bleu", captioning.bleu_score,
                           ["a red circle", "there is a blue square"],
                           [["a red square"], ["there is a blue square", "a blue square"]], 2)
sample_refs = test_refs[:50]
sample_cands = [r[0].replace("small", "large", 1) for r in lang.reference_captions(test.scene, world, 5, seed=7)[:50]]
print(f"BLEU-4 on 50 captions: yours/reference {bleu_fn(sample_cands, sample_refs, 4):.4f}, "
      f"torchmetrics {torchmetrics_bleu(sample_cands, sample_refs, n_gram=4).item():.4f}")


def scores_of(sentences, batch, refs):
    out = {f"BLEU-{n}": bleu_fn(sentences, refs, n) for n in (1, 2, 3, 4)}
    facts = lang.fact_scores(sentences, batch.scene, world)
    out.update({"fact precision": facts["precision"], "fact recall": facts["recall"]})
    return out


# %% [markdown]
# **Image as initial state, or as first input?** Both decoders train with the same data,
# steps and learning rate, over several seeds, and caption the held-out images greedily:

# %%
results, models = {}, {}
for mode in ("blind", "init", "input"):
    for seed in range(S.seeds):
        model, _ = train_captioner(mode, seed)
        sentences, _ = describe(model, test_grid)
        results[mode, seed] = scores_of(sentences, test, test_refs)
        models[mode, seed] = model


def table(modes):
    keys = list(results[modes[0], 0])
    print(f"{'':22s}" + "".join(f"{k:>17s}" for k in keys))
    for mode in modes:
        row = [mean_std([results[mode, s][k] for s in range(S.seeds)], 3) for k in keys]
        print(f"{NAMES[mode]:22s}" + "".join(f"{r:>17s}" for r in row))


def verdicts(a, b):
    for key in results[a, 0]:
        xs, ys = [results[a, s][key] for s in range(S.seeds)], [results[b, s][key] for s in range(S.seeds)]
        if separated(xs, ys):
            print(f"{key}: {NAMES[a]} {'above' if min(xs) > max(ys) else 'below'} {NAMES[b]} on every seed")
        else:
            print(f"{key}: the seeds overlap, no verdict")


NAMES = {"blind": "no image (control)", "init": "image as initial state", "input": "image as first input",
         "mean context": "mean context", "attention": "soft attention"}
print(f"held-out captions, greedy, mean ± std over {S.seeds} seeds")
table(["blind", "init", "input"])
for a, b in (("init", "blind"), ("input", "blind"), ("init", "input")):
    print(f"-- {NAMES[a]} vs {NAMES[b]}")
    verdicts(a, b)
sentences, _ = describe(models["init", 0], test_grid[:4])
for i, s in enumerate(sentences):
    print(f"  image {i}: {s!r} | reference: {test_refs[i][0]!r}")

# %% [markdown]
# Look at the samples as well as the table. A decoder that has not yet learned to use the
# image says the same likely sentence for every image — the language prior — and still
# collects BLEU for the n-grams every reference shares ("a small", "square"), which is one
# reason to read fact precision and recall next to it.
#
# **Where BLEU and the facts disagree.** Take held-out images with two objects, and score two
# made-up candidates against their references: the first reference with one colour changed
# (two false facts — the object and the relation that names it — with almost every n-gram
# intact), and a *true* sentence the references do not contain (the relation said from the
# other side, without sizes). Then, image by image, which of the two a sentence-level BLEU-4
# prefers (smoothed as nltk's method 1, since single sentences often miss an order):

# %%
wrong, reworded, refs_two, idx_two = [], [], [], []
other = {c: next(d for d in world.color_names if d != c) for c in world.color_names}
for i in range(len(test)):
    objs, relation, count = lang.scene_facts(test.scene, world, i)
    if count == 2 and len(idx_two) < 200:
        (s0, c0, h0), (s1, c1, h1) = objs
        wrong.append(test_refs[i][0].replace(f" {c0} {h0}", f" {other[c0]} {h0}", 1))
        reworded.append(f"a {c1} {h1} {lang.OPPOSITE[relation[1]]} a {c0} {h0}")
        refs_two.append(test_refs[i])
        idx_two.append(i)
scene_two = test.scene[idx_two]
for name, cands in (("one colour wrong", wrong), ("true, reworded", reworded)):
    facts = lang.fact_scores(cands, scene_two, world)
    print(f"{name:17s} BLEU-4 {bleu_fn(cands, refs_two, 4):.3f} | fact precision {facts['precision']:.3f} "
          f"| e.g. {cands[0]!r}")
prefers_false = sum(captioning.bleu_score([w], [r], 4, smooth=True) > captioning.bleu_score([t], [r], 4, smooth=True)
                    for w, t, r in zip(wrong, reworded, refs_two))
print(f"sentence BLEU-4 prefers the false caption on {prefers_false} of {len(wrong)} images")

# %% [markdown]
# Compare the two rows, and the count below them. BLEU counts shared word sequences, not
# truth: the caption with a false colour keeps most of its n-grams, so over the corpus its
# BLEU stays within a few hundredths of that of a sentence whose every claim is true (the count
# says how often, image by image, it would even rank the false one first), while fact
# precision tells the two apart at once. Neither number is the whole
# story (fact precision ignores fluency, and a caption that says little is trivially precise,
# which is what fact recall is for), so the tables report both.

# %% [markdown]
# ## 5. Decoding: greedy and beam search
#
# Greedy decoding takes the single most likely word at every step; an early choice that looks
# good can lead to a worse sentence overall. **Beam search** keeps the `k` best partial
# sentences (by total log-probability), extends each by every word, keeps the `k` best again,
# and sets a sentence aside when it emits `<end>`. Longer sentences have more factors below 1,
# so finished sentences are ranked by `log P / length^α` (length normalisation; α = 0 ranks by
# `log P` alone).

# %% [raw]
# # BEGIN QUESTION
# name: ex9_3
# points: 2

# %% [markdown]
# **Exercise 9.3 — beam search.** Complete `beam_search(step, state, start, end, max_len,
# beam_width, alpha)`. `step(token, state)` takes the last token (`Tensor[1]` long) and a
# state, and returns `(log_probs (Tensor[V]), new_state)`. Keep `(log P, tokens, state)` for
# each live beam, starting from `(0.0, [], state)` (the first token fed is `start`). At every
# step extend each live beam by its `beam_width` best tokens, keep the `beam_width` best
# extensions overall, and move those that end with `end` to a finished list; stop when no
# beam is live or after `max_len` tokens. Return the tokens (after `start`, `end` included if
# emitted) of the best finished-or-live sentence by `log P / len(tokens) ** alpha`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def beam_search(step, state, start, end, max_len, beam_width, alpha=0.75):
    # BEGIN SOLUTION
    beams, finished = [(0.0, [], state)], []
    for _ in range(max_len):
        candidates = []
        for score, tokens, st in beams:
            log_probs, new_state = step(torch.tensor([tokens[-1] if tokens else start]), st)
            top = torch.topk(log_probs, min(beam_width, log_probs.numel()))
            for lp, tok in zip(top.values.tolist(), top.indices.tolist()):
                candidates.append((score + lp, tokens + [tok], new_state))
        candidates.sort(key=lambda c: c[0], reverse=True)
        beams = []
        for cand in candidates[:beam_width]:
            (finished if cand[1][-1] == end else beams).append(cand)
        if not beams:
            break
    return max(finished + beams, key=lambda c: c[0] / len(c[1]) ** alpha)[1]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_beam_search_width_one_is_greedy(beam_search):
    import torch

    from visioncourse import captioning
    from visioncourse.exercises import expect_equal

    table = torch.log_softmax(torch.tensor([[0.0, 2.0, 1.0, 0.5], [0.1, 0.0, 3.0, 0.0],
                                            [0.0, 2.5, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), dim=1)
    step = lambda token, state: (table[int(token)], state)  # next token depends on the last only
    expect_equal("Exercise 9.3 (beam_search)", beam_search(step, None, 0, 3, 5, 1, 0.0),
                 captioning.greedy_decode(step, None, 0, 3, 5),
                 inputs="a 4-token model (start 0, end 3), max_len 5, beam_width 1",
                 hint="with one beam, beam search is greedy decoding")


test_beam_search_width_one_is_greedy(beam_search)


# %%
def test_beam_search_finds_what_greedy_misses(beam_search):
    import math

    import torch

    from visioncourse.exercises import expect_equal

    # after start (0): token 1 (p 0.6) leads to end with p 0.3 at best; token 2 (p 0.4) leads
    # to end with p 0.9. Greedy takes 1; the best sentence is [2, 3].
    probs = torch.tensor([[0.0, 0.6, 0.4, 0.0], [0.0, 0.0, 0.35, 0.3], [0.0, 0.05, 0.05, 0.9], [0.25] * 4])
    table = torch.log(probs + 1e-12)
    step = lambda token, state: (table[int(token)], state)
    expect_equal("Exercise 9.3 (beam_search)", beam_search(step, None, 0, 3, 4, 2, 0.0), [2, 3],
                 inputs="start 0 -> {1: 0.6, 2: 0.4}; 1 -> end 0.3; 2 -> end 0.9; width 2, alpha 0",
                 hint=f"log P of [2, 3] is {math.log(0.36):.2f}, of [1, 3] {math.log(0.18):.2f}: keep both beams")


test_beam_search_finds_what_greedy_misses(beam_search)


# %%
def test_beam_search_length_normalisation(beam_search):
    import torch

    from visioncourse.exercises import expect_equal

    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5], [0.05, 0.0, 0.05, 0.9], [0.3, 0.3, 0.2, 0.2], [0.25] * 4])
    table = torch.log(probs + 1e-9)
    step = lambda token, state: (table[int(token)], state)
    for alpha, want in ((0.0, [3]), (1.0, [1, 3])):
        expect_equal("Exercise 9.3 (beam_search)", beam_search(step, None, 0, 3, 5, 3, alpha), want,
                     inputs=f"end right away (P 0.5) or after token 1 (P 0.45), width 3, alpha {alpha}",
                     hint="rank finished sentences by log P / len(tokens) ** alpha")


test_beam_search_length_normalisation(beam_search)


# %%
# HIDDEN
def test_beam_search_wide_is_exhaustive_and_normalises(beam_search):
    import itertools
    import math

    import torch

    from visioncourse.exercises import expect_equal

    g = torch.Generator().manual_seed(5)
    V, end, T = 4, 3, 4
    for trial in range(8):
        table = torch.log_softmax(torch.randn(V, V, generator=g) * 2, dim=1)
        step = lambda token, state, table=table: (table[int(token)], state)
        best, best_score = None, -math.inf
        for length in range(1, T + 1):
            for seq in itertools.product(range(V), repeat=length):
                if end in seq[:-1] or (length < T and seq[-1] != end):
                    continue
                score = sum(table[a, b].item() for a, b in zip((0, *seq), seq))
                if score > best_score:
                    best, best_score = list(seq), score
        expect_equal("Exercise 9.3 (beam_search)", beam_search(step, None, 0, end, T, V**T, 0.0), best,
                     inputs=f"random 4-token model {trial}, a beam as wide as every sentence, alpha 0",
                     hint="a wide enough beam finds the most likely sentence of all")
    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5], [0.05, 0.0, 0.05, 0.9], [0.3, 0.3, 0.2, 0.2], [0.25] * 4])
    table = torch.log(probs + 1e-9)
    step = lambda token, state: (table[int(token)], state)
    expect_equal("Exercise 9.3 (beam_search)", beam_search(step, None, 0, 3, 5, 3, 1.0), [1, 3],
                 inputs="end right away (P 0.5) or after token 1 (P 0.45), alpha 1",
                 hint="rank finished sentences by log P / length ** alpha")


test_beam_search_wide_is_exhaustive_and_normalises(beam_search)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
beam_fn = use_or_reference("Exercise 9.3", "beam_search", captioning.beam_search,
                           lambda token, state: (torch.log_softmax(torch.tensor([0.1, 0.5, 0.2, 0.3]) * (int(token) + 1), 0), state),
                           None, 0, 3, 4, 2, 0.75, adapt=lambda fn: lambda *args: torch.tensor(fn(*args)))
def beam_tokens(model, i, beam_width, alpha=0.75):
    grid = test_grid[i : i + 1]

    def step(token, state):
        logits, state, _ = model.step(token.to(grid.device), state, grid)
        return torch.log_softmax(logits[0], 0).cpu(), state

    with torch.no_grad():
        return beam_fn(step, model.start(grid), lang.START, lang.END, 16, beam_width, alpha)


@torch.no_grad()
def log_probability(model, i, tokens):
    """log P(tokens | image i) under the model, by feeding <start> and the tokens."""
    grid = test_grid[i : i + 1]
    inputs = torch.tensor([[lang.START, *tokens[:-1]]], device=grid.device)
    scores = torch.log_softmax(model(grid, inputs)[0], dim=1)
    return scores[torch.arange(len(tokens)), torch.tensor(tokens)].sum().item()


N_BEAM = 50
beam_rows = {}
for width in (1, 3):
    for seed in range(S.seeds):
        model = models["input", seed]
        tokens = [beam_tokens(model, i, width) for i in range(N_BEAM)]
        sentences = [vocab.decode(t) for t in tokens]
        beam_rows[width, seed] = {
            "log P": sum(log_probability(model, i, t) for i, t in enumerate(tokens)) / N_BEAM,
            "words": sum(len(s.split()) for s in sentences) / N_BEAM,
            "BLEU-4": bleu_fn(sentences, test_refs[:N_BEAM], 4),
            "fact precision": lang.fact_scores(sentences, test.scene[:N_BEAM], world)["precision"],
        }
print(f"image-as-first-input captioners, {N_BEAM} held-out images, mean ± std over {S.seeds} seeds")
for width in (1, 3):
    print(f"beam width {width}: " + " | ".join(
        f"{key} {mean_std([beam_rows[width, s][key] for s in range(S.seeds)], 3)}" for key in beam_rows[1, 0]))

# %% [markdown]
# Beam search looks for sentences that are more probable *under the model* (the log P
# column); whether they are better captions is what BLEU and the facts say, and the three need
# not move together — compare the rows, and the lengths, which length normalisation steers.
#
# ### Play with the beam
# The first image-as-first-input captioner on one held-out image; change the beam width and α.


# %%
def show_beam(image=0, beam_width=1, alpha=0.75):
    tokens = beam_tokens(models["input", 0], image, beam_width, alpha)
    plt.figure(figsize=(2, 2))
    plt.imshow(to_numpy_image(test.images[image])), plt.axis("off")
    plt.title(f"{vocab.decode(tokens)}\nlog P = {log_probability(models['input', 0], image, tokens):.2f}", fontsize=7)
    plt.show()
    print("references:", *test_refs[image], sep="\n  ")


_ = widgets.interact(show_beam, image=widgets.IntSlider(0, 0, len(test) - 1),
                     beam_width=widgets.IntSlider(1, 1, 8), alpha=widgets.FloatSlider(0.75, min=0.0, max=2.0, step=0.25))

# %% [markdown]
# ## 6. Soft attention: look somewhere else for every word
#
# Both decoders above squeeze the whole image into one vector before the first word. Show,
# Attend and Tell (Xu et al., 2015) keeps the CNN's grid instead, one feature vector `a_j` per
# cell, and at every step lets the decoder choose where to look. A small network scores each
# cell against the decoder's state, `e_j = vᵀ tanh(W_a a_j + W_h h_{t-1})`; a softmax turns the
# scores into weights `α_j` that sum to 1; the **context** `z_t = Σ_j α_j a_j` is fed to the
# LSTM with the word. The weights are a map of where the model looked for that word.

# %% [raw]
# # BEGIN QUESTION
# name: ex9_4
# points: 2

# %% [markdown]
# **Exercise 9.4 — one attention step.** Complete `soft_attention(features, hidden,
# w_features, w_hidden, v)`: `features (Tensor[N, L, D])` (L grid cells), `hidden
# (Tensor[N, H])`, `w_features (Tensor[D, A])`, `w_hidden (Tensor[H, A])`, `v (Tensor[A])` →
# `(context (Tensor[N, D]), weights (Tensor[N, L]))` as above. No loop: the hidden term is the
# same for every cell of an image, so broadcast it. The captioner of this section calls your
# function at every word of every training step.

# %% [raw]
# # BEGIN SOLUTION


# %%
def soft_attention(features, hidden, w_features, w_hidden, v):
    # BEGIN SOLUTION
    scores = torch.tanh(features @ w_features + (hidden @ w_hidden)[:, None]) @ v
    weights = F.softmax(scores, dim=1)
    return (weights[..., None] * features).sum(1), weights
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_soft_attention_by_hand(soft_attention):
    import math

    import torch

    from visioncourse.exercises import expect_close

    features = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # two cells, D = 2
    hidden = torch.tensor([[1.0]])
    w_f, w_h, v = torch.eye(2), torch.tensor([[0.5, -0.5]]), torch.tensor([1.0, 1.0])
    out = soft_attention(features, hidden, w_f, w_h, v)
    e = [math.tanh(1.5) + math.tanh(-0.5), math.tanh(0.5) + math.tanh(1.5)]
    a = [math.exp(x) / (math.exp(e[0]) + math.exp(e[1])) for x in e]
    expect_close("Exercise 9.4 (soft_attention)", out[1] if isinstance(out, tuple) else out, [a],
                 inputs="cells [1, 0] and [0, 2], W_f = I, h = [1], W_h = [[0.5, -0.5]], v = [1, 1]",
                 hint="e_j = v · tanh(W_fᵀ a_j + W_hᵀ h); weights = softmax over the cells; return (context, weights)")
    expect_close("Exercise 9.4 (soft_attention)", out[0] if isinstance(out, tuple) else out, [[a[0], 2 * a[1]]],
                 inputs="the same", hint="context = Σ_j weight_j · features_j, shape (N, D)")


test_soft_attention_by_hand(soft_attention)


# %%
def test_soft_attention_batch_of_two(soft_attention):
    import torch

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(1)
    feats, hidden = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, generator=g)  # N=2, L=3
    wf, wh, v = torch.randn(4, 6, generator=g), torch.randn(5, 6, generator=g), torch.randn(6, generator=g)
    out = soft_attention(feats, hidden, wf, wh, v)
    scores = torch.stack([torch.stack([torch.tanh(feats[n, j] @ wf + hidden[n] @ wh) @ v for j in range(3)])
                          for n in range(2)])
    expect_close("Exercise 9.4 (soft_attention)", out[1] if isinstance(out, tuple) else out,
                 torch.softmax(scores, dim=1), atol=1e-5, inputs="N = 2 images, L = 3 cells, D = 4, H = 5",
                 hint="each image's hidden state scores that image's cells only: (hidden @ W_h)[:, None]")


test_soft_attention_batch_of_two(soft_attention)


# %%
# HIDDEN
def test_soft_attention_equals_a_loop(soft_attention):
    import torch

    from visioncourse.exercises import expect_close

    torch.manual_seed(4)
    N, L, D, H, A = 3, 7, 5, 4, 6
    feats, hidden = torch.randn(N, L, D), torch.randn(N, H)
    wf, wh, v = torch.randn(D, A), torch.randn(H, A), torch.randn(A)
    context, weights = soft_attention(feats, hidden, wf, wh, v)
    for n in range(N):
        e = torch.stack([torch.tanh(feats[n, j] @ wf + hidden[n] @ wh) @ v for j in range(L)])
        a = torch.softmax(e, 0)
        expect_close("Exercise 9.4 (soft_attention)", weights[n], a, inputs=f"random N={N}, L={L}, D={D}, H={H}, A={A}",
                     atol=1e-5, hint="one weight per cell per image, summing to 1")
        expect_close("Exercise 9.4 (soft_attention)", context[n], (a[:, None] * feats[n]).sum(0), atol=1e-5,
                     inputs=f"random N={N}, L={L}, D={D}", hint="the weighted sum of the cells' features")


test_soft_attention_equals_a_loop(soft_attention)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The production counterpart.** PyTorch has no additive attention; its building block is
# *dot-product* attention, `softmax(QKᵀ/√d) V` (Vaswani et al., 2017), which scores a query
# against each key by an inner product instead of a small network. Written by hand, it equals
# `F.scaled_dot_product_attention`, and a one-head `nn.MultiheadAttention` is the same after
# its input and output projections:

# %%
attend_fn = use_or_reference("Exercise 9.4", "soft_attention", captioning.soft_attention,
                             torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)), torch.ones(2, 5),
                             torch.ones(4, 6), torch.ones(5, 6) * 0.1, torch.linspace(-1, 1, 6),
                             adapt=lambda fn: lambda *args: torch.cat(fn(*args), dim=1))
q, k, v = (torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(i)) for i in range(3))
ours, _ = captioning.dot_product_attention(q, k, v)
print(f"by hand vs F.scaled_dot_product_attention: {(ours - F.scaled_dot_product_attention(q, k, v)).abs().max():.1e}")
mha = nn.MultiheadAttention(8, num_heads=1, batch_first=True)
w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)
b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)
by_hand, _ = captioning.dot_product_attention(q @ w_q.T + b_q, k @ w_k.T + b_k, v @ w_v.T + b_v)
by_hand = by_hand @ mha.out_proj.weight.detach().T + mha.out_proj.bias.detach()
print(f"by hand vs nn.MultiheadAttention(8, 1): {(by_hand - mha(q, k, v)[0].detach()).abs().max():.1e}")

# %% [markdown]
# **Does attention help?** The attention captioner trains with the same budget as the
# decoders above, over the same seeds. It differs from them in two ways at once: it sees the
# grid again at *every* word, and it weights the cells. So there is a second control, the
# **mean context**: the same decoder fed the grid's plain average at every word (attention
# with uniform weights). Attention earns its credit over that control, not over the decoders
# that see the image once:

# %%
for mode in ("mean context", "attention"):
    for seed in range(S.seeds):
        model, _ = train_captioner(mode, seed)
        sentences, _ = describe(model, test_grid)
        results[mode, seed] = scores_of(sentences, test, test_refs)
        models[mode, seed] = model
print(f"held-out captions, greedy, mean ± std over {S.seeds} seeds")
table(["blind", "init", "input", "mean context", "attention"])
for a, b in (("attention", "mean context"), ("attention", "input"), ("mean context", "input")):
    print(f"-- {NAMES[a]} vs {NAMES[b]}")
    verdicts(a, b)

# %% [markdown]
# **Where does it look?** For every generated shape word ("circle", "square"…) whose colour
# word before it names an object of the image, take the attention weights of that step and
# measure the share that falls on the object's cells (the object's mask, averaged down to the
# 8 × 8 grid). Uniform attention would put exactly the object's area share there. Looking at
# objects in general would also beat uniform, so in two-object images the share on the
# *other* object is the control: it should be smaller if the model looks at what it names.

# %%
cell_cover = F.avg_pool2d(test.masks.float().flatten(0, 1)[:, None], 4).view(len(test), -1, 64)  # (n, K, 64)
shape_ids = {vocab.index[s]: s for s in world.shape_names}
colour_ids = {vocab.index[c]: c for c in world.color_names}


def attention_mass(model):
    tokens, maps = model.greedy(test_grid)
    on_object, uniform, on_other = [], [], []
    for i in range(len(test)):
        for t in range(1, tokens.shape[1]):
            word, before = tokens[i, t].item(), tokens[i, t - 1].item()
            if word == lang.END:
                break
            if word in shape_ids and before in colour_ids:
                match = [k for k in range(int(test.scene.present[i].sum()))
                         if world.shape_names[test.scene.shape[i, k]] == shape_ids[word]
                         and world.color_names[test.scene.color[i, k]] == colour_ids[before]]
                if len(match) == 1:
                    cover = cell_cover[i, match[0]]
                    on_object.append((maps[i, t].cpu() * cover).sum().item())
                    uniform.append(cover.mean().item())
                    if int(test.scene.present[i].sum()) == 2:
                        on_other.append((maps[i, t].cpu() * cell_cover[i, 1 - match[0]]).sum().item())
    mean = lambda xs: sum(xs) / max(len(xs), 1)
    return mean(on_object), mean(uniform), mean(on_other), len(on_object)


masses = [attention_mass(models["attention", s]) for s in range(S.seeds)]
print(f"attention on the named object: {mean_std([m[0] for m in masses], 3)} over {S.seeds} seeds "
      f"({masses[0][3]} shape words in seed 0)")
print(f"  uniform attention would give:  {mean_std([m[1] for m in masses], 3)}")
print(f"  on the other object (control): {mean_std([m[2] for m in masses], 3)}")
print("named object above uniform on every seed:", min(m[0] - m[1] for m in masses) > 0,
      "| above the other object on every seed:", min(m[0] - m[2] for m in masses) > 0)

# %% [markdown]
# ### Attention, word by word
# The first attention captioner on a held-out image: step through its caption and see the
# weights of each word over the image.

# %%
viewer = models["attention", 0]


def show_attention(image=0, word=1):
    tokens, maps = viewer.greedy(test_grid[image : image + 1])
    words = [vocab.words[t] for t in tokens[0].tolist()]
    n_words = words.index("<end>") + 1 if "<end>" in words else len(words)
    word = min(word, n_words) - 1
    weights = maps[0, word].view(8, 8).cpu()
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
    axes[0].imshow(to_numpy_image(test.images[image])), axes[0].axis("off")
    axes[1].imshow(to_numpy_image(test.images[image]))
    axes[1].imshow(F.interpolate(weights[None, None], size=32, mode="nearest")[0, 0], alpha=0.6, cmap="magma")
    axes[1].axis("off"), axes[1].set_title(f"word {word + 1}: {words[word]!r}", fontsize=8)
    fig.suptitle(" ".join(words[:n_words]), fontsize=8)
    plt.show()


_ = widgets.interact(show_attention, image=widgets.IntSlider(0, 0, len(test) - 1), word=widgets.IntSlider(1, 1, 12))

# %% [markdown]
# The same for every word of one caption at once (the first held-out image with two objects):

# %%
two_objects = next(i for i in range(len(test)) if int(test.scene.present[i].sum()) == 2)
tokens, maps = viewer.greedy(test_grid[two_objects : two_objects + 1])
words = [vocab.words[t] for t in tokens[0].tolist()]
n_words = words.index("<end>") + 1 if "<end>" in words else len(words)
fig, axes = plt.subplots(1, n_words, figsize=(1.3 * n_words, 1.6))
for t, ax in enumerate(axes):
    ax.imshow(to_numpy_image(test.images[two_objects]))
    ax.imshow(F.interpolate(maps[0, t].view(1, 1, 8, 8).cpu(), size=32, mode="nearest")[0, 0], alpha=0.6, cmap="magma")
    ax.set_title(words[t], fontsize=8), ax.axis("off")
plt.show()

# %% [markdown]
# ## 7. Visual question answering
#
# The lecture's last step: answer a question about the image (Antol et al., 2015). The
# question is a short sentence, read by an LSTM into one vector `q`; the answer is one word,
# chosen by a classifier. How the image enters:
#
# - **question only**: no image at all — what the grammar's answer statistics alone allow;
# - **image only**: the image vector, no question — it cannot know what is asked;
# - **question + image**: the classifier sees `q` and the flattened grid;
# - **question + attention**: `q` attends over the grid with your soft attention (the question
#   chooses where to look), and the classifier sees `q` and the context.
#
# The answers: colours, shapes, counts, yes and no. Same data, steps and learning rate for
# every model, over several seeds; accuracy on held-out questions, overall and by type.

# %%
ANSWERS = list(world.color_names) + list(world.shape_names) + ["one", "two", "yes", "no"]


def vqa_data(batch, grid, seed):
    qs, answers, types = lang.questions(batch.scene, world, seed=seed)
    return (vocab.encode(qs).to(rt.device), grid,
            torch.tensor([ANSWERS.index(a) for a in answers], device=rt.device), types)


train_q, _, train_a, _ = vqa_data(train, train_grid, seed=0)
test_q, _, test_a, test_types = vqa_data(test, test_grid, seed=1)


class VQA(nn.Module):
    def __init__(self, uses, hidden=64, features=32, cells=64, attention=32):
        super().__init__()
        self.uses = uses
        self.embed = nn.Embedding(len(vocab), 32)
        self.question = nn.LSTM(32, hidden, batch_first=True)
        self.image = nn.Linear(cells * features, hidden)
        if uses == "question + attention":
            self.w_features = nn.Parameter(torch.randn(features, attention) / features**0.5)
            self.w_hidden = nn.Parameter(torch.randn(hidden, attention) / hidden**0.5)
            self.v = nn.Parameter(torch.randn(attention) / attention**0.5)
            self.image = nn.Linear(features, hidden)
        self.classify = nn.Sequential(nn.ReLU(), nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, len(ANSWERS)))

    def forward(self, questions, grid):
        output, _ = self.question(self.embed(questions))
        last = (questions != lang.PAD).sum(1) - 1  # the <end> token: the state before any padding
        q = output[torch.arange(len(questions), device=questions.device), last]
        if self.uses == "question + attention":
            context, _ = attend_fn(grid, q, self.w_features, self.w_hidden, self.v)
            image = self.image(context)
        else:
            image = self.image(grid.flatten(1))
        if self.uses == "question only":
            image = torch.zeros_like(image)
        if self.uses == "image only":
            q = torch.zeros_like(q)
        return self.classify(torch.cat((q, image), dim=1))


VQA_MODELS = ("question only", "image only", "question + image", "question + attention")
TYPES = [t for t in lang.QUESTION_TYPES if t in test_types]


def vqa_batches(seed):
    g = torch.Generator().manual_seed(seed)

    def batch(step):
        idx = torch.randint(len(train), (S.batch,), generator=g)
        return (train_q[idx], train_grid[idx]), train_a[idx]

    return batch

vqa_results = {}
for uses in VQA_MODELS:
    for seed in range(S.seeds):
        torch.manual_seed(seed)
        model = VQA(uses).to(rt.device)
        fit(model, vqa_batches(seed), F.cross_entropy, S.vqa_steps, lr=3e-3, desc=f"VQA ({uses}, seed {seed})", progress=False)
        with torch.no_grad():
            right = (model(test_q, test_grid).argmax(1) == test_a).cpu()
        by_type = {t: right[[i for i, u in enumerate(test_types) if u == t]].float().mean().item()
                   for t in TYPES}
        vqa_results[uses, seed] = {"all": right.float().mean().item(), **by_type,
                                   "mean of types": sum(by_type.values()) / len(by_type)}
train_types = lang.questions(train.scene, world, seed=0)[2]
majority = {}  # the commonest training answer of each type, scored on the held-out questions
for t in TYPES:
    common = torch.bincount(train_a[[i for i, u in enumerate(train_types) if u == t]].cpu()).argmax()
    majority[t] = (test_a[[i for i, u in enumerate(test_types) if u == t]].cpu() == common).float().mean().item()
keys = list(vqa_results[VQA_MODELS[0], 0])
print(f"held-out VQA accuracy, mean ± std over {S.seeds} seeds")
print(f"{'questions':22s}" + f"{len(test):>15d}" + "".join(f"{test_types.count(t):>15d}" for t in TYPES) + f"{'':>15s}")
print(f"{'commonest answer':22s}{'':>15s}" + "".join(f"{majority[t]:>15.3f}" for t in TYPES)
      + f"{sum(majority.values()) / len(TYPES):>15.3f}")
print(f"{'':22s}" + "".join(f"{k:>15s}" for k in keys))
for uses in VQA_MODELS:
    print(f"{uses:22s}" + "".join(f"{mean_std([vqa_results[uses, s][k] for s in range(S.seeds)], 3):>15s}" for k in keys))
for uses in ("question + image", "question + attention"):
    model_scores = [vqa_results[uses, s]["mean of types"] for s in range(S.seeds)]
    blind = [vqa_results["question only", s]["mean of types"] for s in range(S.seeds)]
    print(f"{uses} {'beats' if min(model_scores) > max(blind) else 'does not beat'} the question-only model on "
          f"every seed (mean of types): the image adds {sum(model_scores) / S.seeds - sum(blind) / S.seeds:+.3f}")
BAR = 0.65 if rt.fast else 0.85
best = max(sum(vqa_results[u, s]["mean of types"] for s in range(S.seeds)) / S.seeds
           for u in ("question + image", "question + attention"))
print(f"bar: the better image model's mean accuracy over question types {best:.3f} ≥ {BAR}")
assert best >= BAR, "below the bar"

# %% [markdown]
# Read the first rows first: how many questions of each type there are (counts are the
# fallback for questions the grammar cannot ask of an image, so they are the commonest type,
# and the easiest), and what always giving the commonest answer of the type scores. The
# question-only model should reach about that; the image-only model cannot know what is
# asked. The "mean of types" column weighs every type equally, so the easy count questions do
# not carry the score, and the bar is set on it. The difference between the question-only row
# and the rows with the image is how much the models really look; the type columns show where
# they do and where they do not yet. One limit is built in: the attention model sees only the
# attended context, and the grid's cells carry no coordinates, so "left of" and "above" can
# reach it only through what each cell's receptive field saw.
#
# ## Takeaways
#
# - A captioner is a CNN encoder and a language-generating LSTM; the image can start the
#   state or be the first input. Teacher forcing trains every position at once on the
#   reference words.
# - Greedy decoding commits to one word at a time; beam search keeps several partial
#   sentences and needs length normalisation to avoid favouring short ones.
# - BLEU measures shared n-grams with the references, clipped and with a brevity penalty; it
#   moves little when a caption states a false colour in the references' words, where fact
#   precision drops. A known scene allows checking facts.
# - Soft attention recomputes, for every word, a weighted average of the grid's features; the
#   weights are a map of where the model looked. Its gain is judged against a decoder that
#   sees the plain average at every word, and where it looks against the other object.
# - In VQA, a question-only baseline shows how much of the accuracy comes from language
#   priors; the model earns credit only for what it adds over it.
#
# ## Further reading
# - Vinyals, Toshev, Bengio & Erhan (2015), *Show and Tell: A Neural Image Caption Generator*.
# - Karpathy & Fei-Fei (2015), *Deep Visual-Semantic Alignments for Generating Image
#   Descriptions*.
# - Xu et al. (2015), *Show, Attend and Tell: Neural Image Caption Generation with Visual
#   Attention*.
# - Papineni, Roukos, Ward & Zhu (2002), *BLEU: a Method for Automatic Evaluation of Machine
#   Translation*; Chen & Cherry (2014), *A Systematic Comparison of Smoothing Techniques for
#   Sentence-Level BLEU*.
# - Anderson, Fernando, Johnson & Gould (2016), *SPICE: Semantic Propositional Image Caption
#   Evaluation* — scoring captions by the facts they state.
# - Antol et al. (2015), *VQA: Visual Question Answering*; Goyal et al. (2017), *Making the V
#   in VQA Matter* — question-only baselines and language priors.
# - Johnson et al. (2017), *CLEVR* — a synthetic world built to test visual reasoning.
# - Vaswani et al. (2017), *Attention Is All You Need* — dot-product attention.
