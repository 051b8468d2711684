// Shared by the TensorRT executor and builder. Only compiled with TensorRT 10 headers.
#pragma once

#include <NvInfer.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "trt/trt_library.h"

namespace smartturn {

/** TensorRT's log: warnings and errors to stderr; the last error kept to explain a failed call. */
class TrtLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity > Severity::kWARNING) return;
    std::fprintf(stderr, "[tensorrt] %s\n", msg);
    if (severity <= Severity::kERROR) {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = msg;
    }
  }
  /** " (TensorRT: <last error>)" or "" when TensorRT said nothing. */
  std::string LastError() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_.empty() ? "" : " (TensorRT: " + last_error_ + ")";
  }

 private:
  mutable std::mutex mu_;
  std::string last_error_;
};

/** Throws a TensorRT Error naming the call when `ok` is false. */
inline void CheckTrt(bool ok, const char* call, const TrtLogger& logger) {
  if (!ok) throw Error(ErrorCode::kTensorRt, std::string(call) + " failed" + logger.LastError());
}

template <typename T>
T* CheckTrt(T* object, const char* call, const TrtLogger& logger) {
  CheckTrt(object != nullptr, call, logger);
  return object;
}

inline DataType FromTrt(nvinfer1::DataType t, const std::string& tensor) {
  switch (t) {
    case nvinfer1::DataType::kFLOAT:
      return DataType::kFloat32;
    case nvinfer1::DataType::kINT64:
      return DataType::kInt64;
    default:
      throw Error(ErrorCode::kTensorRt, "tensor " + tensor + " has a data type other than float32 or int64; the addon supports only those");
  }
}

/** The runtime of the dlopen'ed library, made without the inline createInferRuntime (which would link libnvinfer). */
inline std::unique_ptr<nvinfer1::IRuntime> MakeRuntime(TrtLogger& logger) {
  const TrtLibrary& lib = TrtLibrary::Get();
  auto* runtime = static_cast<nvinfer1::IRuntime*>(lib.create_infer_runtime(&logger, NV_TENSORRT_VERSION));
  return std::unique_ptr<nvinfer1::IRuntime>(CheckTrt(runtime, "createInferRuntime", logger));
}

}  // namespace smartturn
