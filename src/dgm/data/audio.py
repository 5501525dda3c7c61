"""Audio: μ-law companding, a WAV reader, and three sets of short mono waveforms.

Every set holds segments of ``SEGMENT_LENGTH`` samples at ``SAMPLE_RATE`` Hz as (N, 1, T) float32
in [−1, 1], with ``info = {"sample_rate": ..., "classes": [...]}`` and a class id per segment in
``train_labels``/``test_labels`` (for global conditioning):

- ``chirps``: synthetic tones drawn once with a fixed seed — a sine, a linear chirp or a harmonic
  tone with five partials, at a random pitch and level, under an attack–decay envelope, plus a
  little white noise. Labels: the kind of tone. Always available; the tests use it.
- ``speech``: fixed English sentences spoken by espeak-ng in four voices at two speeds, written
  once to ``~/.cache/dgm/speech/`` (or ``--data-dir``) and cut into segments; near-silent segments
  are dropped. Labels: the voice. The last ``NUM_TEST_SENTENCES`` sentences form the test split,
  so the test audio is unseen text. Needs the Debian package ``espeak-ng``.
- ``alsa-sounds``: the nine speaker-test recordings of the Debian package ``alsa-utils``
  (``/usr/share/sounds/alsa/*.wav``, or ``--data-dir``) cut into segments; the last fifth of each
  recording is the test split. Labels: the file.

μ-law (ITU-T G.711; WaveNet, van den Oord et al. 2016, the unnumbered formula of section 2.2):
f(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ), μ = 255, then f is quantised to 256 levels.

>>> codes = mu_law_encode(torch.tensor([-1.0, 0.0, 1.0]))
>>> codes.tolist()
[0, 128, 255]
"""

import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import DataError
from .base import Dataset

MU = 255  # μ: 256 quantisation levels, codes 0..255
SAMPLE_RATE = 8000  # Hz, every set
SEGMENT_LENGTH = 2048  # samples per example: 0.256 s at 8 kHz
SPEECH_CACHE = Path.home() / ".cache" / "dgm" / "speech"
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")


def mu_law_encode(x: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """Waveform in [−1, 1] (any shape) -> int64 codes 0..μ, same shape; values outside are clipped."""
    x = x.clamp(-1.0, 1.0)
    companded = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)  # in [−1, 1]
    return ((companded + 1) / 2 * mu).round().long()


def mu_law_decode(codes: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """Codes 0..μ (any shape) -> float32 waveform in [−1, 1], the inverse of ``mu_law_encode`` on its levels."""
    companded = codes.float() / mu * 2 - 1  # in [−1, 1]
    return torch.sign(companded) * torch.expm1(companded.abs() * math.log1p(mu)) / mu


def mu_law_marginal_entropy_bits(waveforms: torch.Tensor, mu: int = MU) -> float:
    """Entropy in bits of the empirical distribution of the μ-law codes of ``waveforms``.

    The cross-entropy per sample of the best i.i.d. model of these codes: a baseline any model of
    the sequence should beat on the same audio.
    """
    counts = torch.bincount(mu_law_encode(waveforms, mu).flatten(), minlength=mu + 1).double()
    probs = counts[counts > 0] / counts.sum()
    return -(probs * probs.log2()).sum().item()


# WAV files --------------------------------------------------------------------------------------


def read_wav(path: str | Path) -> tuple[torch.Tensor, int]:
    """An 8- or 16-bit PCM WAV file -> (waveform (T,) float32 in [−1, 1], mixed down to mono; sample rate)."""
    try:
        with wave.open(str(path), "rb") as file:
            channels, width, rate = file.getnchannels(), file.getsampwidth(), file.getframerate()
            frames = file.readframes(file.getnframes())
    except (wave.Error, EOFError) as error:
        raise DataError(f"{path}: expected an uncompressed PCM WAV file ({error})") from None
    if width == 1:
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128) / 128  # unsigned 8-bit
    elif width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768  # signed 16-bit
    else:
        raise DataError(f"{path}: expected 8- or 16-bit PCM samples, got {8 * width}-bit")
    waveform = torch.from_numpy(samples.reshape(-1, channels).mean(axis=1))  # (T,)
    return waveform, rate


def resample(waveform: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """(T,) at ``from_rate`` Hz -> (T',) at ``to_rate`` Hz by linear interpolation.

    Downsampling first low-passes the signal below 0.45 · ``to_rate`` with a Hann-windowed sinc
    filter (63 taps at the original rate), so that content above the new Nyquist rate does not
    alias into the band.
    """
    if from_rate == to_rate:
        return waveform
    if to_rate < from_rate:
        cutoff = 0.45 * to_rate / from_rate  # cycles per input sample
        taps = torch.arange(-31, 32, dtype=torch.float64)  # (63,)
        kernel = 2 * cutoff * torch.sinc(2 * cutoff * taps) * torch.hann_window(65, periodic=False)[1:-1].double()
        kernel = (kernel / kernel.sum()).to(waveform.dtype)
        waveform = F.conv1d(F.pad(waveform[None, None], (31, 31)), kernel[None, None])[0, 0]  # (T,)
    positions = torch.arange(0, (len(waveform) - 1) * to_rate // from_rate + 1) * (from_rate / to_rate)  # (T',)
    left = positions.floor().long().clamp(max=len(waveform) - 1)
    right = (left + 1).clamp(max=len(waveform) - 1)
    weight = (positions - left).to(waveform.dtype)
    return waveform[left] * (1 - weight) + waveform[right] * weight


def load_wav(path: str | Path, sample_rate: int) -> torch.Tensor:
    """A PCM WAV file -> (T,) float32 mono waveform in [−1, 1] at ``sample_rate`` Hz."""
    waveform, rate = read_wav(path)
    return resample(waveform, rate, sample_rate).clamp(-1.0, 1.0)


def cut_segments(waveform: torch.Tensor, length: int, min_rms: float = 0.0) -> torch.Tensor:
    """(T,) -> (K, 1, length): the non-overlapping whole segments whose RMS is at least ``min_rms``."""
    segments = waveform[: len(waveform) // length * length].view(-1, 1, length)  # (K, 1, length)
    return segments[segments.pow(2).mean(dim=(1, 2)).sqrt() >= min_rms]


def _audio_set(name: str, train, test, train_labels, test_labels, classes: list[str]) -> Dataset:
    return Dataset(
        name,
        "audio",
        train.contiguous(),
        test.contiguous(),
        train_labels,
        test_labels,
        info={"sample_rate": SAMPLE_RATE, "classes": classes},
    )


# chirps -----------------------------------------------------------------------------------------

CHIRP_KINDS = ["sine", "chirp", "harmonic"]
NUM_CHIRPS_TRAIN, NUM_CHIRPS_TEST = 1024, 128


def load_chirps() -> Dataset:
    """Synthetic tones, drawn once from seed 0: (1024, 1, 2048) train and (128, 1, 2048) test at 8 kHz."""
    generator = torch.Generator().manual_seed(0)
    n = NUM_CHIRPS_TRAIN + NUM_CHIRPS_TEST

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, *shape, generator=generator, dtype=torch.float64)

    time = torch.arange(SEGMENT_LENGTH, dtype=torch.float64) / SAMPLE_RATE  # (T,) seconds
    duration = SEGMENT_LENGTH / SAMPLE_RATE
    kind = torch.randint(len(CHIRP_KINDS), (n,), generator=generator)  # (n,)
    pitch = 110 * 2 ** uniform(0, 3, 1)  # (n, 1) Hz, A2..A5 on a log scale
    end_pitch = pitch * 2 ** uniform(-1.5, 1.5, 1)  # (n, 1) the chirp's final frequency
    phase = uniform(0, 2 * math.pi, 1)  # (n, 1)

    # 1. Sine, linear chirp f(t) = f0 + (f1 − f0) t / duration, and five harmonics of f0 with
    #    amplitudes 1/h^γ (partials above 0.95 · Nyquist left out).
    sine = torch.sin(2 * math.pi * pitch * time + phase)  # (n, T)
    chirp = torch.sin(2 * math.pi * (pitch * time + (end_pitch - pitch) * time**2 / (2 * duration)) + phase)
    partial = torch.arange(1, 6, dtype=torch.float64)  # (5,)
    weight = partial ** -uniform(1, 2, 1) * (partial * pitch < 0.95 * SAMPLE_RATE / 2)  # (n, 5)
    partial_phase = uniform(0, 2 * math.pi, 5)  # (n, 5)
    harmonic = sum(
        weight[:, h : h + 1] * torch.sin(2 * math.pi * (h + 1) * pitch * time + partial_phase[:, h : h + 1])
        for h in range(5)
    ) / weight.sum(dim=1, keepdim=True)  # (n, T)
    tone = torch.stack([sine, chirp, harmonic], dim=1)[torch.arange(n), kind]  # (n, T)

    # 2. Level, attack–decay envelope and noise.
    attack, decay = uniform(0.005, 0.05, 1), uniform(0.1, 1.0, 1)  # (n, 1) seconds
    envelope = (time / attack).clamp(max=1) * torch.exp(-(time - attack).clamp(min=0) / decay)  # (n, T)
    level = uniform(0.2, 0.9, 1)  # (n, 1)
    noise = 0.005 * torch.randn(n, SEGMENT_LENGTH, generator=generator, dtype=torch.float64)
    audio = (level * envelope * tone + noise).clamp(-1, 1).float()[:, None]  # (n, 1, T)
    train, test = audio[:NUM_CHIRPS_TRAIN], audio[NUM_CHIRPS_TRAIN:]
    return _audio_set("chirps", train, test, kind[:NUM_CHIRPS_TRAIN], kind[NUM_CHIRPS_TRAIN:], CHIRP_KINDS)


def _joined_audio_set(name: str, parts: dict, labels: dict, classes: list[str]) -> Dataset:
    """The set from lists of segments (K, 1, T) and of their labels (K,) under "train" and "test"."""
    splits = [torch.cat(kept[part]) for kept in (parts, labels) for part in ("train", "test")]
    return _audio_set(name, splits[0], splits[1], splits[2], splits[3], classes)


# speech -----------------------------------------------------------------------------------------

SENTENCES = [  # Harvard sentences (IEEE 1969), list 1 and the start of list 2
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
]
NUM_TEST_SENTENCES = 2  # the last two sentences, in every voice and speed
VOICES = ["en-us", "en-us+f3", "en-gb-scotland", "en-gb+m3"]  # espeak-ng voice+variant names
SPEEDS = [130, 175]  # words per minute
SPEECH_MIN_RMS = 0.02  # segments quieter than this (pauses, leading/trailing silence) are dropped


def _speak(text: str, voice: str, speed: int, folder: Path) -> Path:
    """The espeak-ng WAV of ``text`` in ``folder``, generated on first use and written atomically."""
    key = hashlib.sha1(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    path = folder / f"{voice.replace('+', '_')}-{speed}-{key}.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(suffix=".wav.part", dir=folder)
        os.close(descriptor)
        try:
            command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", temporary, text]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise DataError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip() or result.returncode}")
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    return path


def load_speech(data_dir: Path | None = None) -> Dataset:
    """espeak-ng speech at 8 kHz in 0.256 s segments; WAVs cached in ``data_dir`` (default ``~/.cache/dgm/speech``)."""
    folder = Path(data_dir) if data_dir is not None else SPEECH_CACHE
    if shutil.which("espeak-ng") is None:
        raise DataError(
            "data set 'speech' needs the espeak-ng program, which was not found on PATH; "
            "install the Debian package espeak-ng (apt-get install espeak-ng)"
        )
    parts: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    labels: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    for index, sentence in enumerate(SENTENCES):
        part = "test" if index >= len(SENTENCES) - NUM_TEST_SENTENCES else "train"
        for voice_id, voice in enumerate(VOICES):
            for speed in SPEEDS:
                waveform = load_wav(_speak(sentence, voice, speed, folder), SAMPLE_RATE)
                segments = cut_segments(waveform, SEGMENT_LENGTH, SPEECH_MIN_RMS)  # (K, 1, T)
                parts[part].append(segments)
                labels[part].append(torch.full((len(segments),), voice_id))
    return _joined_audio_set("speech", parts, labels, VOICES)


# alsa-sounds ------------------------------------------------------------------------------------


def load_alsa_sounds(data_dir: Path | None = None) -> Dataset:
    """The WAVs of ``/usr/share/sounds/alsa`` (or ``data_dir``) at 8 kHz in 0.256 s segments; the last fifth
    of each recording's segments (at least one) is the test split, so test audio never sits between
    training segments of the same recording. Labels: the file."""
    folder = Path(data_dir) if data_dir is not None else ALSA_SOUNDS
    paths = sorted(folder.glob("*.wav"))
    if not paths:
        raise DataError(
            f"data set 'alsa-sounds' reads the WAV files of the Debian package alsa-utils "
            f"(apt-get install alsa-utils) or of --data-dir; found no *.wav in {folder}"
        )
    parts: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    labels: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    for file_id, path in enumerate(paths):
        cut = cut_segments(load_wav(path, SAMPLE_RATE), SEGMENT_LENGTH)  # (K, 1, T)
        first_test = len(cut) - max(1, len(cut) // 5)  # the recording's tail is held out, not interleaved segments
        for part, segments in (("train", cut[:first_test]), ("test", cut[first_test:])):
            parts[part].append(segments)
            labels[part].append(torch.full((len(segments),), file_id))
    return _joined_audio_set("alsa-sounds", parts, labels, [path.stem for path in paths])
