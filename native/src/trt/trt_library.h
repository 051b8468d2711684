// TensorRT loaded at run time. A TensorRT 10 client needs only four exported symbols (everything
// else in the headers is inline, calling through the objects these return), so one build of the
// addon runs whether or not TensorRT is installed where it runs. Needs no TensorRT headers.
// Normally found by the library search path; UseDirectory (TENSORRT_LIB_DIR, a test/diagnostic
// setting) loads <dir>/libnvinfer.so.10 and <dir>/libnvonnxparser.so.10 by absolute path instead,
// which is how tests point the addon at the TensorRT stand-in (test/trt-standin/).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace smartturn {

struct TrtLibrary {
  // Signatures as declared in NvInferRuntime.h, NvInfer.h, NvOnnxParser.h and NvInferRuntimeBase.h.
  void* (*create_infer_runtime)(void* logger, int32_t version) = nullptr;
  void* (*create_infer_builder)(void* logger, int32_t version) = nullptr;
  void* (*create_onnx_parser)(void* network, void* logger, int version) = nullptr;  // null: parser library missing
  int32_t (*get_infer_lib_version)() = nullptr;

  int32_t version = 0;          // major * 10000 + minor * 100 + patch, as NV_TENSORRT_VERSION
  std::string parser_error;     // why create_onnx_parser is null

  /** Loads once and caches the outcome; throws Error(kUnavailable) with an actionable reason. */
  static const TrtLibrary& Get();
  /**
   * Where Get() loads from: "" for the library search path, else a folder. Throws Error(kState) once
   * Get() has looked elsewhere: the libraries are loaded once per process and never unloaded.
   */
  static void UseDirectory(const std::string& dir);
};

std::string TrtVersionString(int32_t version);

/** The TensorRT side of status(): the headers compiled against, the library loaded or why not. Never throws. */
TrtFindings ProbeTrt();

}  // namespace smartturn
