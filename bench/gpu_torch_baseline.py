#!/usr/bin/env python3
"""GPU baseline for smart-turn v2: the original server's approach (PyTorch, bf16, CUDA graphs per batch size).

    python3 bench/gpu_torch_baseline.py [--batches 16,32,64] [--iters 20] [--budget 150]

Runs the plain-PyTorch v2 architecture from bench/standins.py (wav2vec2-base + attention pooling head,
random weights: speed does not depend on them) on inputs shaped as the server sends them (B x 256000
samples, 16 s windows, with attention masks of clips 3-16 s long). For each batch size: eager time, then
one CUDA graph captured and replayed `--iters` times, timed with CUDA events. Needs torch with CUDA; no
network, no transformers. Stops starting new batch sizes once `--budget` seconds have passed, so the
whole run stays within about 3 minutes on an H100/H200. The TensorRT backend's numbers are to beat these.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from standins import example, flops_v2, make  # noqa: E402


def timed(fn, iters):
    """Milliseconds per call, measured on the GPU with events."""
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", default="16,32,64")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--budget", type=float, default=150.0, help="seconds after which no new batch size is started")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this baseline needs a GPU")

    began = time.perf_counter()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = torch.bfloat16
    model = make("v2").to("cuda", dtype)
    gflop, frames = flops_v2(16.0)
    props = torch.cuda.get_device_properties(0)
    print(f"# smart-turn v2 architecture, PyTorch {torch.__version__} (CUDA {torch.version.cuda}), {props.name}, bf16, CUDA graphs")
    print(f"# {gflop / 1e9:.0f} GFLOP per 16 s clip ({frames} frames); inputs [B, 256000] float + int64 mask\n")
    print("| batch | eager ms/batch | graph ms/batch (median, p90) | clips/s (graph) | ms/clip | TFLOP/s |")
    print("|---|---|---|---|---|---|")
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        if time.perf_counter() - began > args.budget:
            print(f"| {batch} | skipped: past the {args.budget:.0f} s budget | | | | |")
            continue
        try:
            values, mask = example("v2", batch, dtype=dtype, device="cuda")
            with torch.inference_mode():
                for _ in range(2):
                    out = model(values, mask)
                torch.cuda.synchronize()
                assert out.shape == (batch, 1) and torch.isfinite(out.float()).all(), f"bad output {tuple(out.shape)}"
                eager = statistics.median(timed(lambda: model(values, mask), 3))
                # Capture on a side stream after warm-up, as torch.cuda.graphs documents.
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    for _ in range(2):
                        model(values, mask)
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    static_out = model(values, mask)
                graph.replay()
                torch.cuda.synchronize()
                assert torch.allclose(static_out.float(), out.float(), atol=2e-2), "graph replay differs from eager"
                times = sorted(timed(graph.replay, args.iters))
            med = statistics.median(times)
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            rate = batch / (med / 1000)
            rows.append((batch, rate))
            print(f"| {batch} | {eager:.1f} | {med:.1f} ({p90:.1f}) | {rate:.0f} | {med / batch:.2f} | {gflop * rate / 1e12:.0f} |", flush=True)
            del graph, static_out, values, mask, out
            torch.cuda.empty_cache()
        except torch.cuda.OutOfMemoryError:
            print(f"| {batch} | out of GPU memory | | | | |", flush=True)
            torch.cuda.empty_cache()
    print(f"\npeak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB; total run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
