#include "onnx.h"

#include <algorithm>

namespace trt_standin::onnx {
namespace {

/** A length-delimited protobuf message, read field by field. */
class Reader {
 public:
  Reader(const uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

  bool Next() {
    if (p_ == end_) return false;
    const uint64_t key = Varint();
    field_ = static_cast<uint32_t>(key >> 3);
    wire_ = static_cast<uint32_t>(key & 7);
    return true;
  }
  uint32_t field() const { return field_; }
  uint32_t wire() const { return wire_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw ParseError("truncated varint");
      const uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw ParseError("varint longer than 10 bytes");
  }
  int64_t Int() { return static_cast<int64_t>(Varint()); }

  Reader Message() {
    const uint64_t n = Bytes();
    Reader r(p_ - n, n);
    return r;
  }
  std::string String() {
    const uint64_t n = Bytes();
    return std::string(reinterpret_cast<const char*>(p_ - n), n);
  }
  /** Packed or unpacked repeated int64, whichever this occurrence is. */
  void Ints(std::vector<int64_t>& out) {
    if (wire_ == 0) {
      out.push_back(Int());
      return;
    }
    Reader packed = Message();
    while (packed.p_ != packed.end_) out.push_back(packed.Int());
  }
  void Skip() {
    switch (wire_) {
      case 0:
        Varint();
        break;
      case 1:
        Advance(8);
        break;
      case 2:
        Bytes();
        break;
      case 5:
        Advance(4);
        break;
      default:
        throw ParseError("unsupported protobuf wire type " + std::to_string(wire_));
    }
  }

 private:
  /** Skips a length-delimited payload and returns its length; the payload ends at p_. */
  uint64_t Bytes() {
    if (wire_ != 2) throw ParseError("field " + std::to_string(field_) + " is not length-delimited");
    const uint64_t n = Varint();
    Advance(n);
    return n;
  }
  void Advance(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) throw ParseError("truncated field " + std::to_string(field_));
    p_ += n;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t field_ = 0;
  uint32_t wire_ = 0;
};

// Field numbers from onnx/onnx.proto.
std::vector<int64_t> ReadShape(Reader r) {  // TensorShapeProto
  std::vector<int64_t> dims;
  while (r.Next()) {
    if (r.field() != 1) {
      r.Skip();
      continue;
    }
    Reader dim = r.Message();  // Dimension: dim_value = 1, dim_param = 2
    int64_t value = -1;
    while (dim.Next()) {
      if (dim.field() == 1 && dim.wire() == 0) {
        value = dim.Int();
      } else {
        dim.Skip();
      }
    }
    dims.push_back(value);
  }
  return dims;
}

ValueInfo ReadValueInfo(Reader r) {
  ValueInfo v;
  while (r.Next()) {
    if (r.field() == 1) {
      v.name = r.String();
    } else if (r.field() == 2) {  // TypeProto
      Reader type = r.Message();
      while (type.Next()) {
        if (type.field() != 1) {  // tensor_type
          type.Skip();
          continue;
        }
        Reader tensor = type.Message();
        while (tensor.Next()) {
          if (tensor.field() == 1 && tensor.wire() == 0) {
            v.elem_type = static_cast<int32_t>(tensor.Int());
          } else if (tensor.field() == 2) {
            v.dims = ReadShape(tensor.Message());
          } else {
            tensor.Skip();
          }
        }
      }
    } else {
      r.Skip();
    }
  }
  return v;
}

Initializer ReadInitializer(Reader r) {  // TensorProto
  Initializer t;
  while (r.Next()) {
    if (r.field() == 1) {
      r.Ints(t.dims);
    } else if (r.field() == 2 && r.wire() == 0) {
      t.elem_type = static_cast<int32_t>(r.Int());
    } else if (r.field() == 8) {
      t.name = r.String();
    } else {
      r.Skip();
    }
  }
  return t;
}

void ReadAttribute(Reader r, Node& node) {  // AttributeProto: name 1, i 3, ints 8
  std::string name;
  bool has_int = false;
  int64_t value = 0;
  std::vector<int64_t> values;
  while (r.Next()) {
    if (r.field() == 1) {
      name = r.String();
    } else if (r.field() == 3 && r.wire() == 0) {
      value = r.Int();
      has_int = true;
    } else if (r.field() == 8) {
      r.Ints(values);
    } else {
      r.Skip();
    }
  }
  if (has_int) node.int_attrs[name] = value;
  if (!values.empty()) node.ints_attrs[name] = values;
}

Node ReadNode(Reader r) {  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
  Node n;
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        n.inputs.push_back(r.String());
        break;
      case 2:
        n.outputs.push_back(r.String());
        break;
      case 3:
        n.name = r.String();
        break;
      case 4:
        n.op_type = r.String();
        break;
      case 5:
        ReadAttribute(r.Message(), n);
        break;
      default:
        r.Skip();
    }
  }
  return n;
}

Graph ReadGraph(Reader r) {  // GraphProto: node 1, name 2, initializer 5, input 11, output 12
  Graph g;
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        g.nodes.push_back(ReadNode(r.Message()));
        break;
      case 2:
        g.name = r.String();
        break;
      case 5:
        g.initializers.push_back(ReadInitializer(r.Message()));
        break;
      case 11:
        g.inputs.push_back(ReadValueInfo(r.Message()));
        break;
      case 12:
        g.outputs.push_back(ReadValueInfo(r.Message()));
        break;
      default:
        r.Skip();
    }
  }
  g.inputs.erase(std::remove_if(g.inputs.begin(), g.inputs.end(),
                                [&](const ValueInfo& v) {
                                  return std::any_of(g.initializers.begin(), g.initializers.end(),
                                                     [&](const Initializer& t) { return t.name == v.name; });
                                }),
                 g.inputs.end());
  return g;
}

}  // namespace

Graph ReadModel(const void* data, std::size_t size) {
  Reader model(static_cast<const uint8_t*>(data), size);
  bool found = false;
  Graph graph;
  while (model.Next()) {  // ModelProto: graph 7
    if (model.field() == 7 && model.wire() == 2) {
      graph = ReadGraph(model.Message());
      found = true;
    } else {
      model.Skip();
    }
  }
  if (!found) throw ParseError("no graph in the model (not an ONNX ModelProto?)");
  if (graph.outputs.empty()) throw ParseError("the graph has no outputs");
  return graph;
}

const char* ElemTypeName(int32_t elem_type) {
  switch (elem_type) {
    case kFloat:
      return "float32";
    case kUint8:
      return "uint8";
    case kInt8:
      return "int8";
    case kInt32:
      return "int32";
    case kInt64:
      return "int64";
    case kBool:
      return "bool";
    case kFloat16:
      return "float16";
    case kBFloat16:
      return "bfloat16";
    default:
      return "another type";
  }
}

}  // namespace trt_standin::onnx
