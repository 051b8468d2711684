#include "functions.h"

#include <algorithm>

#include "core/fixture_models.h"

namespace trt_standin {

using nvinfer1::DataType;
namespace fx = smartturn::fixture;

const std::vector<FunctionSpec>& Functions() {
  static const std::vector<FunctionSpec> functions = {
      {Function::kV2Readout,
       "v2-readout",
       {{"input_values", DataType::kFLOAT, {fx::kV2Window}}, {"attention_mask", DataType::kINT64, {fx::kV2Window}}},
       {{"logits", DataType::kFLOAT, {1}}}},
      {Function::kV3Readout,
       "v3-readout",
       {{"input_features", DataType::kFLOAT, {fx::kV3Mels, fx::kV3Frames}}},
       {{"logits", DataType::kFLOAT, {1}}}},
  };
  return functions;
}

namespace {

bool Same(const IoSpec& a, const IoSpec& b) { return a.name == b.name && a.type == b.type && a.row_shape == b.row_shape; }

bool SameSet(const std::vector<IoSpec>& a, const std::vector<IoSpec>& b) {
  return a.size() == b.size() &&
         std::all_of(a.begin(), a.end(), [&](const IoSpec& x) { return std::any_of(b.begin(), b.end(), [&](const IoSpec& y) { return Same(x, y); }); });
}

}  // namespace

const FunctionSpec* MatchFunction(const std::vector<IoSpec>& inputs, const std::vector<IoSpec>& outputs, std::string& why) {
  for (const auto& f : Functions()) {
    if (SameSet(inputs, f.inputs) && SameSet(outputs, f.outputs)) return &f;
  }
  why = "the TensorRT stand-in computes only the fixture models' functions, chosen by interface (";
  for (const auto& f : Functions()) why += std::string(&f == &Functions().front() ? "" : "; ") + f.id + ": " + Describe(f.inputs) + " -> " + Describe(f.outputs);
  why += "), per clip after the batch dimension; this model has " + Describe(inputs) + " -> " + Describe(outputs);
  return nullptr;
}

const FunctionSpec* FunctionById(const std::string& id) {
  for (const auto& f : Functions()) {
    if (id == f.id) return &f;
  }
  return nullptr;
}

const char* TypeName(DataType type) {
  switch (type) {
    case DataType::kFLOAT:
      return "float32";
    case DataType::kHALF:
      return "float16";
    case DataType::kBF16:
      return "bfloat16";
    case DataType::kINT32:
      return "int32";
    case DataType::kINT64:
      return "int64";
    case DataType::kBOOL:
      return "bool";
    case DataType::kINT8:
      return "int8";
    case DataType::kUINT8:
      return "uint8";
    default:
      return "another type";
  }
}

std::string Describe(const std::vector<IoSpec>& specs) {
  std::string s;
  for (const auto& spec : specs) {
    s += (s.empty() ? "" : ", ") + spec.name + " " + TypeName(spec.type) + "[";
    for (std::size_t i = 0; i < spec.row_shape.size(); ++i) s += (i ? ", " : "") + std::to_string(spec.row_shape[i]);
    s += "]";
  }
  return s.empty() ? "nothing" : s;
}

}  // namespace trt_standin
