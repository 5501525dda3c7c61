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


def test_torch_still_has_the_checks(common):
    # private functions: were torch to rename them, bf16_pays would quietly say False on AMX machines
    assert all(callable(getattr(torch.cpu, name, None)) for name in common.BF16_CHECKS)


@pytest.mark.parametrize(("pays", "choice", "expected"), [
    (True, "auto", "bf16-mixed"), (False, "auto", "32-true"), (False, "bf16-mixed", "bf16-mixed"),
    (True, "32-true", "32-true"),
])  # fmt: skip
def test_training_precision_resolves_auto_only(common, monkeypatch, pays, choice, expected):
    monkeypatch.setattr(common, "bf16_pays", lambda: pays)
    assert common.training_precision(choice) == expected
