// What a stand-in plan computes. The stand-in does not execute ONNX graphs: it recognizes a model by
// its interface (input and output names, types and per-clip shapes) and computes the matching fixture
// function (native/src/core/fixture_models.h) with the shared CUDA kernels. Anything else is refused
// at parse and at build time, so a plan can never quietly compute something other than its model.
#pragma once

#include <NvInfer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trt_standin {

enum class Function { kV2Readout, kV3Readout };

/** A network input or output: per-clip shape, the batch dimension excluded. */
struct IoSpec {
  std::string name;
  nvinfer1::DataType type;
  std::vector<int64_t> row_shape;
};

struct FunctionSpec {
  Function function;
  const char* id;  // written into plans
  std::vector<IoSpec> inputs;
  std::vector<IoSpec> outputs;
};

const std::vector<FunctionSpec>& Functions();

/** The function whose interface these are (inputs in any order), or null and `why`. */
const FunctionSpec* MatchFunction(const std::vector<IoSpec>& inputs, const std::vector<IoSpec>& outputs, std::string& why);
const FunctionSpec* FunctionById(const std::string& id);

std::string Describe(const std::vector<IoSpec>& specs);
const char* TypeName(nvinfer1::DataType type);

}  // namespace trt_standin
