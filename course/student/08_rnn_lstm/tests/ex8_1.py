from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_1"
points = 2

@test_case(points=None, hidden=False)
def test_rnn_forward_by_hand(rnn_forward):
    import math
    import torch
    from visioncourse.exercises import expect_close
    x = torch.tensor([[[1.0], [2.0]]])
    one = torch.ones(1, 1)
    out = rnn_forward(x, torch.zeros(1, 1), one, 0.5 * one, torch.zeros(1), torch.zeros(1))
    h1 = math.tanh(1.0)
    h2 = math.tanh(2.0 + 0.5 * h1)
    expect_close('Exercise 8.1 (rnn_forward)', out[0] if isinstance(out, tuple) else out, [[[h1], [h2]]], inputs='x = [1, 2], h0 = 0, W_ih = 1, W_hh = 0.5, no bias', hint='h_t = tanh(W_ih x_t + W_hh h_{t-1} + biases); return every h_t, shape (N, T, H)')

@test_case(points=None, hidden=False)
def test_rnn_forward_biases_and_last_state(rnn_forward):
    import math
    import torch
    from visioncourse.exercises import expect_close
    x = torch.tensor([[[1.0], [0.0], [-1.0]]])
    one = torch.ones(1, 1)
    b_ih, b_hh = (torch.tensor([0.25]), torch.tensor([-0.5]))
    h = 0.3
    for value in (1.0, 0.0, -1.0):
        h = math.tanh(value + 0.25 - 0.8 * h - 0.5)
    out = rnn_forward(x, torch.full((1, 1), 0.3), one, -0.8 * one, b_ih, b_hh)
    expect_close('Exercise 8.1 (rnn_forward)', out[1] if isinstance(out, tuple) else out, [[h]], inputs='x = [1, 0, -1], h0 = 0.3, W_ih = 1, W_hh = -0.8, b_ih = 0.25, b_hh = -0.5', hint='both biases are added at every step; the second value returned is the last state')

@test_case(points=None, hidden=False)
def test_rnn_forward_matches_nn_rnn_shapes(rnn_forward):
    import torch
    from torch import nn
    from visioncourse.exercises import expect_close
    torch.manual_seed(1)
    rnn = nn.RNN(2, 3, batch_first=True)
    x, h0 = (torch.randn(2, 4, 2), torch.randn(2, 3))
    out = rnn_forward(x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    expect_close('Exercise 8.1 (rnn_forward)', out[0] if isinstance(out, tuple) else out, rnn(x, h0[None])[0].detach(), inputs='nn.RNN(2, 3) weights, x of shape (2, 4, 2)', atol=1e-05, hint='with the batch in rows, W x_t is x_t @ W.T; the result is (N, T, H)')

