"""visioncourse.flow against the exact flow of the moving world, scikit-image, OpenCV, kornia
and torchvision."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visioncourse import flow
from visioncourse.data.motion import MotionConfig, generate_clips


def shifted_pair(dx: float, dy: float, size: int = 48, seed: int = 0):
    """A smooth random texture and the same texture moved by (dx, dy), by bilinear sampling."""
    g = torch.Generator().manual_seed(seed)
    texture = F.interpolate(torch.rand(1, 1, size // 4, size // 4, generator=g), size=(size, size),
                            mode="bicubic", align_corners=False)[:, 0]  # fmt: skip
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")  # fmt: skip
    grid = torch.stack(((xs - dx) / (size - 1) * 2 - 1, (ys - dy) / (size - 1) * 2 - 1), -1)[None]
    moved = F.grid_sample(texture[:, None], grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]  # fmt: skip
    return texture, moved


def test_gradients_of_a_ramp():
    x = torch.arange(6.0).repeat(5, 1)[None]  # brightness = x
    ix, iy, it = flow.image_gradients(x, x + 1)
    assert (
        torch.allclose(ix[:, :, 1:-1], torch.ones(1, 5, 4))
        and torch.all(iy == 0)
        and torch.all(it == 1)
    )


def test_lucas_kanade_and_horn_schunck_recover_a_small_shift():
    a, b = shifted_pair(0.4, -0.3)
    inner = (slice(None), slice(None), slice(10, -10), slice(10, -10))
    for estimate in (
        flow.lucas_kanade(a, b, window=9),
        flow.horn_schunck(a, b, alpha=0.05, iterations=300),
    ):
        mean = estimate[inner].mean((0, 2, 3))
        assert torch.allclose(mean, torch.tensor([0.4, -0.3]), atol=0.08), mean


def test_lucas_kanade_equals_a_per_pixel_least_squares_solve():
    a, b = shifted_pair(0.7, 0.2, size=24, seed=1)
    got = flow.lucas_kanade(a, b, window=5, eps=0.0)
    ix, iy, it = flow.image_gradients(a, b)
    pad = lambda t: F.pad(t, (2, 2, 2, 2))  # noqa: E731
    ix, iy, it = pad(ix)[0], pad(iy)[0], pad(it)[0]
    for y, x in [(5, 7), (12, 12), (18, 3)]:
        window = (slice(y, y + 5), slice(x, x + 5))
        A = torch.stack((ix[window].flatten(), iy[window].flatten()), 1).double()
        sol = torch.linalg.lstsq(A, -it[window].flatten().double()[:, None]).solution[:, 0]
        torch.testing.assert_close(got[0, :, y, x].double(), sol, atol=1e-3, rtol=1e-3)


def test_horn_schunck_is_the_jacobi_iteration_of_its_energy():
    a, b = shifted_pair(0.5, 0.5, size=16, seed=2)
    one = flow.horn_schunck(a, b, alpha=0.3, iterations=1)
    ix, iy, it = flow.image_gradients(a, b)
    want_u = -ix * it / (0.09 + ix**2 + iy**2)  # from zero flow, the averages are 0
    torch.testing.assert_close(one[:, 0], want_u)
    assert flow.HS_KERNEL.sum().item() == pytest.approx(1.0)


def test_skimage_returns_rows_then_columns():
    skimage = pytest.importorskip("skimage.registration")
    a, b = shifted_pair(1.0, 0.5, seed=3)
    v, u = skimage.optical_flow_ilk(a[0].numpy(), b[0].numpy(), radius=5)
    assert abs(u[10:-10, 10:-10].mean() - 1.0) < 0.1 and abs(v[10:-10, 10:-10].mean() - 0.5) < 0.1


def test_opencv_farneback_is_x_then_y():
    cv2 = pytest.importorskip("cv2")
    a, b = shifted_pair(1.0, 0.5, seed=3)
    to8 = lambda t: (t[0].numpy() * 255).astype(np.uint8)  # noqa: E731
    f = cv2.calcOpticalFlowFarneback(to8(a), to8(b), None, 0.5, 2, 9, 5, 5, 1.1, 0)
    assert (
        abs(f[10:-10, 10:-10, 0].mean() - 1.0) < 0.15
        and abs(f[10:-10, 10:-10, 1].mean() - 0.5) < 0.15
    )


def test_endpoint_error_equals_kornia_and_masks():
    kornia = pytest.importorskip("kornia")
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 2, 5, 6, generator=g).unbind(0)
    want = kornia.metrics.aepe(pred.permute(0, 2, 3, 1), target.permute(0, 2, 3, 1))
    torch.testing.assert_close(flow.endpoint_error(pred, target), want)
    mask = torch.zeros(3, 5, 6, dtype=torch.bool)
    mask[1, 2, 3] = True
    torch.testing.assert_close(
        flow.endpoint_error(pred, target, mask), (pred - target)[1, :, 2, 3].norm()
    )


def test_multiscale_epe_sums_pixels_and_averages_the_target_down():
    target = torch.zeros(2, 2, 8, 8)
    target[:, 0, :4, :4] = 4.0  # one quarter moves 4 px right: the 2x2 map sees 4 in one cell
    preds = [torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 2, 2)]
    loss = flow.multiscale_epe(preds, target, [0.5, 0.25])
    # 4x4: 4 cells of 4 px each (sum 16); 2x2: one cell of 4 px
    assert loss.item() == pytest.approx(0.5 * 16 + 0.25 * 4)


def test_colour_wheel_and_flow_image_equal_torchvision():
    from torchvision.utils import _make_colorwheel, flow_to_image

    assert torch.equal(flow.make_colorwheel(), _make_colorwheel())
    g = torch.Generator().manual_seed(0)
    f = torch.randn(3, 2, 9, 11, generator=g) * 3
    assert torch.equal(flow.flow_to_image(f), flow_to_image(f))
    assert torch.equal(flow.flow_to_image(f[0]), flow_to_image(f[0]))


def test_the_moving_world_flow_is_what_lucas_kanade_sees_on_a_pure_pan():
    # a still scene under a camera pan of one pixel: the exact flow is the pan everywhere
    clips = generate_clips(4, MotionConfig(frames=2, camera=1, distractors=0, noise=0.0), seed=5)
    exact = clips.flow(0)
    assert exact.shape == (4, 2, 32, 32)
    background = clips.visible_slot(0) == 0
    pan = clips.camera.float()
    assert torch.equal(
        exact.permute(0, 2, 3, 1)[background], pan[:, None, None].expand(4, 32, 32, 2)[background]
    )
