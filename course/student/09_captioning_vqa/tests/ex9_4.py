from otter.test_files import test_case

OK_FORMAT = False

name = "ex9_4"
points = 2

@test_case(points=None, hidden=False)
def test_soft_attention_by_hand(soft_attention):
    import math
    import torch
    from visioncourse.exercises import expect_close
    features = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    hidden = torch.tensor([[1.0]])
    w_f, w_h, v = (torch.eye(2), torch.tensor([[0.5, -0.5]]), torch.tensor([1.0, 1.0]))
    out = soft_attention(features, hidden, w_f, w_h, v)
    e = [math.tanh(1.5) + math.tanh(-0.5), math.tanh(0.5) + math.tanh(1.5)]
    a = [math.exp(x) / (math.exp(e[0]) + math.exp(e[1])) for x in e]
    expect_close('Exercise 9.4 (soft_attention)', out[1] if isinstance(out, tuple) else out, [a], inputs='cells [1, 0] and [0, 2], W_f = I, h = [1], W_h = [[0.5, -0.5]], v = [1, 1]', hint='e_j = v · tanh(W_fᵀ a_j + W_hᵀ h); weights = softmax over the cells; return (context, weights)')
    expect_close('Exercise 9.4 (soft_attention)', out[0] if isinstance(out, tuple) else out, [[a[0], 2 * a[1]]], inputs='the same', hint='context = Σ_j weight_j · features_j, shape (N, D)')

@test_case(points=None, hidden=False)
def test_soft_attention_batch_of_two(soft_attention):
    import torch
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(1)
    feats, hidden = (torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, generator=g))
    wf, wh, v = (torch.randn(4, 6, generator=g), torch.randn(5, 6, generator=g), torch.randn(6, generator=g))
    out = soft_attention(feats, hidden, wf, wh, v)
    scores = torch.stack([torch.stack([torch.tanh(feats[n, j] @ wf + hidden[n] @ wh) @ v for j in range(3)]) for n in range(2)])
    expect_close('Exercise 9.4 (soft_attention)', out[1] if isinstance(out, tuple) else out, torch.softmax(scores, dim=1), atol=1e-05, inputs='N = 2 images, L = 3 cells, D = 4, H = 5', hint="each image's hidden state scores that image's cells only: (hidden @ W_h)[:, None]")

