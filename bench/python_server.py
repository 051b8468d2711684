#!/usr/bin/env python3
"""The Python server this project replaces, rebuilt on a CPU for bench/e2e.ts to compare against.

The original design, as its README describes it: FastAPI, POST /raw with np.save bytes, an asyncio
micro-batcher (a window of MICRO_BATCH_WINDOW_MS, batches up to the largest bucket),
PyTorch for the model; here on the CPU (PyTorch's default threads) and with smart-turn v3's input: the
last 8 s, zero-padded at the start, and Whisper log-mel features in NumPy as Pipecat's local v3
analyzer computes them (pipecat src/pipecat/audio/turn/smart_turn/_whisper_features.py: normalize,
reflect-padded frames, one batched real FFT, Slaney mel filters, log10, floor at max - 8). The model is
the stand-in module of bench/standins.py with the weights its ONNX file was exported from, so both
servers compute the same function.

    /usr/bin/python3 bench/python_server.py --onnx .cache/standins/smart-turn-v3.onnx --port 8001 \\
        [--buckets 1,2,4,8] [--window-ms 2]

Needs Debian's python3-torch, python3-numpy, python3-fastapi and python3-uvicorn (/usr/bin/python3).
"""
import argparse
import asyncio
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standins import load  # noqa: E402

RATE = 16000
WINDOW = 8 * RATE
N_FFT, HOP, N_MELS = 400, 160, 80


def slaney_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz < 1000.0, hz * 3.0 / 200.0, log_part)


def slaney_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel < 15.0, mel * 200.0 / 3.0, 1000.0 * np.exp((mel - 15.0) * (np.log(6.4) / 27.0)))


def filter_bank():
    """(201, 80): triangles between mel-spaced edges, each scaled to unit area (Slaney)."""
    edges = slaney_hz(np.linspace(0.0, slaney_mel(RATE / 2), N_MELS + 2))
    bins = np.linspace(0, RATE // 2, N_FFT // 2 + 1)[:, None]
    rising = (bins - edges[None, :-2]) / np.diff(edges)[None, :-1]
    falling = (edges[None, 2:] - bins) / np.diff(edges)[None, 1:]
    return np.clip(np.minimum(rising, falling), 0.0, None) * (2.0 / (edges[2:] - edges[:-2]))[None, :]


FILTERS = filter_bank()
HANN = np.hanning(N_FFT + 1)[:-1]  # periodic


def features(samples):
    """Pipecat's v3 input for one clip: float32 (80, 800)."""
    x = samples[-WINDOW:].astype(np.float32)
    x = np.concatenate([np.zeros(WINDOW - x.size, np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    frames = sliding_window_view(np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect"), N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * HANN, axis=-1)) ** 2  # (801, 201)
    mel = np.log10(np.maximum(1e-10, power @ FILTERS)).T[:, :-1]
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


class MicroBatcher:
    """One batch at a time on a model thread; a batch leaves when the window closes or the largest bucket fills."""

    def __init__(self, model, buckets, window_s):
        self.model = model
        self.max_batch = max(buckets)
        self.window_s = window_s
        self.queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1)

    async def predict(self, row):
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((row, future))
        return await future

    def run(self, rows):
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.stack(rows))).reshape(-1).tolist()
        return out, time.perf_counter() - t0

    async def serve(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.window_s
            while len(batch) < self.max_batch:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except asyncio.TimeoutError:
                    break
            try:
                probabilities, seconds = await loop.run_in_executor(self.executor, self.run, [row for row, _ in batch])
            except Exception as error:  # every waiting request gets an answer
                for _, future in batch:
                    future.set_exception(error)
                continue
            for (_, future), p in zip(batch, probabilities):
                future.set_result((p, seconds))


def app_for(batcher):
    app = FastAPI()

    @app.on_event("startup")
    async def start():
        asyncio.get_running_loop().create_task(batcher.serve())

    @app.get("/health")
    async def health():
        return {"ok": True}

    @app.post("/raw")
    async def raw(request: Request):
        t0 = time.perf_counter()
        samples = np.load(io.BytesIO(await request.body()), allow_pickle=False)
        probability, seconds = await batcher.predict(features(samples))
        return JSONResponse(
            {
                "prediction": int(probability > 0.5),
                "probability": probability,
                "metrics": {"inference_time": seconds, "total_time": time.perf_counter() - t0},
            }
        )

    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--onnx", required=True, help="a v3 stand-in built by bench/standins.py; its .pt weights are loaded")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--buckets", default="1,2,4,8")
    p.add_argument("--window-ms", type=float, default=2.0)
    args = p.parse_args()
    model = load("v3", args.onnx)
    with torch.inference_mode():
        model(torch.zeros(1, N_MELS, 800))  # first run allocates
    batcher = MicroBatcher(model, [int(b) for b in args.buckets.split(",")], args.window_ms / 1000)
    uvicorn.run(app_for(batcher), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
