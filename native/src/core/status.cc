#include "core/status.h"

namespace smartturn {
namespace {

constexpr const char* kRebuild = "then rebuild the addon: npm run build:native";

}  // namespace

NativeStatus MakeStatus(const CudaFindings& cuda, const TrtFindings& trt) {
  NativeStatus s;
  s.built_with_cuda = cuda.built;
  s.cuda_toolkit = cuda.toolkit;
  s.cuda_runtime = cuda.runtime;
  s.cuda_driver = cuda.driver;
  s.gpu = cuda.gpu;
  if (!cuda.built) {
    s.reason = "this addon was built without CUDA: no CUDA toolkit was found at build time; install one (or set CUDA_PATH) " + std::string(kRebuild);
  } else if (cuda.gpu) {
    s.cuda = true;
  } else {
    s.reason = cuda.problem;
  }

  // TensorRT is reported even when it cannot be used, so the report says everything that is missing.
  s.built_with_tensorrt = trt.built;
  s.tensorrt_headers = trt.headers;
  s.tensorrt_library = trt.library;
  std::string trt_reason = trt.problem;
  if (!trt.built) {
    trt_reason = "this addon was built without TensorRT support: no TensorRT 10 headers (NvInfer.h, NvOnnxParser.h) were found at "
                 "build time; set TENSORRT_ROOT to a TensorRT 10 install " + std::string(kRebuild);
  }
  if (trt_reason.empty() && s.cuda) s.tensorrt = true;
  if (s.reason.empty()) {
    s.reason = trt_reason;
  } else if (!trt_reason.empty()) {
    s.reason += "; also " + trt_reason;
  }
  return s;
}

}  // namespace smartturn
