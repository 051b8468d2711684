// Reading JS arguments into C++ values, with TypeError/RangeError messages naming the argument.
#pragma once

#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "addon/js_errors.h"

namespace smartturn::js {

inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, std::size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject() || info[i].IsArray()) ThrowTypeError(std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

inline int IntValue(const Napi::Value& v, const std::string& what, int min, int max) {
  if (!v.IsNumber()) ThrowTypeError(what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) ThrowRangeError(what + " must be a whole number, got " + v.ToString().Utf8Value());
  if (d < min || d > max) {
    ThrowRangeError(what + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v.ToString().Utf8Value());
  }
  return static_cast<int>(d);
}

inline int IntArg(const Napi::CallbackInfo& info, std::size_t i, const std::string& what, int min, int max) {
  return IntValue(info.Length() > i ? info[i] : info.Env().Undefined(), what, min, max);
}

inline bool Has(const Napi::Object& o, const char* key) { return o.Has(key) && !o.Get(key).IsUndefined(); }

inline int OptionalInt(const Napi::Object& o, const char* key, int fallback, int min, int max) {
  return Has(o, key) ? IntValue(o.Get(key), key, min, max) : fallback;
}

inline bool OptionalBool(const Napi::Object& o, const char* key, bool fallback) {
  if (!Has(o, key)) return fallback;
  if (!o.Get(key).IsBoolean()) ThrowTypeError(std::string(key) + " must be a boolean");
  return o.Get(key).As<Napi::Boolean>().Value();
}

inline std::string StringValue(const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) ThrowTypeError(what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

inline std::string RequiredString(const Napi::Object& o, const char* key) { return StringValue(o.Get(key), key); }

inline std::string OptionalString(const Napi::Object& o, const char* key, const std::string& fallback) {
  return Has(o, key) ? StringValue(o.Get(key), key) : fallback;
}

inline std::string OneOf(const Napi::Object& o, const char* key, const std::vector<std::string>& allowed, const std::string& fallback) {
  const std::string value = OptionalString(o, key, fallback);
  for (const auto& a : allowed) {
    if (a == value) return value;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  ThrowRangeError(std::string(key) + " must be one of " + list + ", got " + value);
}

inline Napi::Float32Array Float32ArrayArg(const Napi::CallbackInfo& info, std::size_t i, const std::string& what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowTypeError(what + " must be a Float32Array");
  }
  return info[i].As<Napi::Float32Array>();
}

inline double NumberArg(const Napi::CallbackInfo& info, std::size_t i, const std::string& what) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowTypeError(what + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

/**
 * Argument i: where `count` values (`unit`) start in an array of `length`; a whole number that leaves
 * them room, or RangeError.
 */
inline std::size_t OffsetArg(const Napi::CallbackInfo& info, std::size_t i, const std::string& what, std::size_t count, const char* unit,
                             std::size_t length) {
  const double offset = NumberArg(info, i, what + ": offset");
  const double room = static_cast<double>(length) - static_cast<double>(count);
  if (!(offset >= 0 && offset <= room && offset == std::floor(offset))) {
    ThrowRangeError(what + ": offset " + info[i].ToString().Utf8Value() + " does not leave room for " + std::to_string(count) + " " + unit +
                    " in dst of " + std::to_string(length));
  }
  return static_cast<std::size_t>(offset);
}

inline Napi::Array RequiredArray(const Napi::Object& o, const char* key) {
  if (!o.Get(key).IsArray()) ThrowTypeError(std::string(key) + " must be an array");
  return o.Get(key).As<Napi::Array>();
}

}  // namespace smartturn::js
