"""Sample files: WAV, GIF, SVG strokes and text written from tensors, and read back where possible."""

import wave

import numpy as np
import pytest
import torch
from PIL import Image

from dgm.core.errors import ConfigError
from dgm.report.media import save_samples, stroke_polylines, write_gif, write_wav
from helpers import dgm


def test_wav_holds_the_waveform_at_16_bit_precision(tmp_path):
    t = torch.arange(800) / 8000
    waveform = 0.7 * torch.sin(2 * torch.pi * 440 * t)
    write_wav(tmp_path / "a.wav", waveform, 8000)
    with wave.open(str(tmp_path / "a.wav")) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    assert np.abs(pcm / 32767 - waveform.numpy()).max() <= 0.5 / 32767 + 1e-7


def test_gif_has_one_frame_per_time_step_showing_the_pixels(tmp_path):
    frames = torch.zeros(5, 1, 4, 4)
    for t in range(5):
        frames[t, 0, 0, t % 4] = 1.0  # a dot moving right
    write_gif(tmp_path / "clip.gif", frames, min_size=8)
    gif = Image.open(tmp_path / "clip.gif")
    assert gif.n_frames == 5
    gif.seek(2)
    pixels = np.array(gif.convert("L"))  # 8×8: each pixel became 2×2
    assert pixels[0, 4] == 255 and pixels[0, 0] == 0


def test_strokes_split_into_pen_down_polylines_at_each_pen_lift():
    strokes = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 1], [5, 0, 0], [1, 1, 1]], dtype=torch.float32)
    lines = stroke_polylines(strokes)
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0], [[0, 0], [1, 0], [1, 1]])
    np.testing.assert_allclose(lines[1], [[6, 1], [7, 2]])


def test_samples_are_written_per_kind_and_a_wrong_suffix_is_refused(tmp_path):
    strokes = torch.tensor([[[0, 0, 0], [1, 0, 0], [0, 1, 1]]], dtype=torch.float32)
    svg = save_samples(strokes, tmp_path / "hw.svg", "strokes", {}).read_text()
    assert svg.count("<polyline") == 1
    text = save_samples(torch.tensor([[0, 1, 2, 1]]), tmp_path / "t.txt", "text", {"alphabet": "ab "})
    assert text.read_text() == "ab b\n"
    with pytest.raises(ConfigError, match=r"\.wav or \.png or \.npy, got a\.gif"):
        save_samples(torch.zeros(1, 1, 10), tmp_path / "a.gif", "audio", {"sample_rate": 8000})


def test_cli_sample_refuses_a_prompt_for_an_unconditional_image_model(tmp_path):
    run = tmp_path / "made"
    assert dgm("train", "made", "--data", "digits", "--steps", "2", "--out", str(run), "--quiet").returncode == 0
    result = dgm("sample", str(run), "--prompt", "ROMEO:", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2
    assert "takes no --prompt" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = dgm("sample", str(run), "--out", str(tmp_path / "s.wav"))
    assert result.returncode == 2 and "must end in .png or .npy, got s.wav" in result.stderr
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "s.wav").exists()
    result = dgm("sample", str(run), "--jacobian-truncation", "0.2", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2 and "takes no --jacobian-truncation (it takes none of them)" in result.stderr


def test_cli_samples_a_gan_with_jacobian_truncation_and_refuses_a_share_outside_0_1(tmp_path):
    run = tmp_path / "gan"
    assert dgm("train", "gan", "--data", "ring8", "--steps", "2", "--out", str(run), "--quiet").returncode == 0
    out = tmp_path / "s.npy"
    result = dgm("sample", str(run), "-n", "10", "--jacobian-truncation", "0.2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (10, 2)
    result = dgm("sample", str(run), "--jacobian-truncation", "1.5", "--out", str(tmp_path / "t.npy"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--jacobian-truncation is the share of latents rejected: expected [0, 1), got 1.5" in result.stderr
    assert not (tmp_path / "t.npy").exists()


# one tiny run per kind of sequence data: train, sample to the kind's file, report embeds it ----------

SEQUENCE_RUNS = {
    # kind: (model, data set, small overrides, sample options, sample file, what the report embeds)
    "audio": (
        "wavenet", "chirps", ["residual_channels=4", "skip_channels=4", "layers_per_cycle=2", "dilation_cycles=1"],
        {"length": 400}, "a.wav", "<audio",
    ),
    "text": ("char-rnn", "tiny-text", ["hidden_dim=8", "embedding_dim=4"], {"prompt": "the "}, "t.txt", "<pre"),
    "strokes": (
        "handwriting", "hershey", ["synthesis=true", "hidden_size=8", "num_layers=1", "num_components=2"],
        {"text": "hello world", "length": 30}, "hw.svg", "image/svg+xml",
    ),
    "video": (
        "vpn", "moving-digits-small", ["channels=4", "num_encoder_blocks=1", "num_decoder_layers=1"],
        {"length": 2}, "clips.gif", "image/gif",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(SEQUENCE_RUNS))
def test_a_sequence_model_trains_samples_its_file_and_shows_it_in_the_report(kind, tmp_path):
    import dgm as api

    model, data, overrides, options, name, embedded = SEQUENCE_RUNS[kind]
    run = tmp_path / model
    api.train_model(model, data, steps=2, out=run, overrides=overrides)
    out = api.sample(run, 2, tmp_path / name, seed=0, **options)
    assert out.is_file() and out.stat().st_size > 0
    if kind == "audio":
        with wave.open(str(out)) as audio:
            assert audio.getframerate() == 8000 and audio.getnframes() >= 2 * 400
    elif kind == "text":
        assert all(chunk.startswith("the ") for chunk in out.read_text().strip().split("\n\n"))
    elif kind == "video":
        assert Image.open(out).n_frames == 2
    html = api.write_report(run).read_text()
    assert embedded in html, f"the {kind} report does not embed its samples"
