from otter.test_files import test_case

OK_FORMAT = False

name = "ex3_3"
points = 2

@test_case(points=None, hidden=False)
def test_decode_small(decode):
    import math
    import torch
    from visioncourse.exercises import expect_close
    proposals = torch.tensor([[0.0, 0, 8, 8], [10, 10, 20, 30]])
    deltas = torch.tensor([[0.25, 0, 0, 0], [0, 0.5, math.log(2), 0]])
    expect_close('Exercise 3.3 (decode)', decode(deltas, proposals), [[2.0, 0, 10, 8], [5, 20, 25, 40]], inputs='(0,0,8,8) moved a quarter width right; (10,10,20,30) moved half a height down, twice as wide', hint='centre += d * size, size *= exp(d), then back to corners')

