#!/usr/bin/env python3
"""NumPy reference for smart-turn v2's inputs (test/v2-preprocessing.test.ts runs it).

What upstream's `Wav2Vec2Processor(audio, padding="max_length", max_length=16000 * 16,
return_attention_mask=True)` computes (pipecat-ai/smart-turn onnx/inference.py), restated from
transformers' models/wav2vec2/feature_extraction_wav2vec2.py: pad on the right with 0 to 256000,
attention_mask 1 over the real samples, then `zero_mean_unit_var_norm`: per clip, in float32,
(x - x[:n].mean()) / sqrt(x[:n].var() + 1e-7) with the padding reset to 0. One difference from
upstream is ours and deliberate: a longer clip keeps its last 16 s (upstream truncates the end off).

Protocol (binary, little-endian): stdin = uint32 count, then per clip uint32 length + float32 samples;
stdout = per clip 256000 float32 input_values then 256000 int64 attention_mask.
"""
import struct
import sys

import numpy as np

WINDOW = 16 * 16000


def inputs(audio: np.ndarray):
    x = audio.astype(np.float32)[-WINDOW:]
    n = x.size
    values = np.zeros(WINDOW, np.float32)
    values[:n] = x
    mask = np.zeros(WINDOW, np.int64)
    mask[:n] = 1
    if n > 0:
        normed = (values - values[:n].mean()) / np.sqrt(values[:n].var() + 1e-7)
        normed[n:] = 0.0
        values = normed.astype(np.float32)
    return values, mask


def main():
    data = sys.stdin.buffer.read()
    (count,) = struct.unpack_from("<I", data, 0)
    pos = 4
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        clip = np.frombuffer(data, dtype="<f4", count=n, offset=pos)
        pos += 4 * n
        values, mask = inputs(clip)
        sys.stdout.buffer.write(values.astype("<f4").tobytes())
        sys.stdout.buffer.write(mask.astype("<i8").tobytes())


if __name__ == "__main__":
    main()
