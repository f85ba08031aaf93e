"""Grounded language for the shapes world: several reference captions per image, questions
with their answers, a closed vocabulary, and a parser that checks a sentence against the scene.

Everything a sentence can say comes from one small grammar over the scene's facts:
objects (size, colour, shape), how many there are, and where the first object is relative to
the second (left of / right of / above / below). The references of one image are paraphrases
of the same facts: objects named in another order, the relation said from the other side,
the count spelled out, the size left out. Because the grammar is known, ``parse`` can read a
generated caption back into facts and ``fact_scores`` can say which of them are true.

Which paraphrases and which questions an image gets is drawn with tensors (seeded, on the
scene's device); only joining words into strings is a loop over images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from .shapes import (
    COLOR_NAMES,
    SHAPE_NAMES,
    SIZE_NAMES,
    Scene,
    ShapesConfig,
    _size_words,
    relation_words,
)

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
RELATIONS = ("left of", "right of", "above", "below")
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
SPECIALS = ("<pad>", "<start>", "<end>", "<unk>")
PAD, START, END, UNK = range(4)
FUNCTION_WORDS = ("a", "an", "the", "and", "there", "is", "are", "shape", "shapes", "object", "objects",
                  "what", "color", "how", "many", "of", "?", ":", "yes", "no", "in", "image", "picture")  # fmt: skip


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[?:]", text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Word <-> id for the grammar's closed vocabulary, ids 0..3 being <pad> <start> <end> <unk>."""

    words: tuple[str, ...]

    @classmethod
    def shapes_world(cls) -> Vocabulary:
        """Every word the grammar can produce, in a fixed order (the same vocabulary for every
        config, so models and data agree)."""
        relation_words_ = tuple(w for r in RELATIONS for w in r.split())
        words = (
            *FUNCTION_WORDS,
            *SIZE_NAMES,
            *COLOR_NAMES,
            *SHAPE_NAMES,
            *NUMBER_WORDS,
            *relation_words_,
        )
        unique = tuple(dict.fromkeys(words))  # keeps the first occurrence's order
        return cls(SPECIALS + unique)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, sentences: list[str], max_len: int | None = None) -> Tensor:
        """Tensor[n, L] long: <start> words <end>, padded with <pad> (0) to the longest (or
        cut to ``max_len`` tokens, keeping <end> last)."""
        index = self.index
        rows = [[START, *(index.get(w, UNK) for w in _words(s)), END] for s in sentences]
        length = max_len or max((len(r) for r in rows), default=2)
        out = torch.full((len(rows), length), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            row = row[: length - 1] + [END] if len(row) > length else row
            out[i, : len(row)] = torch.tensor(row)
        return out

    def decode(self, ids: Tensor | list[int]) -> str:
        """The words of one sequence of ids, stopping at <end> and skipping <start>/<pad>."""
        out = []
        for i in ids.tolist() if isinstance(ids, Tensor) else ids:
            if i == END:
                break
            if i not in (PAD, START):
                out.append(self.words[i])
        return " ".join(out)


def _phrase(size: int, color: int, shape: int, with_size: bool = True) -> str:
    words = ([SIZE_NAMES[size]] if with_size else []) + [COLOR_NAMES[color], SHAPE_NAMES[shape]]
    return "a " + " ".join(words)


FORMS = ("relation", "inverse", "count", "there is", "no size")


def _form(name: str, objs: list[tuple[int, int, int]], relation: str) -> str:
    """One paraphrase (see ``reference_captions``) of objects (size, colour, shape)."""
    full = [_phrase(*o) for o in objs]
    short = [_phrase(*o, with_size=False) for o in objs]
    if name in ("relation", "no size") and len(objs) > 1:
        p = full if name == "relation" else short
        return " and ".join([f"{p[0]} {relation} {p[1]}", *p[2:]])
    if name == "inverse" and len(objs) > 1:
        return " and ".join([f"{full[1]} {OPPOSITE[relation]} {full[0]}", *full[2:]])
    if name == "count":
        noun = "shape" if len(objs) == 1 else "shapes"
        return f"{NUMBER_WORDS[len(objs)]} {noun} : {' and '.join(full)}"
    if name == "there is":
        return f"there is {' and '.join(full)}"
    return " and ".join(short if name == "no size" else full)  # one object: no relation to say


def reference_captions(
    scene: Scene, config: ShapesConfig, per_image: int = 5, seed: int = 0
) -> list[list[str]]:
    """``per_image`` paraphrases of each image's facts (the first is ``captions``' sentence).

    The forms: "a small red circle left of a large blue square [and ...]" (the relation
    between the first two objects), the same relation from the other side ("a large blue
    square right of a small red circle"), the count ("two shapes : ..."), "there is ... and
    ...", and the relation without sizes. The first form always comes first; the others are
    drawn without repeats where there are enough of them.
    """
    n = scene.present.shape[0]
    g = torch.Generator(device=scene.center.device).manual_seed(seed)
    order = torch.rand((n, len(FORMS) - 1), generator=g, device=scene.center.device).argsort(1) + 1
    count = scene.present.sum(1).tolist()
    sizes, colors, shapes = (
        _size_words(scene, config).tolist(),
        scene.color.tolist(),
        scene.shape.tolist(),
    )
    relation = relation_words(scene) if scene.present.shape[1] > 1 else ["left of"] * n
    out = []
    for i in range(n):
        objs = [(sizes[i][k], colors[i][k], shapes[i][k]) for k in range(count[i])]
        chosen = [FORMS[0], *(FORMS[j] for j in order[i].tolist())]
        texts = list(dict.fromkeys(_form(name, objs, relation[i]) for name in chosen))
        texts += texts[:1] * (per_image - len(texts))  # one object: fewer distinct forms
        out.append(texts[:per_image])
    return out


QUESTION_TYPES = ("color", "shape", "count", "exist", "relation")


def questions(
    scene: Scene, config: ShapesConfig, seed: int = 0
) -> tuple[list[str], list[str], list[str]]:
    """One question per image, with its one-word answer and its type.

    Types (drawn uniformly, then replaced by "count" where the drawn one is not askable):
    ``color`` ("what color is the circle ?", asked of a shape seen once), ``shape`` ("what
    shape is the red object ?", of a colour seen once), ``count`` ("how many shapes are
    there ?"), ``exist`` ("is there a blue square ?", yes or no with equal chance) and
    ``relation`` ("is the circle left of the square ?", of the first two objects when their
    shapes differ; yes or no with equal chance).

    Returns:
        (questions, answers, types), each a list of n strings.
    """
    n, device = scene.present.shape[0], scene.center.device
    g = torch.Generator(device=device).manual_seed(seed)
    kind = torch.randint(len(QUESTION_TYPES), (n,), generator=g, device=device).tolist()
    coin = torch.rand((n, 3), generator=g, device=device).tolist()
    count = scene.present.sum(1).tolist()
    colors, shapes = scene.color.tolist(), scene.shape.tolist()
    relation = relation_words(scene) if scene.present.shape[1] > 1 else ["left of"] * n
    qs, answers, types = [], [], []
    for i in range(n):
        objs = [(colors[i][k], shapes[i][k]) for k in range(count[i])]
        q = None
        kind_i = QUESTION_TYPES[kind[i]]
        if kind_i == "color":
            once = [s for c, s in objs if sum(s == t for _, t in objs) == 1]
            if once:
                shape = once[int(coin[i][0] * len(once))]
                q, a = (
                    f"what color is the {SHAPE_NAMES[shape]} ?",
                    COLOR_NAMES[next(c for c, s in objs if s == shape)],
                )
        elif kind_i == "shape":
            once = [c for c, s in objs if sum(c == d for d, _ in objs) == 1]
            if once:
                color = once[int(coin[i][0] * len(once))]
                q, a = (
                    f"what shape is the {COLOR_NAMES[color]} object ?",
                    SHAPE_NAMES[next(s for c, s in objs if c == color)],
                )
        elif kind_i == "exist":
            present = {(c, s) for c, s in objs}
            absent = [
                (c, s)
                for c in range(config.num_colors)
                for s in range(config.num_shapes)
                if (c, s) not in present
            ]
            ask_present = coin[i][1] < 0.5 or not absent
            pool = sorted(present) if ask_present else absent
            c, s = pool[int(coin[i][2] * len(pool))]
            q, a = f"is there a {COLOR_NAMES[c]} {SHAPE_NAMES[s]} ?", "yes" if ask_present else "no"
        elif kind_i == "relation" and len(objs) > 1 and objs[0][1] != objs[1][1]:
            truth = relation[i]
            asked = (
                truth
                if coin[i][1] < 0.5
                else RELATIONS[(RELATIONS.index(truth) + 1 + int(coin[i][2] * 3)) % 4]
            )
            q = f"is the {SHAPE_NAMES[objs[0][1]]} {asked} the {SHAPE_NAMES[objs[1][1]]} ?"
            a = "yes" if asked == truth else "no"
        if q is None:
            kind_i = "count"
            q, a = "how many shapes are there ?", NUMBER_WORDS[len(objs)]
        qs.append(q)
        answers.append(a)
        types.append(kind_i)
    return qs, answers, types


# ----------------------------------------------------------------------------- checking facts

_OBJECT = re.compile(
    r"(?:(small|large) )?(" + "|".join(COLOR_NAMES) + r") (" + "|".join(SHAPE_NAMES) + r")"
)
_RELATION = re.compile(_OBJECT.pattern + r" (" + "|".join(RELATIONS) + r") a " + _OBJECT.pattern)


@dataclass(frozen=True)
class Facts:
    """What a sentence states: objects as (size or None, colour, shape), relations as
    (object, relation, object) with sizes dropped, and a count (or None)."""

    objects: tuple[tuple[str | None, str, str], ...]
    relations: tuple[tuple[tuple[str, str], str, tuple[str, str]], ...]
    count: int | None


def parse(sentence: str) -> Facts:
    """Read the grammar's facts back from a sentence; words it cannot place are ignored."""
    text = " ".join(_words(sentence))
    objects = tuple((m[0] or None, m[1], m[2]) for m in _OBJECT.findall(text))
    relations = tuple(((m[1], m[2]), m[3], (m[5], m[6])) for m in _RELATION.findall(text))
    first = text.split(" ", 1)[0]
    count = NUMBER_WORDS.index(first) if first in NUMBER_WORDS and " shape" in text else None
    return Facts(objects, relations, count)


def scene_facts(
    scene: Scene, config: ShapesConfig, i: int
) -> tuple[list[tuple[str, str, str]], tuple, int]:
    """Image ``i``'s true objects (size, colour, shape), its one stated relation, its count."""
    count = int(scene.present[i].sum())
    sizes = _size_words(scene, config)[i].tolist()
    objs = [(SIZE_NAMES[sizes[k]], COLOR_NAMES[int(scene.color[i, k])], SHAPE_NAMES[int(scene.shape[i, k])])
            for k in range(count)]  # fmt: skip
    relation = None
    if count > 1:
        word = relation_words(scene)[i]
        relation = ((objs[0][1], objs[0][2]), word, (objs[1][1], objs[1][2]))
    return objs, relation, count


def fact_scores(sentences: list[str], scene: Scene, config: ShapesConfig) -> dict[str, float]:
    """Fact precision and recall of one generated sentence per image.

    Precision: the share of stated facts that are true. An object is true when an object of
    that colour and shape (and that size, if stated) is in the image and not already claimed
    by an earlier mention, so naming one square twice is one true and one false fact. A
    relation is true when it is the image's relation between its first two objects (the only
    one the grammar states), said either way round; a count when it equals the number of
    objects. Recall: the share of the image's objects that the sentence names (colour and
    shape). Both are pooled over all images.
    """
    stated = true = named = total = 0
    for i, sentence in enumerate(sentences):
        facts = parse(sentence)
        objs, relation, count = scene_facts(scene, config, i)
        colour_shape = [(c, s) for _, c, s in objs]
        unclaimed = list(objs)
        for size, c, s in facts.objects:
            stated += 1
            match = next((o for o in unclaimed if o[1:] == (c, s) and size in (None, o[0])), None)
            if match is not None:
                unclaimed.remove(match)
                true += 1
        for a, word, b in facts.relations:
            stated += 1
            true += relation is not None and (
                (a, word, b) == relation or (b, OPPOSITE[word], a) == relation
            )
        if facts.count is not None:
            stated += 1
            true += facts.count == count
        remaining = list(colour_shape)
        for _, c, s in facts.objects:
            if (c, s) in remaining:
                remaining.remove((c, s))
                named += 1
        total += len(colour_shape)
    return {
        "precision": true / stated if stated else 0.0,
        "recall": named / total if total else 0.0,
    }
