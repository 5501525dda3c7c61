"""What the benchmark scripts share (``benchmarks/_common.py``): the choice of training precision."""

import pytest
import torch


@pytest.fixture
def common(bench_module):
    return bench_module("_common")


@pytest.mark.parametrize(("amx", "avx512_bf16", "expected"), [(1, 0, True), (0, 1, True), (0, 0, False)])
def test_bf16_pays_only_with_bf16_units(common, monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: bool(amx), raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bool(avx512_bf16), raising=False)
    assert common.bf16_pays() is expected


def test_bf16_pays_is_false_where_torch_cannot_tell(common, monkeypatch):
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    assert common.bf16_pays() is False
