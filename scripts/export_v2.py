#!/usr/bin/env python3
"""Exports smart-turn v2 (pipecat-ai/smart-turn-v2) to the ONNX interface this server runs.

Upstream publishes PyTorch weights only. This script rebuilds the model class those weights belong to,
`Wav2Vec2ForEndpointing` (pipecat-ai/smart-turn onnx/convert-torch-to-onnx.py): wav2vec2-base, attention
pooling over its frames (Linear 768→256, Tanh, Linear 256→1, softmax over time, the attention mask
sampled down to the frame rate adding -1e9 where it is 0), a classifier (Linear 768→256, LayerNorm, GELU,
Dropout, Linear 256→64, GELU, Linear 64→1) and a sigmoid. The wav2vec2 encoder itself gets no attention
mask, as upstream's forward passes none (wav2vec2-base was trained without one).

ONNX interface (what ts/model/v2.ts feeds and test/fixtures/models/readout-v2.onnx mimics):
  inputs  input_values   float32 [B, 256000]  zero-mean/unit-variance over the real samples, zeros after
          attention_mask int64   [B, 256000]  1 over the real samples
  output  logits         float32 [B, 1]       the probability that the turn is complete (after sigmoid)
B is dynamic; opset 17 by default. The export is checked against PyTorch on random audio with ONNX
Runtime before it is moved into place, so a failed run never leaves a file the server would load.

Requirements: scripts/requirements-export.txt (torch, transformers, onnx, onnxruntime; safetensors and
huggingface_hub come with transformers). Weights are fetched from the Hub unless --random-init.

  npm run export:model                                   # real weights → models/smart-turn-v2.onnx
  npm run export:model -- --random-init --out /tmp/v2.onnx   # no network: same graph, random weights
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
WINDOW = 16 * 16000

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
    from transformers import Wav2Vec2Config, Wav2Vec2Model, Wav2Vec2PreTrainedModel
except ImportError as error:  # pragma: no cover - depends on the machine
    sys.exit(f"missing a requirement ({error}); install scripts/requirements-export.txt")


class Wav2Vec2ForEndpointing(Wav2Vec2PreTrainedModel):
    """smart-turn v2's model; attribute names match the published checkpoint's keys."""

    def __init__(self, config):
        super().__init__(config)
        self.wav2vec2 = Wav2Vec2Model(config)
        self.pool_attention = nn.Sequential(nn.Linear(config.hidden_size, 256), nn.Tanh(), nn.Linear(256, 1))
        self.classifier = nn.Sequential(
            nn.Linear(config.hidden_size, 256),
            nn.LayerNorm(256),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(256, 64),
            nn.GELU(),
            nn.Linear(64, 1),
        )
        self.post_init()

    def forward(self, input_values, attention_mask):
        hidden = self.wav2vec2(input_values, attention_mask=None).last_hidden_state  # [B, T, 768]
        # The sample mask at each frame's position: frame t reads sample floor(t * samples / frames).
        frames = hidden.shape[1]
        ratio = attention_mask.shape[1] / frames
        indices = (torch.arange(frames, device=attention_mask.device) * ratio).long()
        frame_mask = attention_mask[:, indices].long()

        scores = self.pool_attention(hidden)  # [B, T, 1]
        scores = scores + (1.0 - frame_mask.unsqueeze(-1).to(scores.dtype)) * -1e9
        weights = F.softmax(scores, dim=1)
        pooled = torch.sum(hidden * weights, dim=1)
        return torch.sigmoid(self.classifier(pooled))  # [B, 1]


def server_inputs(clips):
    """What ts/model/v2.ts writes for these clips: normalised, right-padded, masked."""
    values = np.zeros((len(clips), WINDOW), np.float32)
    mask = np.zeros((len(clips), WINDOW), np.int64)
    for row, clip in enumerate(clips):
        clip = clip.astype(np.float32)[-WINDOW:]
        n = clip.size
        values[row, :n] = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)
        mask[row, :n] = 1
    return values, mask


def load_model(args):
    if args.random_init:
        config = Wav2Vec2Config.from_pretrained(args.config) if args.config else Wav2Vec2Config()  # wav2vec2-base
        config._attn_implementation = "eager"
        torch.manual_seed(args.seed)
        model = Wav2Vec2ForEndpointing(config)
        source = "random weights, wav2vec2-base config" if not args.config else f"random weights, config {args.config}"
    else:
        try:
            model = Wav2Vec2ForEndpointing.from_pretrained(args.model, revision=args.revision, attn_implementation="eager")
        except OSError as error:
            sys.exit(f"could not load {args.model}@{args.revision} ({error}).\n"
                     "Without network access, pass --random-init to export the same graph with random weights.")
        source = f"{args.model}@{args.revision}"
    return model.eval(), source


def export(wrapper, example, path, opset, exporter):
    names = dict(input_names=["input_values", "attention_mask"], output_names=["logits"])
    if exporter in ("auto", "torchscript"):
        try:
            torch.onnx.export(
                wrapper, example, path, opset_version=opset, do_constant_folding=True,
                dynamic_axes={"input_values": {0: "batch"}, "attention_mask": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False, **names,
            )
            return "torchscript"
        except TypeError as error:
            # A torch without the TorchScript exporter (or without the dynamo flag) lands here.
            if exporter == "torchscript":
                raise
            print(f"TorchScript exporter unavailable ({error}); trying torch.export", file=sys.stderr)
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.onnx.export(
        wrapper, example, dynamo=True, opset_version=max(opset, 18),
        dynamic_shapes={"input_values": {0: batch}, "attention_mask": {0: batch}}, **names,
    )
    program.save(path)
    return "dynamo"


class Wrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_values, attention_mask):
        return self.model(input_values, attention_mask)


def check(model, path, atol, seed):
    """ONNX Runtime against PyTorch on random clips of different lengths, batched and alone."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(path)
    graph = onnx.load(path, load_external_data=False).graph
    inputs = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    outputs = [o.name for o in graph.output]
    assert inputs == {"input_values": onnx.TensorProto.FLOAT, "attention_mask": onnx.TensorProto.INT64}, inputs
    assert outputs == ["logits"], outputs

    rng = np.random.default_rng(seed)
    clips = [rng.standard_normal(WINDOW) * 0.1, rng.standard_normal(5 * 16000) * 0.3, rng.standard_normal(8000) * 0.05]
    values, mask = server_inputs(clips)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for rows in ([0, 1, 2], [1]):
        with torch.no_grad():
            expected = model(torch.from_numpy(values[rows]), torch.from_numpy(mask[rows])).numpy()
        got = session.run(["logits"], {"input_values": values[rows], "attention_mask": mask[rows]})[0]
        assert got.shape == (len(rows), 1), got.shape
        diff = float(np.abs(got - expected).max())
        worst = max(worst, diff)
        print(f"batch {len(rows)}: PyTorch {expected.ravel().round(6).tolist()} ONNX Runtime {got.ravel().round(6).tolist()} "
              f"max |diff| {diff:.2e}")
    if worst > atol:
        sys.exit(f"ONNX Runtime differs from PyTorch by {worst:.2e} > {atol:.0e}: not installing the export")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="pipecat-ai/smart-turn-v2", help="Hub repo or local folder with the weights")
    parser.add_argument("--revision", default="main")
    parser.add_argument("--random-init", action="store_true", help="random weights: no download needed")
    parser.add_argument("--config", help="with --random-init: a config.json (or folder) instead of wav2vec2-base defaults")
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "smart-turn-v2.onnx"))
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--exporter", choices=["auto", "torchscript", "dynamo"], default="auto")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest accepted |ONNX Runtime - PyTorch|")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.opset < 17:
        parser.error("--opset must be 17 or more")

    started = time.time()
    model, source = load_model(args)
    print(f"model: {source}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; "
          f"torch {torch.__version__}")

    wrapper = Wrapper(model).eval()
    values, mask = server_inputs([np.random.default_rng(args.seed).standard_normal(3 * 16000), np.zeros(16000)])
    example = (torch.from_numpy(values), torch.from_numpy(mask))

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=os.path.dirname(out))
    os.close(fd)
    try:
        with torch.no_grad():
            used = export(wrapper, example, tmp, args.opset, args.exporter)
        import onnx

        exported = onnx.load(tmp)
        for key, value in {"smart_turn.model": source, "smart_turn.random_init": str(args.random_init).lower()}.items():
            exported.metadata_props.add(key=key, value=value)
        onnx.save(exported, tmp)
        print(f"exported with the {used} exporter, opset {exported.opset_import[0].version}")
        check(model, tmp, args.atol, args.seed + 1)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
