from otter.test_files import test_case

OK_FORMAT = False

name = "ex1_2"
points = 2

@test_case(points=None, hidden=False)
def test_iou_pair_examples(iou_pair):
    import torch
    from visioncourse.exercises import expect_close
    cases = [((0, 0, 2, 2), (1, 1, 3, 3), 1 / 7, 'overlap 1, union 4 + 4 - 1 = 7'), ((0, 0, 2, 2), (0, 0, 2, 2), 1.0, 'a box with itself'), ((0, 0, 1, 1), (1, 0, 2, 1), 0.0, 'touching boxes share no area'), ((0, 0, 4, 4), (1, 1, 2, 2), 1 / 16, 'a box inside another')]
    for a, b, want, why in cases:
        expect_close('Exercise 1.2 (iou_pair)', iou_pair(torch.tensor(a, dtype=torch.float), torch.tensor(b, dtype=torch.float)), want, inputs=f'a={a}, b={b}', hint=why)

