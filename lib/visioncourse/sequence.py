"""Recurrent networks written out step by step, with the names and layouts of torch.nn.

``rnn_forward`` and ``lstm_forward`` take the same weights as ``nn.RNN`` / ``nn.LSTM``
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; the LSTM's four gates packed in the
order i, f, g, o), so tests can compare them with PyTorch weight for weight. Also here: the
parameter count of a (deep, bidirectional) LSTM, gradient-norm clipping, sampling with a
temperature, the "recall the first symbol" task, and a text that ships with Python.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor,
             bias_hh: Tensor) -> Tensor:  # fmt: skip
    """One step of a vanilla (Elman) RNN, as ``nn.RNNCell`` with tanh.

    Args:
        x (Tensor[N, D]): the input at this step; h (Tensor[N, H]): the previous state.
        weight_ih (Tensor[H, D]), weight_hh (Tensor[H, H]), bias_ih, bias_hh (Tensor[H]).
    Returns:
        Tensor[N, H]: ``tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``.
    """
    return torch.tanh(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)


def rnn_forward(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor,
                bias_hh: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The RNN unrolled over time, as ``nn.RNN(batch_first=True)`` with one layer.

    Args:
        x (Tensor[N, T, D]); h0 (Tensor[N, H]); weights as in ``rnn_cell``.
    Returns:
        (Tensor[N, T, H], Tensor[N, H]): every state h_1..h_T, and the last one.
    """
    h, states = h0, []
    for t in range(x.shape[1]):  # each step needs the one before: time cannot be vectorised
        h = rnn_cell(x[:, t], h, weight_ih, weight_hh, bias_ih, bias_hh)
        states.append(h)
    return torch.stack(states, dim=1), h


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor, bias_hh: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One LSTM step, as ``nn.LSTMCell`` (Hochreiter & Schmidhuber, 1997; forget gate of Gers
    et al., 2000).

    Args:
        x (Tensor[N, D]); state: (h, c), each Tensor[N, H].
        weight_ih (Tensor[4H, D]), weight_hh (Tensor[4H, H]), bias_ih, bias_hh (Tensor[4H]):
            the four gates stacked in PyTorch's order: input i, forget f, cell candidate g
            (the lecture's "input modulation gate"), output o.
    Returns:
        (h, c): ``c = f * c_prev + i * g`` and ``h = o * tanh(c)``.
    """
    h, c = state
    i, f, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_forward(x: Tensor, state: tuple[Tensor, Tensor], weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Tensor, bias_hh: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # fmt: skip
    """A one-layer LSTM unrolled over time, as ``nn.LSTM(batch_first=True)``.

    Returns:
        (Tensor[N, T, H], (h_T, c_T)).
    """
    outputs = []
    for t in range(x.shape[1]):
        state = lstm_cell(x[:, t], state, weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(state[0])
    return torch.stack(outputs, dim=1), state


def lstm_num_parameters(input_size: int, hidden_size: int, num_layers: int = 1,
                        bidirectional: bool = False, bias: bool = True) -> int:  # fmt: skip
    """How many parameters ``nn.LSTM(input_size, hidden_size, num_layers, bias=bias,
    bidirectional=bidirectional)`` has.

    Each layer and direction has four gates, each with a D x H input matrix, an H x H
    recurrent matrix and (with ``bias``) two bias vectors; layers above the first see the
    concatenated states of both directions.
    """
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        d = input_size if layer == 0 else hidden_size * directions
        total += directions * 4 * hidden_size * (d + hidden_size + (2 if bias else 0))
    return total


def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float, eps: float = 1e-6) -> Tensor:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_``; returns the norm before clipping.

    One norm over every gradient at once (not one per tensor), so the update keeps its
    direction and only its length is cut.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = (max_norm / (total + eps)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale)
    return total


def sample_with_temperature(logits: Tensor, temperature: float,
                            generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
    """Draw one index per row of ``logits (Tensor[N, V])`` from ``softmax(logits / T)``;
    ``temperature == 0`` is the limit, the argmax (greedy decoding). Returns Tensor[N] long."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = F.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def recall_task(n: int, length: int, num_symbols: int = 4, num_distractors: int = 4,
                generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:  # fmt: skip
    """The "recall the first symbol" task: a long-range dependency of exactly ``length - 1``
    steps.

    Each sequence starts with one of ``num_symbols`` symbols (the answer), followed by
    ``length - 1`` distractor symbols drawn from ``num_distractors`` others. Symbols are one-hot.
    Chance accuracy is ``1 / num_symbols``.

    Returns:
        (Tensor[n, length, num_symbols + num_distractors] float, Tensor[n] long): inputs, answers.
    """
    answer = torch.randint(num_symbols, (n,), generator=generator)
    noise = torch.randint(num_symbols, num_symbols + num_distractors, (n, length - 1),
                          generator=generator)  # fmt: skip
    tokens = torch.cat((answer[:, None], noise), dim=1)
    x = F.one_hot(tokens, num_symbols + num_distractors).float()
    return x.to(device), answer.to(device)


def python_docs_text(max_chars: int | None = None) -> str:
    """English prose that ships with every Python: the reference topics behind ``help()``
    (``pydoc_data.topics``), ASCII only, in a fixed order: about half a million characters,
    prose mixed with short code examples."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[key].strip() for key in sorted(topics))
    text = text.encode("ascii", "ignore").decode("ascii")
    return text[:max_chars] if max_chars is not None else text
