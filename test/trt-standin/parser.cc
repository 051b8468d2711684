// libnvonnxparser.so.10 of the stand-in. It reads the ONNX file (onnx.cc), refuses a model whose
// interface is not a fixture function's (functions.cc), and fills the network through the public
// INetworkDefinition API as TensorRT's parser does: the graph's inputs, one layer per node (of the
// matching layer type where the stand-in has one, else an identity layer), and the graph's outputs.
// The layers describe the graph for callers that walk the network; the plan computes the function.
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

#include "factories.h"
#include "functions.h"
#include "onnx.h"
#include "stubs.h"

namespace trt_standin {
namespace {

using namespace nvinfer1;
using nvonnxparser::ErrorCode;

class ParserError final : public nvonnxparser::IParserError {
 public:
  ParserError(ErrorCode code, std::string desc, std::string file, int node, std::string node_name, std::string op)
      : code_(code), desc_(std::move(desc)), file_(std::move(file)), node_(node), node_name_(std::move(node_name)), op_(std::move(op)) {}
  ErrorCode code() const override { return code_; }
  char const* desc() const override { return desc_.c_str(); }
  char const* file() const override { return file_.c_str(); }
  int line() const override { return 0; }
  char const* func() const override { return "trt_standin::Parser"; }
  int node() const override { return node_; }
  char const* nodeName() const override { return node_name_.c_str(); }
  char const* nodeOperator() const override { return op_.c_str(); }
  char const* const* localFunctionStack() const override { return nullptr; }
  int32_t localFunctionStackSize() const override { return 0; }

 private:
  ErrorCode code_;
  std::string desc_;
  std::string file_;
  int node_;
  std::string node_name_;
  std::string op_;
};

const std::map<int32_t, DataType> kTypes = {
    {onnx::kFloat, DataType::kFLOAT}, {onnx::kInt64, DataType::kINT64},  {onnx::kInt32, DataType::kINT32},
    {onnx::kBool, DataType::kBOOL},   {onnx::kFloat16, DataType::kHALF}, {onnx::kBFloat16, DataType::kBF16},
    {onnx::kInt8, DataType::kINT8},   {onnx::kUint8, DataType::kUINT8},
};

/** The TensorRT type of an ONNX element type; false for one TensorRT has no equivalent for here. */
bool ToTrt(int32_t onnx_type, DataType& out) {
  const auto it = kTypes.find(onnx_type);
  if (it == kTypes.end()) return false;
  out = it->second;
  return true;
}

Dims ToDims(const std::vector<int64_t>& dims) {
  Dims d{};
  d.nbDims = static_cast<int32_t>(std::min<std::size_t>(dims.size(), Dims::MAX_DIMS));
  for (int i = 0; i < d.nbDims; ++i) d.d[i] = dims[static_cast<std::size_t>(i)];
  return d;
}

const std::map<std::string, ElementWiseOperation> kBinary = {
    {"Add", ElementWiseOperation::kSUM},       {"Sub", ElementWiseOperation::kSUB},     {"Mul", ElementWiseOperation::kPROD},
    {"Div", ElementWiseOperation::kDIV},       {"Max", ElementWiseOperation::kMAX},     {"Min", ElementWiseOperation::kMIN},
    {"Pow", ElementWiseOperation::kPOW},       {"Equal", ElementWiseOperation::kEQUAL}, {"Greater", ElementWiseOperation::kGREATER},
    {"Less", ElementWiseOperation::kLESS},     {"And", ElementWiseOperation::kAND},     {"Or", ElementWiseOperation::kOR},
    {"Xor", ElementWiseOperation::kXOR},
};
const std::map<std::string, ReduceOperation> kReduce = {
    {"ReduceSum", ReduceOperation::kSUM}, {"ReduceMean", ReduceOperation::kAVG}, {"ReduceMax", ReduceOperation::kMAX},
    {"ReduceMin", ReduceOperation::kMIN}, {"ReduceProd", ReduceOperation::kPROD},
};
const std::map<std::string, UnaryOperation> kUnary = {
    {"Sqrt", UnaryOperation::kSQRT},       {"Exp", UnaryOperation::kEXP},     {"Log", UnaryOperation::kLOG},
    {"Abs", UnaryOperation::kABS},         {"Neg", UnaryOperation::kNEG},     {"Reciprocal", UnaryOperation::kRECIP},
    {"Floor", UnaryOperation::kFLOOR},     {"Ceil", UnaryOperation::kCEIL},   {"Sin", UnaryOperation::kSIN},
    {"Cos", UnaryOperation::kCOS},         {"Not", UnaryOperation::kNOT},
};
const std::map<std::string, ActivationType> kActivation = {
    {"Sigmoid", ActivationType::kSIGMOID}, {"Relu", ActivationType::kRELU}, {"Tanh", ActivationType::kTANH},
};

class Parser final : public nvonnxparser::StubIParser {
 public:
  Parser(INetworkDefinition& network, ILogger* logger) : network_(network), logger_(logger) {}

  bool parseFromFile(char const* path, int) noexcept override {
    file_ = path ? path : "";
    std::ifstream in(file_, std::ios::binary);
    if (!in) return Error(ErrorCode::kMODEL_DESERIALIZE_FAILED, "Failed to open file: " + file_);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return Parse(bytes.data(), bytes.size());
  }
  bool parse(void const* data, size_t size, char const* path) noexcept override {
    file_ = path ? path : "(in memory)";
    return Parse(data, size);
  }
  bool supportsOperator(char const* op) const noexcept override {
    const std::string o = op ? op : "";
    return kBinary.count(o) || kReduce.count(o) || kUnary.count(o) || kActivation.count(o) || o == "Cast" || o == "MatMul";
  }
  int getNbErrors() const noexcept override { return static_cast<int>(errors_.size()); }
  nvonnxparser::IParserError const* getError(int i) const noexcept override {
    return i >= 0 && i < getNbErrors() ? &errors_[static_cast<std::size_t>(i)] : nullptr;
  }
  void clearErrors() noexcept override { errors_.clear(); }
  void setFlags(nvonnxparser::OnnxParserFlags flags) noexcept override { flags_ = flags; }
  nvonnxparser::OnnxParserFlags getFlags() const noexcept override { return flags_; }
  void clearFlag(nvonnxparser::OnnxParserFlag flag) noexcept override { flags_ &= ~(1U << static_cast<uint32_t>(flag)); }
  void setFlag(nvonnxparser::OnnxParserFlag flag) noexcept override { flags_ |= 1U << static_cast<uint32_t>(flag); }
  bool getFlag(nvonnxparser::OnnxParserFlag flag) const noexcept override { return (flags_ >> static_cast<uint32_t>(flag)) & 1U; }

 private:
  bool Error(ErrorCode code, const std::string& desc, int node = -1, const std::string& node_name = "", const std::string& op = "") {
    errors_.emplace_back(code, desc, file_, node, node_name, op);
    Log(logger_, Severity::kERROR, "ONNX parser (TensorRT stand-in): " + desc);
    return false;
  }

  bool Parse(const void* data, std::size_t size) {
    onnx::Graph graph;
    try {
      graph = onnx::ReadModel(data, size);
    } catch (const onnx::ParseError& e) {
      return Error(ErrorCode::kMODEL_DESERIALIZE_FAILED, file_ + " is not an ONNX model the stand-in can read: " + e.what());
    }
    std::vector<IoSpec> ins;
    std::vector<IoSpec> outs;
    for (auto* list : {&graph.inputs, &graph.outputs}) {
      for (const auto& v : *list) {
        DataType type{};
        if (!ToTrt(v.elem_type, type)) {
          return Error(ErrorCode::kUNSUPPORTED_NODE_DATATYPE, "tensor " + v.name + " has ONNX type " + onnx::ElemTypeName(v.elem_type));
        }
        IoSpec spec{v.name, type, v.dims.empty() ? std::vector<int64_t>{} : std::vector<int64_t>(v.dims.begin() + 1, v.dims.end())};
        (list == &graph.inputs ? ins : outs).push_back(spec);
      }
    }
    std::string why;
    const FunctionSpec* fn = MatchFunction(ins, outs, why);
    if (fn == nullptr) return Error(ErrorCode::kUNSUPPORTED_GRAPH, file_ + ": " + why);

    network_.setName(graph.name.c_str());
    std::map<std::string, ITensor*> tensors;
    for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
      tensors[graph.inputs[i].name] = network_.addInput(graph.inputs[i].name.c_str(), ins[i].type, ToDims(graph.inputs[i].dims));
    }
    std::map<std::string, const onnx::Initializer*> initializers;
    for (const auto& t : graph.initializers) initializers[t.name] = &t;

    for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
      const onnx::Node& node = graph.nodes[n];
      const std::string name = node.name.empty() ? node.op_type + "_" + std::to_string(n) : node.name;
      std::vector<ITensor*> in;
      for (const auto& input : node.inputs) {
        if (input.empty()) continue;  // an omitted optional input
        auto it = tensors.find(input);
        if (it == tensors.end()) {
          const auto init = initializers.find(input);
          if (init == initializers.end()) {
            return Error(ErrorCode::kINVALID_GRAPH, "node " + name + " (" + node.op_type + ") reads " + input +
                                                        ", which no graph input, initializer or earlier node produces",
                         static_cast<int>(n), name, node.op_type);
          }
          DataType type = DataType::kFLOAT;
          ToTrt(init->second->elem_type, type);
          IConstantLayer* constant = network_.addConstant(ToDims(init->second->dims), Weights{type, nullptr, 0});
          constant->setName(input.c_str());
          constant->getOutput(0)->setName(input.c_str());
          it = tensors.emplace(input, constant->getOutput(0)).first;
        }
        in.push_back(it->second);
      }
      ILayer* layer = AddLayer(node, in);
      if (layer == nullptr) {
        return Error(ErrorCode::kUNSUPPORTED_NODE, "node " + name + " (" + node.op_type + ") has too few inputs", static_cast<int>(n), name,
                     node.op_type);
      }
      layer->setName(name.c_str());
      layer->setMetadata(("onnx node " + name + ": " + node.op_type).c_str());
      if (!node.outputs.empty()) layer->getOutput(0)->setName(node.outputs[0].c_str());
      for (const auto& output : node.outputs) tensors[output] = layer->getOutput(0);
    }
    for (std::size_t i = 0; i < graph.outputs.size(); ++i) {
      const auto it = tensors.find(graph.outputs[i].name);
      if (it == tensors.end()) return Error(ErrorCode::kINVALID_GRAPH, "graph output " + graph.outputs[i].name + " is produced by no node");
      // The stand-in infers no shapes through the layers: outputs take the graph's declared shape.
      it->second->setDimensions(ToDims(graph.outputs[i].dims));
      network_.markOutput(*it->second);
    }
    Log(logger_, Severity::kINFO, "ONNX parser (TensorRT stand-in): " + file_ + " is the " + fn->id + " fixture function");
    return true;
  }

  ILayer* AddLayer(const onnx::Node& node, const std::vector<ITensor*>& in) {
    const std::string& op = node.op_type;
    if (in.empty()) return network_.addConstant(Dims{0, {}}, Weights{DataType::kFLOAT, nullptr, 0});
    if (const auto b = kBinary.find(op); b != kBinary.end()) return in.size() < 2 ? nullptr : network_.addElementWise(*in[0], *in[1], b->second);
    if (op == "MatMul") return in.size() < 2 ? nullptr : network_.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *in[1], MatrixOperation::kNONE);
    if (const auto r = kReduce.find(op); r != kReduce.end()) {
      const int32_t rank = in[0]->getDimensions().nbDims;
      uint32_t axes = 0;
      const auto attr = node.ints_attrs.find("axes");
      if (attr != node.ints_attrs.end()) {
        for (int64_t a : attr->second) axes |= 1U << static_cast<uint32_t>(a < 0 ? a + rank : a);
      } else {
        for (int32_t a = 1; a < rank; ++a) axes |= 1U << a;  // axes given as an input (opset 18+): every non-batch axis
      }
      const auto keep = node.int_attrs.find("keepdims");
      return network_.addReduce(*in[0], r->second, axes, keep == node.int_attrs.end() || keep->second != 0);
    }
    if (const auto u = kUnary.find(op); u != kUnary.end()) return network_.addUnary(*in[0], u->second);
    if (const auto a = kActivation.find(op); a != kActivation.end()) return network_.addActivation(*in[0], a->second);
    if (op == "Cast") {
      DataType to = DataType::kFLOAT;
      const auto attr = node.int_attrs.find("to");
      if (attr != node.int_attrs.end()) ToTrt(static_cast<int32_t>(attr->second), to);
      return network_.addCast(*in[0], to);
    }
    return network_.addIdentity(*in[0]);
  }

  INetworkDefinition& network_;
  ILogger* logger_;
  std::string file_;
  std::deque<ParserError> errors_;  // a deque: getError's pointers stay valid as errors are added
  nvonnxparser::OnnxParserFlags flags_ = 0;
};

}  // namespace

nvonnxparser::IParser* NewParser(INetworkDefinition& network, ILogger* logger) { return new Parser(network, logger); }

}  // namespace trt_standin

extern "C" TENSORRTAPI void* createNvOnnxParser_INTERNAL(void* network, void* logger, int) noexcept {
  if (network == nullptr) return nullptr;
  return trt_standin::NewParser(*static_cast<nvinfer1::INetworkDefinition*>(network), static_cast<nvinfer1::ILogger*>(logger));
}
