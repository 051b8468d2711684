// What this build and this machine can do, with a reason a person can act on when something is
// missing. Never throws: a missing GPU or TensorRT is an answer here, not an error.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace smartturn {

struct GpuInfo {
  int index = 0;
  std::string name;
  int major = 0;  // compute capability
  int minor = 0;
  std::size_t memory_bytes = 0;
};

struct NativeStatus {
  bool built_with_cuda = false;
  bool built_with_tensorrt = false;
  std::string cuda_toolkit;      // the CUDA version compiled against, "" without CUDA
  std::string tensorrt_headers;  // the TensorRT headers compiled against, "" without them
  std::string cuda_runtime;      // "" when unknown
  std::string cuda_driver;       // "" without a driver
  std::string tensorrt_library;  // "" when not loaded
  bool cuda = false;             // CUDA runtime and a device usable
  bool tensorrt = false;         // TensorRT usable for serving (CUDA too)
  std::optional<GpuInfo> gpu;    // device 0
  std::string reason;            // "" when everything is available; else the first blocker and its fix
};

NativeStatus ProbeStatus();

}  // namespace smartturn
