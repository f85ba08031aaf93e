from otter.test_files import test_case

OK_FORMAT = False

name = "ex3_5"
points = 3

@test_case(points=None, hidden=False)
def test_voc_ap_by_hand(voc_ap):
    import torch
    from visioncourse.exercises import expect_close
    expect_close('Exercise 3.5 (voc_ap)', voc_ap(torch.tensor([1.0, 0.5, 2 / 3]), torch.tensor([1 / 3, 1 / 3, 2 / 3])), 1 / 3 + 2 / 9, inputs='precision [1, .5, .667], recall [.333, .333, .667]', hint='envelope: 1 up to recall 1/3, then 2/3 up to 2/3, then 0: 1/3 * 1 + 1/3 * 2/3')
    expect_close('Exercise 3.5 (voc_ap)', voc_ap(torch.tensor([1.0, 0.5, 2 / 3, 0.75]), torch.tensor([1 / 3, 1 / 3, 2 / 3, 1.0])), (1 + 0.75 + 0.75) / 3, inputs='precision [1, .5, .667, .75], recall [.333, .333, .667, 1]', hint='make precision non-increasing from the right (the envelope) before summing: without it you get 0.806')

