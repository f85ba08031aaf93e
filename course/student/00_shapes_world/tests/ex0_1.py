from otter.test_files import test_case

OK_FORMAT = False

name = "ex0_1"
points = 1

@test_case(points=None, hidden=False)
def test_class_pixel_fractions_small(class_pixel_fractions):
    import torch
    from visioncourse.exercises import expect_close
    semantic = torch.tensor([[[0, 1], [1, 1]]])
    expect_close('Exercise 0.1 (class_pixel_fractions)', class_pixel_fractions(semantic, 4), [0.25, 0.75, 0.0, 0.0], inputs='one 2x2 mask [[0, 1], [1, 1]], num_classes=4', hint='classes 2 and 3 never appear but still get an entry: use minlength')

