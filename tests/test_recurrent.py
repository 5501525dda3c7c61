"""The shared LSTM update equals torch's LSTM cell (with its [i, f, g, o] rows permuted to [o, f, i, g]),
along the last dimension and along the channel dimension of a convolutional state."""

import torch

from dgm.nn.recurrent import lstm_update


def _torch_cell_and_our_gates(inputs: int, hidden: int):
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(inputs, hidden).double()
    i, f, g, o = torch.cat([cell.weight_ih, cell.weight_hh], dim=1).chunk(4)  # (h, in + h) each
    weight = torch.cat([o, f, i, g])  # (4h, in + h) in our order
    bi, bf, bg, bo = (cell.bias_ih + cell.bias_hh).chunk(4)
    return cell, weight, torch.cat([bo, bf, bi, bg])


def test_lstm_update_matches_torch_lstm_cell():
    torch_cell, weight, bias = _torch_cell_and_our_gates(5, 7)
    x, h, c = torch.randn(3, 5).double(), torch.randn(3, 7).double(), torch.randn(3, 7).double()
    expected_h, expected_c = torch_cell(x, (h, c))
    hidden, cell = lstm_update(torch.cat([x, h], dim=1) @ weight.t() + bias, c)
    torch.testing.assert_close(hidden, expected_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(cell, expected_c, rtol=0, atol=1e-12)


def test_lstm_update_along_channels_matches_every_pixel():
    torch_cell, weight, bias = _torch_cell_and_our_gates(4, 6)
    x, h, c = torch.randn(2, 4, 3, 3).double(), torch.randn(2, 6, 3, 3).double(), torch.randn(2, 6, 3, 3).double()
    gates = torch.einsum("gk,bkyx->bgyx", weight, torch.cat([x, h], dim=1)) + bias[:, None, None]  # a 1×1 conv
    hidden, cell = lstm_update(gates, c, dim=1)  # (2, 6, 3, 3) each
    per_pixel = lambda t: t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])  # noqa: E731  (B·H·W, C)
    expected_h, expected_c = torch_cell(per_pixel(x), (per_pixel(h), per_pixel(c)))
    torch.testing.assert_close(per_pixel(hidden), expected_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(per_pixel(cell), expected_c, rtol=0, atol=1e-12)
