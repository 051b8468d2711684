// C++ values the addon hands to JS more than once.
#pragma once

#include <napi.h>

#include <vector>

#include "core/tensor.h"

namespace smartturn::js {

/** [{name, type, shape}] with per-row shapes, as TypeScript's TensorSpec. */
inline Napi::Array SpecsToJs(Napi::Env env, const std::vector<TensorSpec>& specs) {
  Napi::Array out = Napi::Array::New(env, specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", specs[i].name);
    o.Set("type", DataTypeName(specs[i].type));
    Napi::Array shape = Napi::Array::New(env, specs[i].row_shape.size());
    for (std::size_t k = 0; k < specs[i].row_shape.size(); ++k) {
      shape.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(specs[i].row_shape[k])));
    }
    o.Set("shape", shape);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace smartturn::js
