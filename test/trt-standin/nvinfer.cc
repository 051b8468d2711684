// libnvinfer.so.10 of the stand-in: the exported factories. Like TensorRT, a runtime or builder
// needs a usable CUDA device: without one they log "CUDA initialization failure" and return null.
#include <cuda_runtime_api.h>

#include "factories.h"

namespace trt_standin {
namespace {

bool CurrentDevice(nvinfer1::ILogger* logger, Device& device) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count == 0) status = cudaErrorNoDevice;
  cudaDeviceProp prop{};
  if (status == cudaSuccess) status = cudaGetDevice(&device.index);
  if (status == cudaSuccess) status = cudaGetDeviceProperties(&prop, device.index);
  if (status != cudaSuccess) {
    cudaGetLastError();
    Log(logger, Severity::kWARNING,
        "CUDA initialization failure with error: " + std::to_string(static_cast<int>(status)) + " (" + cudaGetErrorString(status) +
            "). Please check your CUDA installation: http://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html");
    return false;
  }
  device.major = prop.major;
  device.minor = prop.minor;
  device.name = prop.name;
  return true;
}

bool VersionMatches(nvinfer1::ILogger* logger, int32_t version) {
  if (version / 10000 == NV_TENSORRT_MAJOR) return true;
  Log(logger, Severity::kERROR,
      "the caller was compiled against TensorRT " + std::to_string(version) + ", this library is " + VersionString() + " (major versions differ)");
  return false;
}

}  // namespace
}  // namespace trt_standin

using trt_standin::Device;

extern "C" TENSORRTAPI void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept {
  auto* log = static_cast<nvinfer1::ILogger*>(logger);
  Device device;
  if (!trt_standin::VersionMatches(log, version) || !trt_standin::CurrentDevice(log, device)) return nullptr;
  return trt_standin::NewRuntime(log, device);
}

extern "C" TENSORRTAPI void* createInferBuilder_INTERNAL(void* logger, int32_t version) noexcept {
  auto* log = static_cast<nvinfer1::ILogger*>(logger);
  Device device;
  if (!trt_standin::VersionMatches(log, version) || !trt_standin::CurrentDevice(log, device)) return nullptr;
  return trt_standin::NewBuilder(log, device);
}

extern "C" TENSORRTAPI int32_t getInferLibVersion() noexcept { return trt_standin::LibraryVersion(); }
