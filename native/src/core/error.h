// The core's one error type. It carries a category so the N-API layer (addon/js_errors.h) can pick
// the JS error class and `code` without parsing messages; the core itself never touches JavaScript.
#pragma once

#include <stdexcept>
#include <string>

namespace smartturn {

enum class ErrorCode {
  kInvalidArgument,  // wrong type or shape of an argument: TypeError in JS
  kOutOfRange,       // a value outside what the engine supports: RangeError in JS
  kUnavailable,      // a capability missing on this machine or build (no GPU, no TensorRT)
  kBusy,             // every slot of a bucket (or every lane) is leased
  kClosed,           // the engine was closed
  kState,            // a call that does not fit a slot's state (infer of a slot not leased)
  kCuda,             // a CUDA runtime call failed
  kTensorRt,         // a TensorRT call failed
  kIo,               // reading or writing a file failed
  kMemory,           // the device has too little free memory for what was asked
  kInternal,         // a broken invariant
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace smartturn
