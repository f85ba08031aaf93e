from otter.test_files import test_case

OK_FORMAT = False

name = "ex11_1"
points = 1

@test_case(points=None, hidden=False)
def test_pool_over_time_constant_frames(pool_over_time):
    import torch
    from visioncourse.exercises import expect_close
    clips = torch.arange(6.0).view(2, 3, 1, 1, 1).expand(2, 3, 1, 2, 2)
    mean_pixel = lambda x: x.mean((1, 2, 3))[:, None]
    expect_close('Exercise 11.1 (pool_over_time)', pool_over_time(mean_pixel, clips, 'avg'), torch.tensor([[1.0], [4.0]]), inputs="2 clips of 3 frames valued 0, 1, 2 and 3, 4, 5; mode 'avg'", hint='flatten (N, T) into one batch of N·T frames, then view the features as (N, T, D): the frames of a clip stay together')
    expect_close('Exercise 11.1 (pool_over_time)', pool_over_time(mean_pixel, clips, 'max'), torch.tensor([[2.0], [5.0]]), inputs="the same clips, mode 'max'", hint='the maximum over the time axis (dim 1 of (N, T, D))')

@test_case(points=None, hidden=False)
def test_pool_over_time_features(pool_over_time):
    import torch
    from visioncourse.exercises import expect_close
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    clips = torch.randn(2, 5, 3, 6, 6)
    with torch.no_grad():
        per_frame = torch.stack([torch.stack([cnn(clips[n, t:t + 1])[0] for t in range(5)]) for n in range(2)])
        got = pool_over_time(cnn, clips, 'avg')
    expect_close('Exercise 11.1 (pool_over_time)', got, per_frame.mean(1), atol=1e-05, inputs='a small conv net with 4 features, 2 clips of 5 frames', hint='the result is (N, D): one feature vector per clip')

