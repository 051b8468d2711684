#!/usr/bin/env python3
"""Random-weight stand-ins for smart-turn v2 and v3, in plain PyTorch (no transformers), for benchmarks.

The real weights cannot be downloaded here; speed depends on the architecture, not on the weights, so
these modules rebuild the exact layer shapes and export them with the server's ONNX interface:

  v2  Wav2Vec2ForEndpointing (pipecat-ai/smart-turn inference.py / onnx/convert-torch-to-onnx.py):
      wav2vec2-base (7-layer conv feature encoder 512 ch with GroupNorm on the first layer, feature
      projection 512→768, positional conv embedding k=128 g=16, 12 post-LN transformer layers,
      768 hidden, 12 heads, FFN 3072), attention pooling (768→256 Tanh →1, softmax over frames, frame
      mask sampled from attention_mask), classifier (768→256 LN GELU →64 GELU →1), sigmoid.
      inputs input_values float32 [B, 256000], attention_mask int64 [B, 256000]; output logits [B, 1].
  v3  SmartTurnV3Model (pipecat-ai/smart-turn smart_turn/train.py): Whisper-tiny encoder
      (conv 80→384 k3, conv 384→384 k3 s2, 400 positions, 4 pre-LN layers, 6 heads, FFN 1536), the
      same pooling and classifier on 384, sigmoid. input input_features float32 [B, 80, 800];
      output logits [B, 1].

The positional conv's weight norm is folded into a plain Conv1d (what it is at inference).

    /usr/bin/python3 bench/standins.py build [--out .cache/standins] [--models v2,v3] [--tiny]
    /usr/bin/python3 bench/standins.py torch-bench --model v2 --batches 1,4,16 --reps 3,2,1 [--threads 2]
    /usr/bin/python3 bench/standins.py flops [--json]

`build` writes <out>/smart-turn-v2.onnx and smart-turn-v3.onnx (opset 17, dynamic batch), and beside
each the PyTorch weights it was exported from (<name>.pt, a state_dict: what bench/python_server.py
serves, so that both servers run the same weights), skipping a model whose files are already there for
the same script version. `--tiny` builds the same modules with few, narrow
layers (for tests). `torch-bench` prints one JSON line per batch size: PyTorch CPU, the original
server's framework, as the baseline bench/model.ts compares ONNX Runtime with.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
V2_SAMPLES = 16 * 16000
V3_MELS, V3_FRAMES = 80, 800
OPSET = 17
# Bumped when a module changes, so a cached export is rebuilt.
VERSION = "2"


def attention(q, k, v, bias, scale):
    """Scaled dot-product attention; the fused kernel where this torch has one (2.x), not when exporting."""
    if hasattr(F, "scaled_dot_product_attention") and not torch.onnx.is_in_onnx_export():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if bias is not None:
        scores = scores + bias
    return torch.matmul(F.softmax(scores, dim=-1), v)


class SelfAttention(nn.Module):
    def __init__(self, d, heads, k_bias=True):
        super().__init__()
        self.heads = heads
        self.scale = (d // heads) ** -0.5
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d, bias=k_bias)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, bias=None):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        out = attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)), bias, self.scale)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class PostLNLayer(nn.Module):
    """wav2vec2-base's encoder layer (do_stable_layer_norm=False)."""

    def __init__(self, d, heads, ffn):
        super().__init__()
        self.attention = SelfAttention(d, heads)
        self.layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x, bias):
        x = self.layer_norm(x + self.attention(x, bias))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class PreLNLayer(nn.Module):
    """Whisper's encoder layer."""

    def __init__(self, d, heads, ffn):
        super().__init__()
        self.self_attn = SelfAttention(d, heads, k_bias=False)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x):
        x = x + self.self_attn(self.self_attn_layer_norm(x))
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class EndpointHead(nn.Module):
    """Attention pooling + classifier, as upstream's v2 and v3 models share them."""

    def __init__(self, d):
        super().__init__()
        self.pool_attention = nn.Sequential(nn.Linear(d, 256), nn.Tanh(), nn.Linear(256, 1))
        self.classifier = nn.Sequential(
            nn.Linear(d, 256), nn.LayerNorm(256), nn.GELU(), nn.Dropout(0.1), nn.Linear(256, 64), nn.GELU(), nn.Linear(64, 1)
        )

    def forward(self, hidden, frame_mask=None):
        weights = self.pool_attention(hidden)
        if frame_mask is not None:
            weights = weights + (1.0 - frame_mask.unsqueeze(-1).to(weights.dtype)) * -1e9
        pooled = torch.sum(hidden * F.softmax(weights, dim=1), dim=1)
        return torch.sigmoid(self.classifier(pooled))


# wav2vec2-base: conv_dim 512 x7, conv_kernel, conv_stride.
W2V_KERNELS = (10, 3, 3, 3, 3, 2, 2)
W2V_STRIDES = (5, 2, 2, 2, 2, 2, 2)


class Wav2Vec2Endpointing(nn.Module):
    def __init__(self, hidden=768, layers=12, heads=12, ffn=3072, conv=512, pos_kernel=128, pos_groups=16):
        super().__init__()
        convs = []
        for i, (k, s) in enumerate(zip(W2V_KERNELS, W2V_STRIDES)):
            convs.append(nn.Conv1d(1 if i == 0 else conv, conv, k, stride=s, bias=False))
        self.conv_layers = nn.ModuleList(convs)
        self.conv_norm = nn.GroupNorm(conv, conv)  # feat_extract_norm="group": first layer only
        self.projection_norm = nn.LayerNorm(conv)
        self.projection = nn.Linear(conv, hidden)
        self.pos_conv = nn.Conv1d(hidden, hidden, pos_kernel, padding=pos_kernel // 2, groups=pos_groups)
        self.encoder_norm = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList(PostLNLayer(hidden, heads, ffn) for _ in range(layers))
        self.head = EndpointHead(hidden)

    def forward(self, input_values, attention_mask):
        x = input_values.unsqueeze(1)
        for i, layer in enumerate(self.conv_layers):
            x = layer(x)
            if i == 0:
                x = self.conv_norm(x)
            x = F.gelu(x)
        x = self.projection(self.projection_norm(x.transpose(1, 2)))
        frames = x.shape[1]
        # Frames whose receptive field starts inside the real audio (HF's feature-vector attention mask).
        lengths = attention_mask.sum(-1)
        for k, s in zip(W2V_KERNELS, W2V_STRIDES):
            lengths = torch.div(lengths - k, s, rounding_mode="floor") + 1
        valid = (torch.arange(frames, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype)
        x = x * valid.unsqueeze(-1)
        pos = F.gelu(self.pos_conv(x.transpose(1, 2))[:, :, :-1])
        x = self.encoder_norm(x + pos.transpose(1, 2))
        bias = ((1.0 - valid) * torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        # Upstream samples the sample-rate mask at frame positions for the pooling.
        step = attention_mask.shape[1] / frames
        indices = (torch.arange(frames, device=x.device) * step).long()
        return self.head(x, attention_mask[:, indices])


class WhisperEndpointing(nn.Module):
    def __init__(self, mels=V3_MELS, d=384, layers=4, heads=6, ffn=1536, positions=400):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.embed_positions = nn.Parameter(torch.randn(positions, d) * 0.02)
        self.layers = nn.ModuleList(PreLNLayer(d, heads, ffn) for _ in range(layers))
        self.layer_norm = nn.LayerNorm(d)
        self.head = EndpointHead(d)

    def forward(self, input_features):
        x = F.gelu(self.conv2(F.gelu(self.conv1(input_features)))).transpose(1, 2)
        x = x + self.embed_positions
        for layer in self.layers:
            x = layer(x)
        return self.head(self.layer_norm(x))


TINY = {
    "v2": dict(hidden=32, layers=1, heads=2, ffn=64, conv=16, pos_kernel=16, pos_groups=2),
    "v3": dict(d=32, layers=1, heads=2, ffn=64),
}


def make(model, tiny=False, seed=0):
    torch.manual_seed(seed)
    kwargs = TINY[model] if tiny else {}
    module = Wav2Vec2Endpointing(**kwargs) if model == "v2" else WhisperEndpointing(**kwargs)
    return module.eval()


def example(model, batch, dtype=torch.float32, device="cpu", seed=0):
    """Inputs as the server feeds them: v2 a clip of 3-16 s, normalized, zero-padded, with its mask."""
    g = torch.Generator().manual_seed(seed)
    if model == "v3":
        return (torch.randn(batch, V3_MELS, V3_FRAMES, generator=g).to(device, dtype),)
    values = torch.randn(batch, V2_SAMPLES, generator=g)
    mask = torch.zeros(batch, V2_SAMPLES, dtype=torch.int64)
    for i in range(batch):
        n = int(torch.randint(3 * 16000, V2_SAMPLES + 1, (1,), generator=g))
        mask[i, :n] = 1
        values[i, n:] = 0
    return values.to(device, dtype), mask.to(device)


def export(model, path, tiny=False):
    """Writes the ONNX file at `path` and the module's state_dict beside it (.pt)."""
    module = make(model, tiny)
    names = ["input_features"] if model == "v3" else ["input_values", "attention_mask"]
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            module,
            example(model, 2),
            tmp,
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch"} for n in names}, "logits": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    os.replace(tmp, path)
    torch.save(module.state_dict(), weights_path(path))


def weights_path(onnx_path):
    return onnx_path[: -len(".onnx")] + ".pt"


def load(model, onnx_path):
    """The PyTorch module with the weights `build` exported to `onnx_path`."""
    module = make(model, tiny=onnx_path.endswith("-tiny.onnx"))
    module.load_state_dict(torch.load(weights_path(onnx_path)))
    return module.eval()


def build(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for model in args.models.split(","):
        path = os.path.join(out, f"smart-turn-{model}{'-tiny' if args.tiny else ''}.onnx")
        stamp = path + ".version"
        fresh = all(os.path.exists(p) for p in (path, weights_path(path), stamp))
        if fresh and open(stamp).read() == VERSION:
            print(f"{path} is up to date", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        export(model, path, args.tiny)
        with open(stamp, "w") as f:
            f.write(VERSION)
        print(f"built {path} ({os.path.getsize(path) / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def torch_bench(args):
    module = make(args.model)
    batches = [int(b) for b in args.batches.split(",")]
    reps = [int(r) for r in args.reps.split(",")]
    reps += [reps[-1]] * (len(batches) - len(reps))
    with torch.inference_mode():
        # Thread count tuned at the first batch size, as bench/model.ts tunes ONNX Runtime's: on a busy
        # 2-core machine one thread can beat two.
        candidates = [args.threads] if args.threads else list(range(1, (os.cpu_count() or 1) + 1))
        inputs = example(args.model, batches[0])
        module(*inputs)  # first run allocates
        best = None
        for threads in candidates:
            torch.set_num_threads(threads)
            took = []
            for _ in range(2):
                t0 = time.perf_counter()
                module(*inputs)
                took.append(time.perf_counter() - t0)
            if best is None or min(took) < best[1]:
                best = (threads, min(took))
        torch.set_num_threads(best[0])
        for i, (batch, n) in enumerate(zip(batches, reps)):
            inputs = example(args.model, batch)
            if i > 0 and batch <= 4:
                module(*inputs)  # a new shape's first run; skipped for big batches, where it is minutes of v2
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                module(*inputs)
                times.append(time.perf_counter() - t0)
            print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "model": args.model, "batch": batch, "seconds": times}), flush=True)


def flops_v2(seconds=16.0):
    """Multiply-adds x2 of the v2 architecture for one clip of `seconds` (the server pads to 16 s)."""
    n = int(seconds * 16000)
    total, c_in = 0, 1
    for k, s in zip(W2V_KERNELS, W2V_STRIDES):
        n = (n - k) // s + 1
        total += 2 * n * 512 * c_in * k
        c_in = 512
    t, d = n, 768
    total += 2 * t * 512 * d  # projection
    total += 2 * t * d * (d // 16) * 128  # positional conv
    per_layer = 2 * t * (4 * d * d + 2 * d * 3072) + 2 * 2 * t * t * d
    return total + 12 * per_layer, t


def flops_v3():
    """Multiply-adds x2 of the v3 architecture for one 8 s clip (80 x 800 features, 400 frames)."""
    t, d = 400, 384
    total = 2 * 800 * d * V3_MELS * 3 + 2 * t * d * d * 3
    per_layer = 2 * t * (4 * d * d + 2 * d * 1536) + 2 * 2 * t * t * d
    return total + 4 * per_layer


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", default=os.path.join(ROOT, ".cache", "standins"))
    b.add_argument("--models", default="v2,v3")
    b.add_argument("--tiny", action="store_true")
    t = sub.add_parser("torch-bench")
    t.add_argument("--model", choices=["v2", "v3"], required=True)
    t.add_argument("--batches", default="1,4,16")
    t.add_argument("--reps", default="3")
    t.add_argument("--threads", type=int, default=0)
    fl = sub.add_parser("flops")
    fl.add_argument("--json", action="store_true", help="GFLOP per clip as the server runs them: v2 16 s, v3 8 s")
    args = p.parse_args()
    if args.cmd == "build":
        build(args)
    elif args.cmd == "torch-bench":
        torch_bench(args)
    elif args.json:
        print(json.dumps({"v2": flops_v2(16.0)[0] / 1e9, "v3": flops_v3() / 1e9}))
    else:
        print(f"v3 8 s clip: {flops_v3() / 1e9:.1f} GFLOP (400 frames)")
        for s in (8.0, 16.0):
            f, t = flops_v2(s)
            print(f"v2 {s:.0f} s clip: {f / 1e9:.1f} GFLOP ({t} frames)")


if __name__ == "__main__":
    main()
