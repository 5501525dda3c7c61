"""WaveNet and its audio data: μ-law companding, WAV reading and resampling, the data sets, causality
of the dilated stack (exactly its receptive field), normalisation, fast (cached) generation equal to
naive generation sample for sample, and learning beyond the i.i.d. μ-law baseline."""

import math
import shutil
import wave

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chisquare

import dgm.data.audio as audio
from dgm.core.errors import ConfigError, DataError
from dgm.data import BatchStream, load_dataset
from dgm.data.audio import (
    load_alsa_sounds,
    load_speech,
    mu_law_decode,
    mu_law_encode,
    mu_law_marginal_entropy_bits,
    read_wav,
    resample,
)
from dgm.eval import evaluate_model
from dgm.models import build_model
from dgm.models.autoregressive.wavenet import draw_code
from dgm.report.media import write_wav

TINY = {"residual_channels": 8, "skip_channels": 8, "layers_per_cycle": 3, "dilation_cycles": 2}  # RF 2 + 2·7


def perturbed_wavenet(overrides: dict, length: int = 64, weight_std: float = 0.3, dtype=torch.float64):
    """A WaveNet whose weights are redrawn large enough that its conditionals are far from uniform."""
    model = build_model("wavenet", overrides, (1, length)).to(dtype)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(weight_std * torch.randn(parameter.shape, generator=generator, dtype=dtype))
    return model


# μ-law ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mu_law_decode_then_encode_returns_every_code(dtype):
    codes = torch.arange(256)
    levels = mu_law_decode(codes)
    assert levels[0] == -1 and levels[-1] == 1 and (levels.diff() > 0).all()
    assert torch.equal(mu_law_encode(levels.to(dtype)), codes)


def test_mu_law_round_trip_is_within_half_a_level_in_the_companded_domain():
    x = torch.linspace(-1, 1, 200_001, dtype=torch.float64)
    codes = mu_law_encode(x)
    assert codes.dtype == torch.int64 and codes.min() == 0 and codes.max() == 255

    def compand(v: torch.Tensor) -> torch.Tensor:
        return torch.sign(v) * torch.log1p(255 * v.abs()) / math.log(256)

    error = (compand(mu_law_decode(codes).double()) - compand(x)).abs()
    assert error.max().item() <= 1 / 255 + 1e-6  # half of the level spacing 2/255
    # In the waveform domain (mean value theorem, |dx/df| = ln(256)(1 + 255|x|)/255 grows with |x|):
    # the error is tiny near silence and largest at full scale, as μ-law intends.
    decoded = mu_law_decode(codes).double()
    slope = math.log(256) * (1 + 255 * torch.maximum(x.abs(), decoded.abs())) / 255
    assert ((decoded - x).abs() <= slope / 255 + 1e-9).all()
    assert (decoded - x).abs().max() > 0.02  # the bound is tight at full scale: 256/255 · ln(256)/255²


def test_marginal_entropy_is_eight_bits_for_uniform_codes_and_zero_for_silence():
    every_level_four_times = mu_law_decode(torch.arange(256).repeat(4))
    assert mu_law_marginal_entropy_bits(every_level_four_times) == pytest.approx(8.0, abs=1e-12)
    assert mu_law_marginal_entropy_bits(torch.zeros(100)) == 0.0
    half_and_half = mu_law_decode(torch.tensor([0, 255] * 50))
    assert mu_law_marginal_entropy_bits(half_and_half) == pytest.approx(1.0, abs=1e-12)


# WAV files and resampling -----------------------------------------------------------------------


def write_pcm(path, frames: np.ndarray, sample_width: int, rate: int) -> None:
    """Raw PCM frames (T, channels), already in the file's integer format, to a WAV file."""
    with wave.open(str(path), "wb") as file:
        file.setnchannels(frames.shape[1])
        file.setsampwidth(sample_width)
        file.setframerate(rate)
        file.writeframes(frames.tobytes())


def test_wav_write_then_read_round_trip_is_within_16_bit_quantisation(tmp_path):
    waveform = torch.sin(torch.linspace(0, 60, 3000)) * torch.linspace(0, 1, 3000)  # (T,)
    write_wav(tmp_path / "a.wav", waveform, 11025)
    read, rate = read_wav(tmp_path / "a.wav")
    assert rate == 11025 and read.dtype == torch.float32 and read.shape == waveform.shape
    # write_wav scales by 32767 and rounds; read_wav divides by 32768 (so that −32768 reads as −1).
    assert ((read - waveform).abs() <= (waveform.abs() + 0.5) / 32768 + 1e-7).all()


def test_8_bit_stereo_wav_is_read_as_the_mean_of_its_channels(tmp_path):
    left = np.array([0, 128, 255, 64], dtype=np.uint8)
    right = np.array([128, 128, 255, 192], dtype=np.uint8)
    write_pcm(tmp_path / "s.wav", np.stack([left, right], axis=1), 1, 8000)
    read, rate = read_wav(tmp_path / "s.wav")
    assert rate == 8000
    expected = torch.tensor([(-128 + 0) / 256, 0.0, 127 / 128, (-64 + 64) / 256])
    assert torch.equal(read, expected)


def test_unsupported_wav_files_raise_data_errors(tmp_path):
    write_pcm(tmp_path / "24.wav", np.zeros((10, 3), dtype=np.uint8), 3, 8000)  # 24-bit mono
    with pytest.raises(DataError, match="8- or 16-bit"):
        read_wav(tmp_path / "24.wav")
    (tmp_path / "text.wav").write_text("not a wave file")
    with pytest.raises(DataError, match="PCM WAV"):
        read_wav(tmp_path / "text.wav")


def test_resampling_keeps_an_in_band_tone_and_removes_one_that_would_alias():
    seconds = torch.arange(22050, dtype=torch.float64) / 22050
    low = torch.sin(2 * math.pi * 440 * seconds).float()
    high = torch.sin(2 * math.pi * 6000 * seconds).float()  # above 4 kHz: would alias to 2 kHz
    low_8k, high_8k = resample(low, 22050, 8000), resample(high, 22050, 8000)
    assert low_8k.shape == high_8k.shape == (8000,)
    interior = slice(40, -40)  # away from the filter's zero-padded edges
    expected = torch.sin(2 * math.pi * 440 * torch.arange(8000, dtype=torch.float64) / 8000).float()
    assert (low_8k - expected)[interior].abs().max().item() < 0.01
    assert high_8k[interior].pow(2).mean().sqrt().item() < 0.01  # an unfiltered resampler leaves 0.71
    upsampled = resample(expected, 8000, 16000)  # linear interpolation, no filter
    assert torch.equal(upsampled[::2], expected) and len(upsampled) == 15999


# data sets --------------------------------------------------------------------------------------


def test_chirps_is_fixed_audio_in_range_with_tone_labels():
    chirps, again = load_dataset("chirps"), load_dataset("chirps")
    assert chirps.kind == "audio" and chirps.info["sample_rate"] == 8000
    assert chirps.train.shape == (1024, 1, 2048) and chirps.test.shape == (128, 1, 2048)
    assert chirps.train.dtype == torch.float32 and chirps.train.abs().max() <= 1
    assert torch.equal(chirps.test, again.test) and torch.equal(chirps.train_labels, again.train_labels)
    assert set(chirps.train_labels.tolist()) == {0, 1, 2} and len(chirps.info["classes"]) == 3
    # a tone, not noise: each clip is mostly a few hundred hertz, so neighbouring samples correlate
    clips = chirps.test[:, 0]
    correlation = (clips[:, 1:] * clips[:, :-1]).sum() / (clips * clips).sum()
    assert correlation > 0.5


def test_speech_without_espeak_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="espeak-ng"):
        load_speech(tmp_path)


def test_alsa_sounds_without_files_names_the_debian_package(tmp_path):
    with pytest.raises(DataError, match="alsa-utils"):
        load_alsa_sounds(tmp_path)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_is_generated_once_cached_and_split_by_sentence(monkeypatch, tmp_path):
    monkeypatch.setattr(audio, "SENTENCES", ["Rice is often served in round bowls.", "Four hours of steady work."])
    monkeypatch.setattr(audio, "NUM_TEST_SENTENCES", 1)
    monkeypatch.setattr(audio, "VOICES", ["en-us", "en-us+f3"])
    speech = load_speech(tmp_path)
    assert speech.kind == "audio" and speech.info == {"sample_rate": 8000, "classes": ["en-us", "en-us+f3"]}
    assert speech.train.shape[1:] == speech.test.shape[1:] == (1, 2048)
    assert len(speech.train) > len(speech.test) > 0  # the longer sentence trains, the shorter tests
    assert set(speech.train_labels.tolist()) == {0, 1}
    assert speech.train.abs().max() <= 1 and speech.train.pow(2).mean(dim=(1, 2)).sqrt().min() >= 0.02
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 * 2 * 2 and all(name.endswith(".wav") for name in files)  # no partial files left

    def no_espeak(*args, **kwargs):
        raise AssertionError("espeak-ng ran again although its output was cached")

    monkeypatch.setattr(audio.subprocess, "run", no_espeak)
    assert torch.equal(load_speech(tmp_path).test, speech.test)


@pytest.mark.skipif(not audio.ALSA_SOUNDS.is_dir(), reason="alsa-utils sounds are not installed")
def test_alsa_sounds_are_segments_of_the_speaker_test_files():
    sounds = load_dataset("alsa-sounds")
    assert sounds.train.shape[1:] == (1, 2048) and sounds.test.shape[1:] == (1, 2048)
    files = len(sounds.info["classes"])
    assert set(sounds.test_labels.tolist()) == set(range(files)), "every recording's tail is held out"
    assert 0.1 < len(sounds.test) / (len(sounds.train) + len(sounds.test)) < 0.3
    assert sounds.info["sample_rate"] == 8000 and "Front_Center" in sounds.info["classes"]


# the model: causality, normalisation, likelihood ------------------------------------------------


@pytest.mark.parametrize(("layers_per_cycle", "dilation_cycles", "label"), [(3, 2, None), (4, 1, None), (3, 2, 1)])
def test_logits_at_t_depend_on_exactly_the_receptive_field_before_t(layers_per_cycle, dilation_cycles, label):
    # The logits of each step are projected on a random direction: a zero Jacobian block stays
    # exactly zero, a nonzero one stays nonzero with probability one. 32 skip channels keep some
    # of the head's ReLUs open at every step.
    num_classes = 0 if label is None else 2
    overrides = {**TINY, "skip_channels": 32, "layers_per_cycle": layers_per_cycle, "dilation_cycles": dilation_cycles}
    model = perturbed_wavenet({**overrides, "num_classes": num_classes})
    receptive_field = 2 + dilation_cycles * (2**layers_per_cycle - 1)  # c_{t−1} … c_{t−RF}
    assert model.receptive_field == receptive_field
    length = receptive_field + 12
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(1, length, 256, generator=generator, dtype=torch.float64)
    direction = torch.randn(256, generator=generator, dtype=torch.float64)
    labels = None if label is None else torch.tensor([label])

    def projected_logits(x: torch.Tensor) -> torch.Tensor:
        return (model.network(x, labels) * direction).sum(dim=-1).flatten()  # (T,)

    jacobian = torch.autograd.functional.jacobian(projected_logits, inputs)  # (T, 1, T, 256)
    dependence = jacobian.abs().sum(dim=-1).reshape(length, length)  # [t, j]: how logits at t move with input j
    t, j = torch.arange(length)[:, None], torch.arange(length)[None, :]
    inside = (j < t) & (j >= t - receptive_field)
    assert dependence[~inside].max().item() == 0.0, "logits depend on the present, the future, or too far back"
    missing = (inside & (dependence == 0)).nonzero().tolist()
    assert not missing, f"(t, j) inside the receptive field with zero gradient: {missing[:10]}"


def test_logits_from_codes_equal_the_network_on_their_one_hot_vectors():
    model = perturbed_wavenet({**TINY, "num_classes": 3})
    codes = torch.randint(256, (4, 40), generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1, 2, 1])
    by_lookup = model.logits(codes, labels)  # (4, 40, 256)
    by_matrix_product = model.network(F.one_hot(codes, 256).double(), labels)
    assert torch.allclose(by_lookup, by_matrix_product, rtol=0, atol=1e-12)


def test_log_prob_is_the_chain_rule_sum_of_prefix_conditionals():
    model = perturbed_wavenet(TINY)
    codes = torch.randint(256, (3, 30), generator=torch.Generator().manual_seed(3))  # (B, T)
    waveforms = mu_law_decode(codes)[:, None].double()  # (B, 1, T)
    manual = sum(
        model.logits(codes[:, : t + 1])[:, t].log_softmax(dim=-1).gather(1, codes[:, t : t + 1])[:, 0]
        for t in range(codes.shape[1])
    )  # (B,) each conditional from the prefix alone
    with torch.no_grad():
        assert torch.allclose(model.log_prob(waveforms), manual, rtol=0, atol=1e-9)
        uniform_model_nats = 30 * math.log(256)
        assert (model.log_prob(waveforms) + uniform_model_nats).abs().min() > 1.0  # far from uniform


def all_two_sample_log_probs(model, label: int | None) -> torch.Tensor:
    """(256, 256): log p(c_1, c_2) of every two-sample sequence, [c_1, c_2]."""
    codes = torch.cartesian_prod(torch.arange(256), torch.arange(256))  # (65536, 2)
    labels = None if label is None else torch.full((len(codes),), label)
    with torch.no_grad():
        return model.log_prob(mu_law_decode(codes)[:, None].double(), labels).view(256, 256)


def test_wavenet_sums_to_one_over_all_two_sample_sequences():
    log_probs = all_two_sample_log_probs(perturbed_wavenet(TINY, length=2, weight_std=0.5), None)
    assert torch.logsumexp(log_probs.flatten(), dim=0).exp().item() == pytest.approx(1.0, abs=1e-9)
    conditional = log_probs.softmax(dim=1)  # p(c_2 | c_1)
    assert (conditional[0] - conditional[255]).abs().sum() > 0.5  # exactly 0 if c_2 ignored c_1


def test_each_label_gives_a_normalised_and_different_distribution():
    model = perturbed_wavenet({**TINY, "num_classes": 2}, length=2, weight_std=0.5)
    probs = [all_two_sample_log_probs(model, label).exp() for label in (0, 1)]
    for label in (0, 1):
        assert probs[label].sum().item() == pytest.approx(1.0, abs=1e-9), f"label {label}"
    assert 0.5 * (probs[0] - probs[1]).abs().sum().item() > 0.1


def test_labels_and_shapes_are_checked():
    conditional = build_model("wavenet", {**TINY, "num_classes": 3}, (1, 16))
    unconditional = build_model("wavenet", TINY, (1, 16))
    x = torch.zeros(2, 1, 16)
    with pytest.raises(DataError, match="conditional"):
        conditional.log_prob(x)
    with pytest.raises(DataError, match="0..2"):
        conditional.log_prob(x, torch.tensor([0, 3]))
    with pytest.raises(DataError, match="unconditional"):
        unconditional.log_prob(x, torch.tensor([0, 1]))
    with pytest.raises(DataError, match=r"\(B, 1, T\)"):
        unconditional.log_prob(torch.zeros(2, 16))
    with pytest.raises(DataError, match=r"\(1, T\)"):
        build_model("wavenet", TINY, (1, 8, 8))
    with pytest.raises(ConfigError, match="3 classes"):
        build_model("wavenet", {**TINY, "num_classes": 2}, (1, 16), {"classes": ["a", "b", "c"]})
    with pytest.raises(ConfigError, match="length"):
        unconditional.sample(1, length=0)


def test_a_conditional_train_step_takes_labelled_batches_and_trains_the_embeddings():
    model = build_model("wavenet", {**TINY, "num_classes": 3}, (1, 64))
    embedding = model.layers[0].class_embedding.weight.detach().clone()
    batch = (torch.rand(4, 1, 64) * 2 - 1, torch.tensor([0, 1, 2, 0]))
    losses = model.train_step(batch, model.optimizers(), lambda loss: loss.backward())
    assert math.isfinite(losses["loss"]) and losses["bits_per_sample"] == pytest.approx(losses["loss"] / math.log(2))
    assert not torch.equal(model.layers[0].class_embedding.weight, embedding)


# generation -------------------------------------------------------------------------------------


def test_draw_code_samples_the_softmax_distribution():
    logits = torch.full((256,), -math.inf)
    support = torch.tensor([0, 3, 17, 100, 128, 200, 254, 255])
    logits[support] = torch.randn(8, generator=torch.Generator().manual_seed(4)) * 1.5
    draws = draw_code(logits.expand(20_000, 256), torch.Generator().manual_seed(5))  # (20000,)
    assert set(draws.tolist()) <= set(support.tolist())
    counts = torch.bincount(draws, minlength=256)[support].double()
    expected = logits[support].double().softmax(dim=0) * len(draws)
    assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("num_classes", [0, 3])
def test_cached_generation_draws_exactly_the_samples_of_naive_generation(num_classes):
    # float32, as models sample in practice; lengths past three receptive fields exercise the naive
    # window and the wrap-around of every layer's queue.
    model = perturbed_wavenet({**TINY, "num_classes": num_classes}, weight_std=0.25, dtype=torch.float32)
    length = 3 * model.receptive_field + 5

    def draw(seed: int, cached: bool) -> torch.Tensor:
        return model.sample(3, generator=torch.Generator().manual_seed(seed), length=length, cached=cached)

    cached, naive = draw(6, cached=True), draw(6, cached=False)
    assert cached.shape == (3, 1, length) and cached.dtype == torch.float32
    assert torch.equal(cached, naive)
    assert len(mu_law_encode(cached).unique()) > 20, "the test needs varied samples to have teeth"
    assert torch.equal(mu_law_decode(mu_law_encode(cached)), cached)  # on the μ-law levels, in [−1, 1]
    assert not torch.equal(cached, draw(7, cached=True))


@pytest.mark.parametrize("cached", [True, False])
def test_generation_computes_the_logits_of_the_full_network_at_every_step(cached, monkeypatch):
    """Teacher-forced: every draw returns a fixed code, and the logits each algorithm draws from must
    equal the full-sequence network's (float64, 1e-12). Unlike equal samples, this sees the oldest
    code of the receptive field, whose pull on a draw is tiny."""
    from dgm.models.autoregressive import wavenet

    model = perturbed_wavenet({**TINY, "num_classes": 2}, weight_std=0.25)
    length = 2 * model.receptive_field + 5
    forced = torch.randint(256, (2, length), generator=torch.Generator().manual_seed(8))  # (2, length)
    labels = torch.tensor([0, 1])
    seen = []

    def record_and_force(logits: torch.Tensor, generator) -> torch.Tensor:
        seen.append(logits.clone())  # (2, 256)
        return forced[:, len(seen) - 1]

    monkeypatch.setattr(wavenet, "draw_code", record_and_force)
    codes = mu_law_encode(model.sample(2, length=length, labels=labels, cached=cached))  # (2, 1, length)
    assert torch.equal(codes[:, 0], forced)
    full = model.logits(forced, labels)  # (2, length, 256)
    torch.testing.assert_close(torch.stack(seen, dim=1), full, rtol=0, atol=1e-12)


# learning ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wavenet_beats_the_mu_law_marginal_entropy_on_chirps():
    chirps = load_dataset("chirps")
    torch.manual_seed(0)
    model = build_model("wavenet", {"layers_per_cycle": 6}, chirps.shape, chirps.info)
    optimizers = model.optimizers()
    stream = BatchStream(chirps.train, model.batch_size, seed=0)
    for _ in range(120):
        model.train_step(next(stream), optimizers, lambda loss: loss.backward())
    metrics = evaluate_model(model.eval(), chirps.test[:32])

    message = f"WaveNet {metrics['bits_per_dim']:.2f} vs marginal {metrics['marginal_entropy_bits']:.2f} bits/sample"
    assert metrics["bits_per_dim"] < metrics["marginal_entropy_bits"] - 1.5, message
