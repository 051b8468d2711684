#!/usr/bin/env python3
"""NumPy/SciPy reference for smart-turn v3's input features (test/mel.test.ts runs it).

An independent, dense re-statement of what pipecat computes before its v3 ONNX model
(src/pipecat/audio/turn/smart_turn/local_smart_turn_v3.py `_predict_endpoint`, which calls
`_whisper_features.compute_whisper_log_mel_features`, itself a port of transformers'
WhisperFeatureExtractor with do_normalize=True):
  - keep the last 8 s, zero-pad at the beginning to 128000 samples;
  - normalise the whole padded buffer in float32: (x - mean) / sqrt(var + 1e-7);
  - centred STFT: reflect padding of 200, periodic Hann (scipy), n_fft 400, hop 160, |rfft|^2 in float64;
  - 80 triangular mel filters on the Slaney scale with Slaney area normalisation, 0..8000 Hz;
  - log10(max(1e-10, mel)), drop the last of 801 frames, floor at max - 8, then (x + 4) / 4.

Protocol (binary, little-endian): stdin = uint32 count, then per clip uint32 length + float32 samples;
stdout = count * 80 * 800 float32 features.
"""
import struct
import sys

import numpy as np
from scipy.signal import get_window

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
N_SAMPLES = 8 * SR


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) * (27.0 / np.log(6.4)), 3.0 * f / 200.0)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), 200.0 * m / 3.0)


def mel_filters():
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), N_MELS + 2))
    freqs = np.linspace(0.0, SR / 2, N_FFT // 2 + 1)
    fb = np.zeros((N_MELS, freqs.size))
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    return fb


FILTERS = mel_filters()
WINDOW = get_window("hann", N_FFT, fftbins=True).astype(np.float64)  # periodic


def features(audio: np.ndarray) -> np.ndarray:
    x = audio.astype(np.float32)[-N_SAMPLES:]
    x = np.concatenate([np.zeros(N_SAMPLES - x.size, np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (padded.size - N_FFT) // HOP  # 801
    frames = np.stack([padded[t * HOP : t * HOP + N_FFT] for t in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * WINDOW, axis=1)) ** 2  # (801, 201)
    log_mel = np.log10(np.maximum(1e-10, FILTERS @ power.T))[:, :-1]  # (80, 800)
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


def main():
    data = sys.stdin.buffer.read()
    (count,) = struct.unpack_from("<I", data, 0)
    pos = 4
    out = []
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        clip = np.frombuffer(data, dtype="<f4", count=n, offset=pos)
        pos += 4 * n
        out.append(features(clip))
    sys.stdout.buffer.write(np.concatenate([f.ravel() for f in out]).astype("<f4").tobytes() if out else b"")


if __name__ == "__main__":
    main()
