from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_3"
points = 2

@test_case(points=None, hidden=False)
def test_lstm_cell_gates_by_hand(lstm_cell):
    import math
    import torch
    from visioncourse.exercises import expect_close
    bias = torch.tensor([0.0, math.log(3.0), 0.5, -math.log(3.0)])
    zero_w = torch.zeros(4, 1)
    out = lstm_cell(torch.zeros(1, 1), (torch.zeros(1, 1), torch.full((1, 1), 2.0)), zero_w, zero_w, bias, torch.zeros(4))
    c = 0.75 * 2.0 + 0.5 * math.tanh(0.5)
    expect_close('Exercise 8.3 (lstm_cell)', torch.cat(out, dim=1) if isinstance(out, tuple) else out, [[0.25 * math.tanh(c), c]], inputs='H = 1, c_prev = 2, gate biases (i, f, g, o) = (0, ln 3, 0.5, -ln 3), zero weights', hint="gates in PyTorch's order i, f, g, o; c = f*c_prev + i*g; h = o*tanh(c); return (h, c)")

@test_case(points=None, hidden=False)
def test_lstm_cell_matches_nn_lstmcell_shapes(lstm_cell):
    import torch
    from torch import nn
    from visioncourse.exercises import expect_close
    torch.manual_seed(2)
    cell = nn.LSTMCell(3, 2)
    x, h, c = (torch.randn(2, 3), torch.randn(2, 2), torch.randn(2, 2))
    out = lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    want = torch.cat(cell(x, (h, c)), dim=1).detach()
    expect_close('Exercise 8.3 (lstm_cell)', torch.cat(out, dim=1) if isinstance(out, tuple) else out, want, inputs='nn.LSTMCell(3, 2) weights, non-zero h and c, a batch of 2', atol=1e-05, hint='both the input and the recurrent term, both biases, x @ W.T; return (h, c)')

