from otter.test_files import test_case

OK_FORMAT = False

name = "ex5_2"
points = 3

@test_case(points=None, hidden=False)
def test_yolo_loss_terms_small(yolo_loss_terms):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(1, 2, 2, 6)
    target[0, 0, 0] = torch.tensor([1.0, 0.5, 0.5, 0.5, 0.5, 1.0])
    pred = torch.zeros(1, 2, 2, 11)
    pred[0, 0, 0] = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.1, 0.1, 0.5, 0.8])
    terms = yolo_loss_terms(pred, target, 2)
    got = torch.tensor([float(terms[k]) for k in ('xy', 'wh', 'obj', 'noobj', 'class')])
    expect_close('Exercise 5.2 (yolo_loss_terms)', got, torch.tensor([0.0, 0.0, 0.25, 0.125, 0.04]), inputs='xy, wh, obj, noobj, class for one object, box 0 exact, confidences 0.5', hint='obj: (0.5 - IoU 1)^2; noobj: 0.5 * 0.5^2 for box 1 only; class: (0.8 - 1)^2')

