from otter.test_files import test_case

OK_FORMAT = False

name = "ex7_2"
points = 2

@test_case(points=None, hidden=False)
def test_mask_targets_small(mask_targets):
    import torch
    from visioncourse.exercises import expect_close
    gt = torch.zeros(2, 8, 8, dtype=torch.uint8)
    gt[0] = 1
    proposals = torch.tensor([[1.0, 1.0, 5.0, 7.0], [2.0, 0.0, 8.0, 4.0]])
    expect_close('Exercise 7.2 (mask_targets)', mask_targets(gt, proposals, torch.tensor([1, 0]), 2), torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]), inputs='masks: 0 all ones, 1 all zeros; proposal 0 matched to object 1, proposal 1 to object 0; size 2', hint='proposal p must read mask matched_idxs[p]: put that index in the first column of the (P, 5) boxes')

