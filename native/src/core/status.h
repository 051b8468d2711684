// What this build and this machine can do, with a reason a person can act on when something is
// missing. The CUDA side (cuda/cuda_status.h) and the TensorRT side (trt/trt_library.h) each report
// what they found; MakeStatus puts the two together. A missing GPU or TensorRT is an answer here,
// not an error.
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

/** What the CUDA side found about one device. */
struct CudaFindings {
  bool built = false;        // the addon was compiled with CUDA
  std::string toolkit;       // the CUDA version compiled against
  std::string runtime;       // "" when unknown
  std::string driver;        // "" without a driver
  std::optional<GpuInfo> gpu;  // the device asked about, when usable
  std::string problem;       // why there is no usable GPU ("" when built without CUDA: MakeStatus says that)
};

/** What the TensorRT side found. */
struct TrtFindings {
  bool built = false;    // the addon was compiled with TensorRT headers
  std::string headers;   // their version
  std::string library;   // the libnvinfer version loaded, "" when not loaded
  std::string problem;   // why it did not load (or was refused), "" when it did
};

struct NativeStatus {
  bool built_with_cuda = false;
  bool built_with_tensorrt = false;
  std::string cuda_toolkit;      // the CUDA version compiled against, "" without CUDA
  std::string tensorrt_headers;  // the TensorRT headers compiled against, "" without them
  std::string cuda_runtime;      // "" when unknown
  std::string cuda_driver;       // "" without a driver
  std::string tensorrt_library;  // "" when not loaded
  bool cuda = false;             // CUDA runtime and the device usable
  bool tensorrt = false;         // TensorRT usable for serving (CUDA too)
  std::optional<GpuInfo> gpu;    // the device asked about
  std::string reason;            // "" when everything is available; else the first blocker and its fix
};

NativeStatus MakeStatus(const CudaFindings& cuda, const TrtFindings& trt);

}  // namespace smartturn
