from otter.test_files import test_case

OK_FORMAT = False

name = "ex2_2"
points = 3

@test_case(points=None, hidden=False)
def test_fc_to_conv_small(fc_to_conv):
    import torch
    import torch.nn as nn
    from visioncourse.exercises import expect_close, expect_equal
    torch.manual_seed(0)
    linear = nn.Linear(2 * 3 * 3, 4)
    conv = fc_to_conv(linear, 2, 3)
    expect_equal('Exercise 2.2 (fc_to_conv)', tuple(conv.weight.shape) if isinstance(conv, nn.Conv2d) else conv, (4, 2, 3, 3), inputs='nn.Linear(18, 4), in_channels=2, kernel_size=3', hint='return an nn.Conv2d(in_channels, linear.out_features, kernel_size)')
    x = torch.randn(5, 2, 3, 3)
    with torch.no_grad():
        expect_close('Exercise 2.2 (fc_to_conv)', conv(x).flatten(1), linear(x.flatten(1)), inputs='5 random (2, 3, 3) inputs', hint='reshape linear.weight to (out, in_channels, k, k) and copy the bias')

