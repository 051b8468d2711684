// The stand-in's objects, made without the exported factories' GPU check: the exported functions
// (nvinfer.cc, parser.cc) call these after it, and the host self-test (selftest.cc) calls them
// directly with a described device, since a real builder and runtime need a GPU to be created.
#pragma once

#include <NvInfer.h>
#include <NvOnnxParser.h>

#include <string>

#include "common.h"

namespace trt_standin {

nvinfer1::IRuntime* NewRuntime(nvinfer1::ILogger* logger, const Device& device);
nvinfer1::IBuilder* NewBuilder(nvinfer1::ILogger* logger, const Device& device);
nvinfer1::IHostMemory* NewHostMemory(std::string bytes);
nvonnxparser::IParser* NewParser(nvinfer1::INetworkDefinition& network, nvinfer1::ILogger* logger);

/** Logged once by every runtime and builder: nobody should mistake this library for TensorRT. */
constexpr const char* kNotTensorRt =
    "this is the smart-turn-serving TensorRT stand-in (test/trt-standin), not NVIDIA TensorRT: its plans compute the "
    "fixture models' functions chosen by their interface, not the ONNX graph";

}  // namespace trt_standin
