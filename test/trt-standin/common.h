// Shared by both stand-in libraries: logging to the caller's ILogger, the GPU a runtime or builder
// works for, and the wrapper that turns an implementation of an apiv:: interface into the public
// TensorRT class whose inline methods call it.
#pragma once

#include <NvInfer.h>

#include <string>
#include <utility>

namespace trt_standin {

using Severity = nvinfer1::ILogger::Severity;

/** Logs through the caller's logger, as TensorRT does; `logger` may be null. */
void Log(nvinfer1::ILogger* logger, Severity severity, const std::string& message) noexcept;

/** The device a runtime or builder was made on: plans record it and refuse another architecture. */
struct Device {
  int index = 0;
  int major = 0;
  int minor = 0;
  std::string name;
};

/**
 * The public class `Public` (IRuntime, ICudaEngine, ...) over an implementation `Impl` of its
 * apiv:: interface: the public class's inline methods call through `mImpl`, which points at `impl`.
 * `impl.self` points back, for methods that must return the public object.
 */
template <typename Public, typename Impl>
class Wrapped final : public Public {
 public:
  template <typename... Args>
  explicit Wrapped(Args&&... args) : impl(std::forward<Args>(args)...) {
    this->mImpl = &impl;
    impl.self = this;
  }
  Impl impl;
};

/** The implementation behind a public object this library made, or null for anything else. */
template <typename Impl, typename Public>
Impl* Unwrap(Public& object) noexcept {
  auto* wrapped = dynamic_cast<Wrapped<Public, Impl>*>(&object);
  return wrapped ? &wrapped->impl : nullptr;
}

/**
 * The version this library reports (getInferLibVersion) and writes into its plans: the headers'
 * it was built from, or TRT_STANDIN_LIBRARY_VERSION ("10.0.1"), a test knob for how the addon
 * treats another TensorRT.
 */
int32_t LibraryVersion();
/** LibraryVersion() as "10.16.1". */
std::string VersionString();

}  // namespace trt_standin
