"""The LSTM state update shared by the recurrent layers (PixelRNN's Row and Diagonal BiLSTM, the VPN's ConvLSTM).

The LSTM of Hochreiter & Schmidhuber (1997) with the forget gate of Gers, Schmidhuber & Cummins
(2000), as written in van den Oord et al. (2016a), Eq. 3: with the pre-activations split as
[o, f, i, g] along one dimension,

    c = σ(f) ⊙ c_prev + σ(i) ⊙ tanh(g),        h = σ(o) ⊙ tanh(c).

The layers differ only in how they compute the pre-activations (linear maps, 1-D or 2-D
convolutions of [input, h_prev]). Note the layout: ``torch.nn.LSTM``/``LSTMCell`` (used by char-RNN
and handwriting) order their gate rows [i, f, g, o] instead; ``tests/test_recurrent.py`` checks the
two against each other after permuting the rows.

Example::

    gates = layer(torch.cat([x, hidden], dim=-1))  # (B, 4h) in the order [o, f, i, g]
    hidden, cell = lstm_update(gates, cell)  # (B, h) each
"""

import torch


def lstm_update(gates: torch.Tensor, cell: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Pre-activations holding [o, f, i, g] along ``dim`` (4h there) and the cell state (h there) -> (hidden, cell)."""
    size = cell.shape[dim]
    sigmoid_part, content = gates.split([3 * size, size], dim=dim)
    output_gate, forget_gate, input_gate = torch.sigmoid(sigmoid_part).chunk(3, dim=dim)  # cell's shape each
    cell = forget_gate * cell + input_gate * torch.tanh(content)
    return output_gate * torch.tanh(cell), cell  # cell's shape twice
