#include "cuda/cuda_status.h"

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.h"

namespace smartturn {
namespace {

std::string CudaVersionString(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

CudaFindings ProbeCuda(int device) {
  CudaFindings f;
  f.built = true;
  f.toolkit = CudaVersionString(CUDART_VERSION);
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) f.runtime = CudaVersionString(runtime);
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) f.driver = CudaVersionString(driver);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    f.problem = "no usable GPU: cudaGetDeviceCount failed: " + CudaErrorText(status) +
                (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice
                     ? "; install an NVIDIA driver that supports CUDA " + f.toolkit + " on a machine with an NVIDIA GPU"
                     : "");
  } else if (count == 0) {
    f.problem = "no CUDA device visible (check CUDA_VISIBLE_DEVICES and the container's GPU access)";
  } else if (device >= count) {
    f.problem = "CUDA device " + std::to_string(device) + " does not exist: " + std::to_string(count) + " visible (0 to " +
                std::to_string(count - 1) + "); check CUDA_DEVICE and CUDA_VISIBLE_DEVICES";
  } else {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
      f.gpu = GpuInfo{device, prop.name, prop.major, prop.minor, prop.totalGlobalMem};
    } else {
      cudaGetLastError();
      f.problem = "cudaGetDeviceProperties failed for device " + std::to_string(device);
    }
  }
  return f;
}

}  // namespace smartturn
