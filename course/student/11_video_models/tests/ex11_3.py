from otter.test_files import test_case

OK_FORMAT = False

name = "ex11_3"
points = 1

@test_case(points=None, hidden=False)
def test_conv2plus1d_parameter_count(conv2plus1d):
    import torch
    from visioncourse.exercises import expect_equal
    block = conv2plus1d(64, 128)
    expect_equal('Exercise 11.3 (conv2plus1d)', type(block).__name__, 'Sequential', inputs='64 -> 128 channels', hint='return nn.Sequential(spatial conv, BatchNorm3d, ReLU, temporal conv)')
    count = sum((p.numel() for p in block.parameters()))
    full = sum((p.numel() for p in torch.nn.Conv3d(64, 128, 3, bias=False).parameters()))
    expect_equal('Exercise 11.3 (conv2plus1d)', count, 221260, inputs=f'64 -> 128 channels (the full 3×3×3 conv has {full:,} weights)', hint='the spatial conv has N_in·M·9 weights, the temporal one M·N_out·3; no biases')
    expect_equal('Exercise 11.3 (conv2plus1d)', conv2plus1d(16, 32)[0].out_channels, 57, inputs='16 -> 32 channels: M·(16·9 + 3·32) must not exceed 16·32·27 = 13,824', hint='the largest whole M: round down, never up')

@test_case(points=None, hidden=False)
def test_conv2plus1d_loads_torchvision(conv2plus1d):
    import torch
    from torchvision.models.video.resnet import Conv2Plus1D
    from visioncourse import video
    from visioncourse.exercises import expect_close, expect_equal, feedback
    torch.manual_seed(0)
    ours = conv2plus1d(6, 10)
    expect_equal('Exercise 11.3 (conv2plus1d)', type(ours).__name__, 'Sequential', inputs='6 -> 10 channels', hint='return nn.Sequential(spatial conv, BatchNorm3d, ReLU, temporal conv)')
    theirs = Conv2Plus1D(6, 10, video.conv2plus1d_mid_channels(6, 10))
    try:
        ours.load_state_dict(theirs.state_dict())
    except (RuntimeError, AttributeError) as err:
        raise AssertionError(feedback('Exercise 11.3 (conv2plus1d)', "torchvision's Conv2Plus1D weights do not fit your block", inputs='6 -> 10 channels', got=str(err)[:300], hint='four layers: spatial conv, BatchNorm3d, ReLU, temporal conv; no biases')) from None
    x = torch.randn(2, 6, 5, 7, 7)
    (ours.eval(), theirs.eval())
    expect_close('Exercise 11.3 (conv2plus1d)', ours(x), theirs(x), atol=1e-05, inputs="x (2, 6, 5, 7, 7), torchvision's weights", hint='padding (0, 1, 1) for the spatial conv and (1, 0, 0) for the temporal one keep T, H and W')

