// Turns a failed CUDA runtime call into the core's Error, naming the call and CUDA's own words.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/error.h"

namespace smartturn {

inline std::string CudaErrorText(cudaError_t status) {
  return std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + ")";
}

inline void CheckCuda(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  std::string name(call);
  name = name.substr(0, name.find('('));  // the function, not its argument list
  throw Error(ErrorCode::kCuda, name + " failed: " + CudaErrorText(status));
}

}  // namespace smartturn

#define ST_CUDA_CHECK(call) ::smartturn::CheckCuda((call), #call)
