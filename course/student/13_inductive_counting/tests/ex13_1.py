from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_1"
points = 1

@test_case(points=None, hidden=False)
def test_sequence_targets_by_hand(sequence_targets):
    import torch
    from visioncourse.exercises import expect_equal
    cells = torch.tensor([[9, 2, 16, 16]])
    inputs, targets = sequence_targets(cells, torch.tensor([2]), 16, 17)
    name, given = ('Exercise 13.1 (sequence_targets)', 'cells [9, 2, 16, 16] (stop = 16, start = 17), 2 objects')
    expect_equal(name, targets.tolist(), [[2, 9, 16, -100, -100]], inputs=given, hint='reading order is increasing cell number; then stop at position counts; then -100 (ignored), not 0')
    expect_equal(name, inputs.tolist(), [[17, 2, 9, 16, 16]], inputs=given, hint='inputs are the targets shifted right by one, with start in front: start, 2, 9, stop, stop')

@test_case(points=None, hidden=False)
def test_sequence_targets_empty_and_full(sequence_targets):
    import torch
    from visioncourse.exercises import expect_equal
    cells = torch.tensor([[4, 4, 4], [7, 1, 3]])
    inputs, targets = sequence_targets(cells, torch.tensor([0, 3]), 4, 5)
    name = 'Exercise 13.1 (sequence_targets)'
    given = 'a scene with no object, and a full one with cells [7, 1, 3] (stop = 4, start = 5)'
    expect_equal(name, targets.tolist(), [[4, -100, -100, -100], [1, 3, 7, 4]], inputs=given, hint="an empty scene's first target is stop; a full scene's stop goes in the extra last position")
    expect_equal(name, inputs.tolist(), [[5, 4, 4, 4], [5, 1, 3, 7]], inputs=given, hint='start first, then the K sorted cells')

