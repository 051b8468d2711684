// Tensor descriptions shared by every executor. Shapes are per row: the batch dimension is the
// bucket and is not part of `row_shape`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace smartturn {

enum class DataType { kFloat32, kInt64 };

inline std::size_t ElementSize(DataType t) { return t == DataType::kFloat32 ? 4 : 8; }
inline const char* DataTypeName(DataType t) { return t == DataType::kFloat32 ? "float32" : "int64"; }

struct TensorSpec {
  std::string name;
  DataType type;
  std::vector<int64_t> row_shape;

  int64_t RowElements() const {
    int64_t n = 1;
    for (int64_t d : row_shape) n *= d;
    return n;
  }
  std::size_t RowBytes() const { return static_cast<std::size_t>(RowElements()) * ElementSize(type); }
};

/** Bytes of every input and output for `rows` rows: one slot's I/O buffers. */
inline std::size_t IoBytes(const std::vector<TensorSpec>& inputs, const std::vector<TensorSpec>& outputs, int rows) {
  std::size_t row = 0;
  for (const auto& spec : inputs) row += spec.RowBytes();
  for (const auto& spec : outputs) row += spec.RowBytes();
  return row * static_cast<std::size_t>(rows);
}

}  // namespace smartturn
