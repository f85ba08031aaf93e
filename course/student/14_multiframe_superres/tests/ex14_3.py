from otter.test_files import test_case

OK_FORMAT = False

name = "ex14_3"
points = 1

@test_case(points=None, hidden=False)
def test_psnr_by_hand(psnr):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(1, 1, 2, 2)
    pred = torch.full((1, 1, 2, 2), 0.1)
    expect_close('Exercise 14.3 (psnr)', psnr(pred, target), 20.0, atol=0.0001, inputs='every pixel off by 0.1, data_range 1', hint='10 · log10(1 / 0.01) = 20 dB: log base 10, squared range over the MSE')
    expect_close('Exercise 14.3 (psnr)', psnr(pred * 255, target, data_range=255.0), 20.0, atol=0.0001, inputs='the same in 0..255, data_range 255', hint='use data_range², not 1')

@test_case(points=None, hidden=False)
def test_psnr_one_mse_over_the_batch(psnr):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(2, 1, 1, 2)
    pred = torch.tensor([[[[0.1, 0.1]]], [[[0.3, 0.3]]]])
    expect_close('Exercise 14.3 (psnr)', psnr(pred, target), 10 * torch.log10(torch.tensor(1 / 0.05)), atol=0.0001, inputs='two images with MSE 0.01 and 0.09', hint='one MSE over every element (0.05), not the mean of two PSNRs')

