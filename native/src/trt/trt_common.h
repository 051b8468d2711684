// Shared by the TensorRT executor and builder. Only compiled with TensorRT 10 headers.
#pragma once

#include <NvInfer.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "trt/trt_library.h"

namespace smartturn {

/**
 * TensorRT's log: warnings and errors to stderr. The last error and the last few warnings are kept
 * to explain a failed call: TensorRT reports some causes only as warnings ("CUDA initialization
 * failure" before createInferBuilder returns null).
 */
class TrtLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity > Severity::kWARNING) return;
    std::fprintf(stderr, "[tensorrt] %s\n", msg);
    std::lock_guard<std::mutex> lock(mu_);
    if (severity <= Severity::kERROR) {
      last_error_ = msg;
    } else {
      warnings_.emplace_back(msg);
      if (warnings_.size() > kWarningsKept) warnings_.pop_front();
    }
  }
  /** " (TensorRT: <last error>)", else " (TensorRT warned: <recent warnings>)", or "" when TensorRT said nothing. */
  std::string LastError() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_error_.empty()) return " (TensorRT: " + last_error_ + ")";
    if (warnings_.empty()) return "";
    std::string s;
    for (const auto& w : warnings_) s += (s.empty() ? "" : "; ") + w;
    return " (TensorRT warned: " + s + ")";
  }

 private:
  static constexpr std::size_t kWarningsKept = 3;
  mutable std::mutex mu_;
  std::string last_error_;
  std::deque<std::string> warnings_;
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
