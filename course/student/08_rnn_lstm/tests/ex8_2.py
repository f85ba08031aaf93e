from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_2"
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
    expect_close('Exercise 8.2 (lstm_cell)', torch.cat(out, dim=1) if isinstance(out, tuple) else out, [[0.25 * math.tanh(c), c]], inputs='H = 1, c_prev = 2, gate biases (i, f, g, o) = (0, ln 3, 0.5, -ln 3), zero weights', hint="gates in PyTorch's order i, f, g, o; c = f*c_prev + i*g; h = o*tanh(c); return (h, c)")

