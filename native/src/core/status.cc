#include "core/status.h"

#include "core/error.h"
#include "trt/trt_library.h"

#ifdef ST_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_check.h"
#endif

namespace smartturn {
namespace {

#ifdef ST_WITH_CUDA
std::string CudaVersionString(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
#endif

constexpr const char* kRebuild = "then rebuild the addon: npm run build:native";

}  // namespace

NativeStatus ProbeStatus() {
  NativeStatus s;
#ifdef ST_WITH_TENSORRT
  s.built_with_tensorrt = true;
  s.tensorrt_headers = ST_TENSORRT_HEADERS_VERSION;
#endif
#ifdef ST_WITH_CUDA
  s.built_with_cuda = true;
  s.cuda_toolkit = CudaVersionString(CUDART_VERSION);
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) s.cuda_runtime = CudaVersionString(runtime);
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) s.cuda_driver = CudaVersionString(driver);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    s.reason = "no usable GPU: cudaGetDeviceCount failed: " + CudaErrorText(status) +
               (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice
                    ? "; install an NVIDIA driver that supports CUDA " + s.cuda_toolkit + " on a machine with an NVIDIA GPU"
                    : "");
  } else if (count == 0) {
    s.reason = "no CUDA device visible (check CUDA_VISIBLE_DEVICES and the container's GPU access)";
  } else {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      s.gpu = GpuInfo{0, prop.name, prop.major, prop.minor, prop.totalGlobalMem};
      s.cuda = true;
    } else {
      cudaGetLastError();
      s.reason = "cudaGetDeviceProperties failed for device 0";
    }
  }
#else
  s.reason = "this addon was built without CUDA: no CUDA toolkit was found at build time; install one (or set CUDA_PATH) " +
             std::string(kRebuild);
#endif

  // TensorRT is probed even when it cannot be used, so the report says everything that is missing.
  std::string trt_reason;
  try {
    s.tensorrt_library = TrtVersionString(TrtLibrary::Get().version);
  } catch (const Error& e) {
    trt_reason = e.what();
  }
#ifdef ST_WITH_TENSORRT
  if (trt_reason.empty() && s.cuda) s.tensorrt = true;
#else
  trt_reason = "this addon was built without TensorRT support: no TensorRT 10 headers (NvInfer.h, NvOnnxParser.h) were found at "
               "build time; set TENSORRT_ROOT to a TensorRT 10 install " + std::string(kRebuild);
#endif
  if (s.reason.empty()) {
    s.reason = trt_reason;
  } else if (!trt_reason.empty()) {
    s.reason += "; also " + trt_reason;
  }
  return s;
}

}  // namespace smartturn
