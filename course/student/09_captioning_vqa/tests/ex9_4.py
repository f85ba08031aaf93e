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

