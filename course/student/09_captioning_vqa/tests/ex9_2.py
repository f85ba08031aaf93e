from otter.test_files import test_case

OK_FORMAT = False

name = "ex9_2"
points = 2

@test_case(points=None, hidden=False)
def test_bleu_clipping_and_brevity(corpus_bleu):
    import math
    from visioncourse.exercises import expect_close
    expect_close('Exercise 9.2 (corpus_bleu)', corpus_bleu(['the the the'], [['the cat']], 1), 1 / 3, inputs='candidate "the the the", reference "the cat", BLEU-1', hint="clip each n-gram's count at its largest count in one reference")
    expect_close('Exercise 9.2 (corpus_bleu)', corpus_bleu(['a b'], [['a b c d', 'a b c d e']], 1), math.exp(1 - 4 / 2), inputs='candidate "a b", references "a b c d" and "a b c d e", BLEU-1', hint='brevity penalty exp(1 - r/c) with r the closest reference length (4), c = 2')
    expect_close('Exercise 9.2 (corpus_bleu)', corpus_bleu(['a red circle'], [['a red square']], 2), math.sqrt(1 / 3), inputs='candidate "a red circle", reference "a red square", BLEU-2', hint='p_1 = 2/3, p_2 = 1/2, BP = 1: sqrt(2/3 · 1/2)')

@test_case(points=None, hidden=False)
def test_bleu_is_a_corpus_score_with_the_closest_reference(corpus_bleu):
    import math
    from visioncourse.exercises import expect_close
    got = corpus_bleu(['a b c', 'd e f g'], [['a b x'], ['d e f g']], 1)
    expect_close('Exercise 9.2 (corpus_bleu)', got, 6 / 7, inputs='"a b c" vs "a b x", "d e f g" vs itself, BLEU-1', hint='p_1 = (2 + 4) / (3 + 4); BP = 1')
    got = corpus_bleu(['a b c d'], [['a b', 'a b c d e']], 1)
    expect_close('Exercise 9.2 (corpus_bleu)', got, math.exp(1 - 5 / 4), inputs='"a b c d" vs "a b" and "a b c d e"', hint="r is the reference length closest to the candidate's (5 here), then BP = exp(1 - r/c)")
    got = corpus_bleu(['the the'], [['the cat', 'a the']], 1)
    expect_close('Exercise 9.2 (corpus_bleu)', got, 0.5, inputs='"the the" vs "the cat" and "a the"', hint="'the' appears at most once in any one reference: 1 match of 2")

