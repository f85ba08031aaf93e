from otter.test_files import test_case

OK_FORMAT = False

name = "ex11_5"
points = 1

@test_case(points=None, hidden=False)
def test_inflate_static_clip(inflate_conv2d):
    import torch
    from visioncourse import video
    from visioncourse.exercises import expect_close, expect_equal
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    frame = torch.randn(2, 3, 8, 8)
    static = frame[:, :, None].expand(2, 3, 6, 8, 8)
    inflated = inflate_conv2d(conv, 3)
    expect_equal('Exercise 11.5 (inflate_conv2d)', type(inflated).__name__, 'Conv3d', inputs='a 3×3 conv, time 3', hint='return the new nn.Conv3d')
    with torch.no_grad():
        got = inflated(video.pad_time(static, 1))
        want = conv(frame)[:, :, None].expand(2, 5, 6, 8, 8)
    expect_close('Exercise 11.5 (inflate_conv2d)', got, want, atol=1e-05, inputs='a 3×3 conv with bias, inflated to 3×3×3, on 6 identical frames padded with pad_time(x, 1)', hint='repeat the 2D kernel along a new time axis and divide by time (the sum over the taps must equal the 2D kernel); padding (0, p, p)')

@test_case(points=None, hidden=False)
def test_inflate_kernel(inflate_conv2d):
    import torch
    from visioncourse.exercises import expect_close, expect_equal
    conv = torch.nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(6.0)
    inflated = inflate_conv2d(conv, 3)
    expect_equal('Exercise 11.5 (inflate_conv2d)', type(inflated).__name__, 'Conv3d', inputs='a 1×1 conv, time 3', hint='return the new nn.Conv3d')
    expect_equal('Exercise 11.5 (inflate_conv2d)', tuple(inflated.weight.shape), (1, 1, 3, 1, 1), inputs='a 1×1 conv of weight 6, time 3', hint='weight shape (C_out, C_in, time, kH, kW)')
    expect_close('Exercise 11.5 (inflate_conv2d)', inflated.weight.flatten(), torch.tensor([2.0, 2.0, 2.0]), inputs='a 1×1 conv of weight 6, time 3', hint='each of the 3 taps gets 6 / 3')
    expect_equal('Exercise 11.5 (inflate_conv2d)', inflated.bias is None, True, inputs='a conv without bias', hint='a 2D layer without bias gives a 3D layer without bias')

