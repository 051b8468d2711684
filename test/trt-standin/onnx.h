// Just enough of an ONNX model for the stand-in's parser: the graph's inputs and outputs with their
// types and shapes, its initializers' names and shapes, and its nodes. A protobuf wire-format reader
// of its own (no protobuf library); fields it does not need are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace trt_standin::onnx {

/** ONNX TensorProto.DataType values the stand-in names. */
enum ElemType : int32_t { kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kBool = 9, kFloat16 = 10, kBFloat16 = 16 };

struct ValueInfo {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;  // -1 for a symbolic or unknown dimension
};

struct Initializer {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;
};

struct Node {
  std::string name;
  std::string op_type;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, int64_t> int_attrs;
  std::map<std::string, std::vector<int64_t>> ints_attrs;
};

struct Graph {
  std::string name;
  std::vector<ValueInfo> inputs;  // initializers listed as inputs (IR < 4) are removed
  std::vector<ValueInfo> outputs;
  std::vector<Initializer> initializers;
  std::vector<Node> nodes;
};

class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** Throws ParseError for bytes that are not a model this reader understands. */
Graph ReadModel(const void* data, std::size_t size);

const char* ElemTypeName(int32_t elem_type);

}  // namespace trt_standin::onnx
