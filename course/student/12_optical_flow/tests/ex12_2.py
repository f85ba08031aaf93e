from otter.test_files import test_case

OK_FORMAT = False

name = "ex12_2"
points = 2

@test_case(points=None, hidden=False)
def test_lucas_kanade_one_window_by_least_squares(lucas_kanade):
    import torch
    from visioncourse import flow
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 9, 9, generator=g)
    b = torch.rand(1, 9, 9, generator=g)
    ix, iy, it = flow.image_gradients(a, b)
    A = torch.stack((ix[0, 2:7, 2:7].flatten(), iy[0, 2:7, 2:7].flatten()), 1).double()
    want = torch.linalg.lstsq(A, -it[0, 2:7, 2:7].flatten().double()[:, None]).solution[:, 0]
    got = lucas_kanade(a, b, window=5, eps=0.0)
    expect_close('Exercise 12.2 (lucas_kanade)', None if got is None else got[0, :, 4, 4], want.float(), atol=0.0001, inputs='two random 9×9 frames, window 5, eps 0, the flow at the centre pixel', hint='sum the products over the window (not one pixel); (u, v) solves [[ΣIx², ΣIxIy], [ΣIxIy, ΣIy²]] (u, v) = -(ΣIxIt, ΣIyIt)')

@test_case(points=None, hidden=False)
def test_lucas_kanade_shift_and_flat(lucas_kanade):
    import torch
    from visioncourse.exercises import expect_close
    x = torch.arange(16.0)
    a = (torch.sin(0.5 * x[None, :]) + torch.cos(0.4 * x[:, None]))[None]
    b = (torch.sin(0.5 * (x[None, :] - 0.3)) + torch.cos(0.4 * (x[:, None] + 0.2)))[None]
    got = lucas_kanade(a, b, window=5)
    expect_close('Exercise 12.2 (lucas_kanade)', None if got is None else got[0, :, 8, 8], torch.tensor([0.3, -0.2]), atol=0.03, inputs='a sine texture moved by (dx, dy) = (0.3, -0.2), window 5, the centre pixel', hint="u is the x component, v the y component; check the signs of Cramer's rule")
    flat = torch.full((1, 8, 8), 0.5)
    expect_close('Exercise 12.2 (lucas_kanade)', lucas_kanade(flat, flat), torch.zeros(1, 2, 8, 8), inputs='two identical flat frames', hint='eps keeps the division finite: no gradient, no flow')

