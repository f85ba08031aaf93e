from otter.test_files import test_case

OK_FORMAT = False

name = "ex12_3"
points = 1

@test_case(points=None, hidden=False)
def test_horn_schunck_first_step(horn_schunck):
    import torch
    from visioncourse import flow
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 6, 7, generator=g).unbind(0)
    a, b = (a[None], b[None])
    ix, iy, it = flow.image_gradients(a, b)
    d = 0.5 ** 2 + ix ** 2 + iy ** 2
    expect_close('Exercise 12.3 (horn_schunck)', horn_schunck(a, b, alpha=0.5, iterations=1), torch.stack((-ix * it / d, -iy * it / d), 1), atol=1e-05, inputs='random 6×7 frames, alpha 0.5, one iteration', hint='from zero flow the averages are 0; check your solution of the two equations (alpha enters squared); stack (u, v) on dim 1')

@test_case(points=None, hidden=False)
def test_horn_schunck_second_step(horn_schunck):
    import torch
    from visioncourse import flow
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 1, 6, 7, generator=g).unbind(0)
    ix, iy, it = flow.image_gradients(a, b)
    d = 0.3 ** 2 + ix ** 2 + iy ** 2
    u, v = (-ix * it / d, -iy * it / d)
    ub, vb = (flow.local_average(u), flow.local_average(v))
    r = (ix * ub + iy * vb + it) / d
    expect_close('Exercise 12.3 (horn_schunck)', horn_schunck(a, b, alpha=0.3, iterations=2), torch.stack((ub - ix * r, vb - iy * r), 1), atol=1e-05, inputs='random 6×7 frames, alpha 0.3, two iterations', hint='both new values come from the averages of the previous u and v (not the u you just updated)')

