"""visioncourse.sequence against torch.nn, weight for weight."""

import pytest
import torch
from torch import nn

from visioncourse import sequence


@pytest.mark.parametrize("n, t, d, h", [(1, 1, 1, 1), (3, 7, 5, 4), (2, 12, 3, 16)])
def test_rnn_forward_equals_nn_rnn(n, t, d, h):
    torch.manual_seed(n * t)
    rnn = nn.RNN(d, h, batch_first=True)
    x, h0 = torch.randn(n, t, d), torch.randn(n, h)
    want_out, want_h = rnn(x, h0[None])
    got_out, got_h = sequence.rnn_forward(x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0,
                                          rnn.bias_ih_l0, rnn.bias_hh_l0)  # fmt: skip
    torch.testing.assert_close(got_out, want_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_h, want_h[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("n, t, d, h", [(1, 1, 1, 1), (3, 7, 5, 4), (2, 12, 3, 16)])
def test_lstm_cell_and_forward_equal_nn_lstm(n, t, d, h):
    torch.manual_seed(n + t)
    cell, lstm = nn.LSTMCell(d, h), nn.LSTM(d, h, batch_first=True)
    x, h0, c0 = torch.randn(n, t, d), torch.randn(n, h), torch.randn(n, h)
    weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for got, want in zip(sequence.lstm_cell(x[:, 0], (h0, c0), *weights), cell(x[:, 0], (h0, c0))):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    weights = (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    got_out, (got_h, got_c) = sequence.lstm_forward(x, (h0, c0), *weights)
    want_out, (want_h, want_c) = lstm(x, (h0[None], c0[None]))
    torch.testing.assert_close(got_out, want_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close((got_h, got_c), (want_h[0], want_c[0]), atol=1e-6, rtol=1e-5)


def test_lstm_gate_order_is_i_f_g_o():
    """Open only the forget gate's bias: the cell keeps its memory exactly and writes nothing."""
    d, h = 2, 3
    weight_ih, weight_hh = torch.zeros(4 * h, d), torch.zeros(4 * h, h)
    bias = torch.full((4 * h,), -50.0)
    bias[h : 2 * h] = 50.0  # f fully open; i and o closed
    c0 = torch.tensor([[0.5, -1.0, 2.0]])
    hidden, c = sequence.lstm_cell(torch.ones(1, d), (torch.zeros(1, h), c0), weight_ih, weight_hh,
                                   bias, torch.zeros(4 * h))  # fmt: skip
    torch.testing.assert_close(c, c0)
    torch.testing.assert_close(hidden, torch.zeros(1, h), atol=1e-12, rtol=0)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_lstm_num_parameters_equals_nn_lstm(layers, bidirectional, bias):
    lstm = nn.LSTM(7, 5, num_layers=layers, bidirectional=bidirectional, bias=bias)
    want = sum(p.numel() for p in lstm.parameters())
    assert sequence.lstm_num_parameters(7, 5, layers, bidirectional, bias) == want


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_grad_norm_equals_torch(max_norm):
    torch.manual_seed(0)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4)
    for net in (a, b):
        (net(x) ** 2).sum().backward()
    got = sequence.clip_grad_norm(a.parameters(), max_norm)
    want = torch.nn.utils.clip_grad_norm_(b.parameters(), max_norm)
    torch.testing.assert_close(got, want)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_sample_with_temperature():
    logits = torch.tensor([[1.0, 3.0, 0.0], [2.0, -1.0, 0.5]])
    assert sequence.sample_with_temperature(logits, 0).tolist() == [1, 0]
    g = torch.Generator().manual_seed(0)
    draws = sequence.sample_with_temperature(logits[:1].expand(20000, 3), 2.0, g)
    freq = torch.bincount(draws, minlength=3).float() / len(draws)
    torch.testing.assert_close(freq, torch.softmax(logits[0] / 2.0, 0), atol=0.015, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        sequence.sample_with_temperature(logits, -1.0)


def test_recall_task_shapes_answers_and_seed():
    g = torch.Generator().manual_seed(3)
    x, y = sequence.recall_task(50, 9, num_symbols=4, num_distractors=3, generator=g)
    assert x.shape == (50, 9, 7) and y.shape == (50,)
    assert torch.equal(x[:, 0].argmax(1), y) and (x[:, 1:].argmax(-1) >= 4).all()
    assert torch.equal(x.sum(-1), torch.ones(50, 9))
    x2, _ = sequence.recall_task(50, 9, 4, 3, torch.Generator().manual_seed(3))
    assert torch.equal(x, x2)


def test_python_docs_text_is_ascii_english_and_stable():
    text = sequence.python_docs_text()
    assert len(text) > 200_000 and text.isascii()
    assert text == sequence.python_docs_text() and sequence.python_docs_text(100) == text[:100]
    assert " the " in text


def test_figures_draw_their_parts():
    import matplotlib

    matplotlib.use("Agg")
    from visioncourse import figures

    fig = figures.rnn_folded_unfolded(steps=3)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"$h_1$", "$h_3$", "$x_2$", "$y_3$", "folded"} <= texts
    fig = figures.lstm_cell_diagram()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for gate in ("forget", "input", "candidate", "output"):
        assert gate in texts
