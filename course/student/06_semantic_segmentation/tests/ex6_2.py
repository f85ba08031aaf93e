from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_2"
points = 3

@test_case(points=None, hidden=False)
def test_conv_transpose_small(conv_transpose2d):
    import torch
    from visioncourse.exercises import expect_close
    x = torch.tensor([[[[1.0, 2.0]]]])
    w = torch.ones(1, 1, 2, 2)
    expect_close('Exercise 6.2 (conv_transpose2d)', conv_transpose2d(x, w, stride=1), torch.tensor([[[[1.0, 3, 2], [1, 3, 2]]]]), inputs='x = [[1, 2]], a 2x2 kernel of ones, stride 1', hint='each input value stamps a 2x2 block of itself; the blocks overlap in the middle column')
    expect_close('Exercise 6.2 (conv_transpose2d)', conv_transpose2d(x, w, stride=2), torch.tensor([[[[1.0, 1, 2, 2], [1, 1, 2, 2]]]]), inputs='the same, stride 2', hint='with stride 2 the stamps move 2 pixels per input pixel and no longer overlap')
    expect_close('Exercise 6.2 (conv_transpose2d)', conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), torch.tensor([[[[1.0, 2, 2]]]]), inputs='the same, stride 2, padding 1, output_padding 1', hint='output side (H-1)*stride - 2*padding + k + output_padding; crop padding from the top/left')
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 10.0]]).view(2, 3, 1, 1)
    expect_close('Exercise 6.2 (conv_transpose2d)', conv_transpose2d(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1), weight), torch.tensor([1.0, 2.0, 20.0]).view(1, 3, 1, 1), inputs='one pixel with 2 channels [1, 2]; weight (2, 3, 1, 1) = [[1, 0, 0], [0, 1, 10]]', hint='weight is (C_in, C_out, k, k): output channel d sums in[c] * weight[c, d] over c')

