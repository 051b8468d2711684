// The one place C++ failures become JavaScript errors. The core throws smartturn::Error with a
// category; this picks the JS class (TypeError for wrong argument types, RangeError for values out
// of range, Error otherwise) and a stable `code` the TypeScript side can branch on. The message
// is the core's, which names the failed call and CUDA's or TensorRT's own error string.
#pragma once

#include <napi.h>

#include <array>
#include <string>
#include <utility>

#include "core/error.h"

namespace smartturn::js {

struct ErrorKind {
  ErrorCode code;
  const char* js_code;
};

// In ErrorCode's order; the static_assert below keeps the two in step.
inline constexpr std::array<ErrorKind, 11> kErrorKinds{{
    {ErrorCode::kInvalidArgument, "ERR_INVALID_ARG_TYPE"},
    {ErrorCode::kOutOfRange, "ERR_OUT_OF_RANGE"},
    {ErrorCode::kUnavailable, "ERR_NATIVE_UNAVAILABLE"},
    {ErrorCode::kBusy, "ERR_NATIVE_BUSY"},
    {ErrorCode::kClosed, "ERR_NATIVE_CLOSED"},
    {ErrorCode::kState, "ERR_NATIVE_STATE"},
    {ErrorCode::kCuda, "ERR_CUDA"},
    {ErrorCode::kTensorRt, "ERR_TENSORRT"},
    {ErrorCode::kIo, "ERR_NATIVE_IO"},
    {ErrorCode::kMemory, "ERR_NATIVE_MEMORY"},
    {ErrorCode::kInternal, "ERR_NATIVE_INTERNAL"},
}};
static_assert(static_cast<std::size_t>(ErrorCode::kInternal) + 1 == kErrorKinds.size(), "kErrorKinds must list every ErrorCode");

constexpr bool KindsInOrder() {
  for (std::size_t i = 0; i < kErrorKinds.size(); ++i) {
    if (static_cast<std::size_t>(kErrorKinds[i].code) != i) return false;
  }
  return true;
}
static_assert(KindsInOrder(), "kErrorKinds must be in ErrorCode's order");

inline Napi::Error ToJs(Napi::Env env, const Error& e) {
  Napi::Error error;
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      error = Napi::TypeError::New(env, e.what());
      break;
    case ErrorCode::kOutOfRange:
      error = Napi::RangeError::New(env, e.what());
      break;
    default:
      error = Napi::Error::New(env, e.what());
  }
  error.Set("code", Napi::String::New(env, kErrorKinds[static_cast<std::size_t>(e.code())].js_code));
  return error;
}

/** A failure the core did not classify (std::bad_alloc, a library's exception). */
inline Napi::Error ToJs(Napi::Env env, const std::exception& e) {
  return ToJs(env, Error(ErrorCode::kInternal, std::string("internal error in the native addon: ") + e.what()));
}

/** Shorthands for argument checks at the N-API boundary. */
[[noreturn]] inline void ThrowTypeError(const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); }
[[noreturn]] inline void ThrowRangeError(const std::string& message) { throw Error(ErrorCode::kOutOfRange, message); }

/**
 * Runs one entry point's body; anything it throws leaves as the right JS exception. Every
 * synchronous entry point goes through here, so no C++ exception can reach N-API unmapped.
 */
template <typename Fn>
auto Guard(Napi::Env env, Fn&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // already a JS exception
  } catch (const Error& e) {
    throw ToJs(env, e);
  } catch (const std::exception& e) {
    throw ToJs(env, e);
  }
}

}  // namespace smartturn::js
