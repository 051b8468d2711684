// A stand-in plan: what buildSerializedNetwork writes and deserializeCudaEngine reads. Like a real
// plan it is tied to the TensorRT version and the GPU architecture it was built for, names its I/O
// tensors with their shapes and the one optimization profile, and lists the layers it runs (here
// the two fixture kernels). It is text, so a person can read what a plan holds.
#pragma once

#include <NvInfer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace trt_standin {

struct PlanTensor {
  std::string name;
  nvinfer1::DataType type;
  bool input = false;
  nvinfer1::Dims dims{};  // as the network declared it: -1 for the dynamic batch dimension
  nvinfer1::Dims min{}, opt{}, max{};  // inputs: the optimization profile
};

struct PlanLayer {
  std::string name;
  std::string type;       // as IEngineInspector names layer types
  std::string precision;  // what the kernel computes in
};

struct Plan {
  std::string tensorrt;  // VersionString() of the library that built it
  Device device;
  std::string function;  // FunctionSpec::id
  std::string network;   // the network's name
  uint32_t flags = 0;    // BuilderFlags
  int32_t profiling_verbosity = 0;
  std::vector<PlanTensor> tensors;  // inputs then outputs, in the network's order
  std::vector<PlanLayer> layers;
};

std::string Serialize(const Plan& plan);
/** False and `why` for bytes that are not a plan of this stand-in. */
bool Deserialize(const void* data, std::size_t size, Plan& plan, std::string& why);

std::string DimsString(const nvinfer1::Dims& dims);

}  // namespace trt_standin
