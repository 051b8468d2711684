#!/usr/bin/env python3
"""Generates the committed test fixtures, byte for byte reproducibly.

Run with Debian's interpreter, which has python3-numpy and python3-onnx:
    /usr/bin/python3 scripts/make_fixtures.py          # (re)write test/fixtures/
    /usr/bin/python3 scripts/make_fixtures.py --check  # exit 1 if any committed file differs

The models are value-sensitive: every sample (or feature) moves the answer through a fixed pseudo-random
read-out weight, so a test that predicts the answer from the values it sent sees a broken normalization,
a row written into the wrong place of a batch, or two clips of equal length swapped. The weights over a
clip's flat input index i (0-based):
    k   = (i * 2654435761) mod 2^32          (Knuth's multiplicative hash, a uint32 multiply that wraps)
    w_i = float32(k >> 8) * 2^-24 - 0.5      (in [-0.5, 0.5), exact in float32)
They are computed inside the graph (Range, Mul, Mod, Div, Cast on int64) rather than stored: the files
stay a few hundred bytes instead of 1 MB (v2) and 256 KB (v3), ONNX Runtime folds the constant
subgraph once when the session loads, and the native TEST executors compute the same weights from
the same formula instead of reading a table. test/helpers/fixtures.ts holds the float64 reference of
each function below, which the tests use to predict answers.

smart-turn v2's interface (inputs input_values float32 [B, 256000], attention_mask int64 [B, 256000];
output logits float32 [B, 1] holding a probability; batch dimension dynamic):
  readout-v2.onnx  c = sum(m), s = sum(w * x * m), z = 4 * s / sqrt(max(c, 1)) + 4 * (c / 256000 - 0.5),
                   logits = sigmoid(z). For normalized audio s / sqrt(c) has a spread of about 0.3, so
                   both the values and the length move z by whole units.
  slow-v2.onnx     the same function as readout-v2, with s summed through a fixed amount of real work per
                   clip: w * x * m as 500 x 512, multiplied SLOW_MATMULS times by a 512 x 512 averaging
                   matrix (which keeps every row's sum). A model with a known compute cost, for overload
                   and drain tests, whose answers are still predictable from the values.

smart-turn v3's interface (input input_features float32 [B, 80, 800]; output logits float32 [B, 1]
holding a probability, the name upstream's export gives it in pipecat-ai/smart-turn smart_turn/train.py):
  readout-v3.onnx  with j = mel * 800 + frame: z = mean(f) + 4 * sum(w_j * f_j) / sqrt(64000),
                   logits = sigmoid(z).

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
FEATURES = 80 * 800
OPSET = 17
# File names, read by test/helpers/fixtures.ts and the native stand-ins' tests.
READOUT_V2 = "readout-v2.onnx"
SLOW_V2 = "slow-v2.onnx"
READOUT_V3 = "readout-v3.onnx"


def const(name: str, dtype, dims, values):
    return helper.make_tensor(name, dtype, dims, values)


def weight_nodes(n: int) -> tuple:
    """Nodes and constants computing w, float32 [n], from the flat index, as the docstring says."""
    consts = [
        const("w_start", TensorProto.INT64, [], [0]),
        const("w_limit", TensorProto.INT64, [], [n]),
        const("w_delta", TensorProto.INT64, [], [1]),
        const("w_golden", TensorProto.INT64, [], [2654435761]),
        const("w_wrap", TensorProto.INT64, [], [2**32]),
        const("w_shift", TensorProto.INT64, [], [256]),
        const("w_unit", TensorProto.FLOAT, [], [2.0**-24]),
        const("w_half", TensorProto.FLOAT, [], [0.5]),
    ]
    nodes = [
        helper.make_node("Range", ["w_start", "w_limit", "w_delta"], ["w_index"]),
        # i < 2^18 and the multiplier < 2^32: the product fits in int64 before the wrap.
        helper.make_node("Mul", ["w_index", "w_golden"], ["w_product"]),
        helper.make_node("Mod", ["w_product", "w_wrap"], ["w_hash"]),
        helper.make_node("Div", ["w_hash", "w_shift"], ["w_top24"]),  # non-negative: a shift
        helper.make_node("Cast", ["w_top24"], ["w_top24f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_top24f", "w_unit"], ["w_unit_interval"]),
        helper.make_node("Sub", ["w_unit_interval", "w_half"], ["w"]),
    ]
    return nodes, consts


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


def v2_model(name: str, sum_nodes: list, sum_consts: list) -> bytes:
    """The v2 read-out around `sum_nodes`, which turn `weighted` [B, WINDOW] into `s` [B, 1]."""
    x, mask, out = v2_interface()
    w_nodes, w_consts = weight_nodes(WINDOW)
    consts = w_consts + sum_consts + [
        const("axes", TensorProto.INT64, [1], [1]),
        const("window", TensorProto.FLOAT, [], [float(WINDOW)]),
        const("four", TensorProto.FLOAT, [], [4.0]),
        const("half", TensorProto.FLOAT, [], [0.5]),
        const("one", TensorProto.FLOAT, [], [1.0]),
    ]
    nodes = w_nodes + [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["input_values", "maskf"], ["masked"]),
        helper.make_node("Mul", ["masked", "w"], ["weighted"]),
    ] + sum_nodes + [
        helper.make_node("ReduceSum", ["maskf", "axes"], ["count"], keepdims=1),
        # max(count, 1): a fully masked row gives z = -2, not NaN.
        helper.make_node("Max", ["count", "one"], ["safe_count"]),
        helper.make_node("Sqrt", ["safe_count"], ["root_count"]),
        helper.make_node("Div", ["s", "root_count"], ["scaled"]),
        helper.make_node("Mul", ["scaled", "four"], ["value_term"]),
        helper.make_node("Div", ["count", "window"], ["fraction"]),
        helper.make_node("Sub", ["fraction", "half"], ["centred"]),
        helper.make_node("Mul", ["centred", "four"], ["length_term"]),
        helper.make_node("Add", ["value_term", "length_term"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["logits"]),
    ]
    return serialize(nodes, name, [x, mask], out, consts)


def readout_v2_model() -> bytes:
    return v2_model("readout_v2", [helper.make_node("ReduceSum", ["weighted", "axes"], ["s"], keepdims=1)], [])


SLOW_MATMULS = 16


def slow_v2_model() -> bytes:
    consts = [
        const("chunks", TensorProto.INT64, [3], [0, 500, 512]),
        const("flat", TensorProto.INT64, [2], [0, WINDOW]),
        const("square", TensorProto.INT64, [2], [512, 512]),
    ]
    nodes = [
        # Built in the graph rather than stored, so the file stays small.
        helper.make_node("ConstantOfShape", ["square"], ["average"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0 / 512])),
        helper.make_node("Reshape", ["weighted", "chunks"], ["work0"]),
    ]
    for i in range(SLOW_MATMULS):
        nodes.append(helper.make_node("MatMul", [f"work{i}", "average"], [f"work{i + 1}"]))
    nodes += [
        helper.make_node("Reshape", [f"work{SLOW_MATMULS}", "flat"], ["worked"]),
        helper.make_node("ReduceSum", ["worked", "axes"], ["s"], keepdims=1),
    ]
    return v2_model("slow_v2", nodes, consts)


def readout_v3_model() -> bytes:
    B = "batch"
    x = helper.make_tensor_value_info("input_features", TensorProto.FLOAT, [B, 80, 800])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [B, 1])
    w_nodes, w_consts = weight_nodes(FEATURES)
    consts = w_consts + [
        const("flat", TensorProto.INT64, [2], [0, FEATURES]),
        const("axes", TensorProto.INT64, [1], [1]),
        const("scale", TensorProto.FLOAT, [], [4.0 / float(np.sqrt(FEATURES))]),
    ]
    nodes = w_nodes + [
        helper.make_node("Reshape", ["input_features", "flat"], ["f"]),
        # Opset 17 ReduceMean takes axes as an attribute (ReduceSum takes them as an input since 13).
        helper.make_node("ReduceMean", ["f"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["f", "w"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "axes"], ["s"], keepdims=1),
        helper.make_node("Mul", ["s", "scale"], ["value_term"]),
        helper.make_node("Add", ["mean", "value_term"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["logits"]),
    ]
    return serialize(nodes, "readout_v3", [x], out, consts)


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
        os.path.join("models", READOUT_V2): readout_v2_model(),
        os.path.join("models", SLOW_V2): slow_v2_model(),
        os.path.join("models", READOUT_V3): readout_v3_model(),
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
