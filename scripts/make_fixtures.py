#!/usr/bin/env python3
"""Generates the committed test fixtures, byte for byte reproducibly.

Run with Debian's interpreter, which has python3-numpy and python3-onnx:
    /usr/bin/python3 scripts/make_fixtures.py          # (re)write test/fixtures/
    /usr/bin/python3 scripts/make_fixtures.py --check  # exit 1 if any committed file differs

Models (smart-turn v2's interface: inputs input_values float32 [B, 256000], attention_mask int64
[B, 256000]; output logits float32 [B, 1] holding a probability; batch dimension dynamic):
  mean-v2.onnx  p = sigmoid(masked_mean(input_values) + 8 * (valid_fraction - 0.5))
                where valid_fraction = sum(attention_mask) / 256000. Cheap (one pass), and its answer
                depends on both the values and the length, so tests can predict it exactly.

  slow-v2.onnx  the same answer as mean-v2 for normalized audio (sigmoid(8 * (valid_fraction - 0.5)))
                after a fixed amount of real work per clip: the clip as 500 x 512, multiplied SLOW_MATMULS
                times by a 512 x 512 averaging matrix (an idempotent no-op on the result). A model with a
                known compute cost, for overload and drain tests.

smart-turn v3's interface (input input_features float32 [B, 80, 800]; output logits float32 [B, 1]
holding a probability, the name upstream's export gives it in pipecat-ai/smart-turn smart_turn/train.py):
  mean-v3.onnx  p = sigmoid(mean(input_features)) over the 80 x 800 features of each clip.

.npy files: one short clip (1600 samples of a known ramp) in every dtype, format version and shape
np.save can write for mono audio, plus a few that must be rejected.
"""
import io
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
WINDOW = 16 * 16000
OPSET = 17


def length_logit_nodes() -> list:
    """logits = sigmoid(mean + 8 * (count / window - 0.5)), from tensors named mean and count."""
    return [
        helper.make_node("Div", ["count", "window"], ["fraction"]),
        helper.make_node("Sub", ["fraction", "half"], ["centred"]),
        helper.make_node("Mul", ["centred", "eight"], ["length_term"]),
        helper.make_node("Add", ["mean", "length_term"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["logits"]),
    ]


def serialize(nodes, name, inputs, output, initializer=()) -> bytes:
    graph = helper.make_graph(nodes, name, inputs, [output], initializer=list(initializer))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="smart-turn-serving fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def v2_interface():
    """smart-turn v2's inputs and output, batch dimension dynamic."""
    return (
        helper.make_tensor_value_info("input_values", TensorProto.FLOAT, ["batch", WINDOW]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", WINDOW]),
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1]),
    )


def mean_v2_model() -> bytes:
    x, mask, out = v2_interface()
    consts = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("window", TensorProto.FLOAT, [], [float(WINDOW)]),
        helper.make_tensor("eight", TensorProto.FLOAT, [], [8.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
    ]
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["input_values", "maskf"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axes"], ["total"], keepdims=1),
        helper.make_node("ReduceSum", ["maskf", "axes"], ["count"], keepdims=1),
        # max(count, 1): a fully masked row gives 0, not NaN.
        helper.make_node("Max", ["count", "one"], ["safe_count"]),
        helper.make_node("Div", ["total", "safe_count"], ["mean"]),
    ] + length_logit_nodes()
    return serialize(nodes, "mean_v2", [x, mask], out, consts)


SLOW_MATMULS = 16


def slow_v2_model() -> bytes:
    x, mask, out = v2_interface()
    consts = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("chunks", TensorProto.INT64, [3], [0, 500, 512]),
        helper.make_tensor("flat", TensorProto.INT64, [2], [0, WINDOW]),
        helper.make_tensor("square", TensorProto.INT64, [2], [512, 512]),
        helper.make_tensor("window", TensorProto.FLOAT, [], [float(WINDOW)]),
        helper.make_tensor("eight", TensorProto.FLOAT, [], [8.0]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
    ]
    nodes = [
        # Built in the graph rather than stored, so the file stays small.
        helper.make_node("ConstantOfShape", ["square"], ["average"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0 / 512])),
        helper.make_node("Reshape", ["input_values", "chunks"], ["work0"]),
    ]
    for i in range(SLOW_MATMULS):
        nodes.append(helper.make_node("MatMul", [f"work{i}", "average"], [f"work{i + 1}"]))
    nodes += [
        helper.make_node("Reshape", [f"work{SLOW_MATMULS}", "flat"], ["worked"]),
        helper.make_node("ReduceSum", ["worked", "axes"], ["total"], keepdims=1),
        helper.make_node("Div", ["total", "window"], ["mean"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["maskf", "axes"], ["count"], keepdims=1),
    ] + length_logit_nodes()
    return serialize(nodes, "slow_v2", [x, mask], out, consts)


def mean_v3_model() -> bytes:
    B = "batch"
    x = helper.make_tensor_value_info("input_features", TensorProto.FLOAT, [B, 80, 800])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [B, 1])
    nodes = [
        # Opset 17 ReduceMean takes axes as an attribute (an input from opset 18).
        helper.make_node("ReduceMean", ["input_features"], ["per_mel"], axes=[2], keepdims=0),
        helper.make_node("ReduceMean", ["per_mel"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sigmoid", ["mean"], ["logits"]),
    ]
    return serialize(nodes, "mean_v3", [x], out)


def npy_bytes(array: np.ndarray, version=None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def npy_fixtures() -> dict:
    ramp = (np.arange(1600, dtype=np.float64) / 1600.0 - 0.5).astype(np.float32)  # exact in every dtype below
    files = {
        "f4.npy": npy_bytes(ramp),
        "f4-v2.npy": npy_bytes(ramp, (2, 0)),
        "f4-v3.npy": npy_bytes(ramp, (3, 0)),
        "f4-big-endian.npy": npy_bytes(ramp.astype(">f4")),
        "f8.npy": npy_bytes(ramp.astype(np.float64)),
        "i2.npy": npy_bytes((ramp * 32768).astype(np.int16)),
        "f4-row.npy": npy_bytes(ramp.reshape(1, -1)),
        "f4-column.npy": npy_bytes(ramp.reshape(-1, 1)),
        "f4-fortran-column.npy": npy_bytes(np.asfortranarray(ramp.reshape(-1, 1))),
        # Rejected:
        "stereo.npy": npy_bytes(np.stack([ramp, ramp])),
        "empty.npy": npy_bytes(np.zeros(0, dtype=np.float32)),
        "nan.npy": npy_bytes(np.array([0.0, np.nan, 0.0], dtype=np.float32)),
        "inf.npy": npy_bytes(np.array([0.0, np.inf], dtype=np.float32)),
        "object.npy": npy_bytes(np.array([1, "a"], dtype=object)),
        "i4.npy": npy_bytes(np.arange(10, dtype=np.int32)),
        "structured.npy": npy_bytes(np.zeros(3, dtype=[("a", "<f4"), ("b", "<f4")])),
    }
    return {os.path.join("npy", k): v for k, v in files.items()}


def all_fixtures() -> dict:
    files = {
        os.path.join("models", "mean-v2.onnx"): mean_v2_model(),
        os.path.join("models", "slow-v2.onnx"): slow_v2_model(),
        os.path.join("models", "mean-v3.onnx"): mean_v3_model(),
    }
    files.update(npy_fixtures())
    return files


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for rel, data in sorted(all_fixtures().items()):
        path = os.path.join(ROOT, rel)
        current = open(path, "rb").read() if os.path.exists(path) else None
        if current == data:
            continue
        if check:
            stale.append(rel)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print(f"wrote test/fixtures/{rel} ({len(data)} bytes)")
    if stale:
        print("fixtures differ from what the script makes: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
