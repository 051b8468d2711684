// ONNX -> TensorRT plan for one bucket, through the dlopen'ed builder and ONNX parser.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace smartturn {

enum class Precision { kBFloat16, kFloat16, kFloat32 };

struct BuildOptions {
  std::string onnx_path;
  std::string plan_path;
  int bucket = 0;
  Precision precision = Precision::kBFloat16;
  std::size_t workspace_bytes = 0;  // 0: TensorRT's default (the device's memory)
  std::string timing_cache_path;    // "": none; read if present, written after the build
  int device = 0;
};

struct BuildResult {
  std::string tensorrt_version;
  std::vector<TensorSpec> inputs;  // per-row shapes, as the plan's I/O
  std::vector<TensorSpec> outputs;
  std::size_t plan_bytes = 0;
  int layers_kept_fp32 = 0;  // normalization layers pinned to fp32 (float16 only)
  bool tf32 = false;         // BuilderFlag::kTF32 as the plan was built (cleared for float32)
  std::size_t activation_bytes = 0;  // the engine's getDeviceMemorySizeV2(): one batch's activations
  std::string layer_information;     // IEngineInspector's JSON: every layer with its inputs' and outputs' formats
};

/** Blocking (minutes): call off the JS thread. */
BuildResult BuildEngine(const BuildOptions& options);

}  // namespace smartturn
