#include "trt/trt_builder.h"

#include <NvOnnxParser.h>

#include <fstream>
#include <iterator>

#include "cuda/cuda_check.h"
#include "trt/trt_common.h"

namespace smartturn {
namespace {

std::vector<char> ReadIfPresent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw Error(ErrorCode::kIo, "cannot write " + path);
}

// Layers whose arithmetic loses too much in fp16: normalizations (INormalizationLayer, what
// LayerNormalization parses to) and the mean/variance/rsqrt of a LayerNorm the exporter
// decomposed into ReduceMean, Pow and Sqrt.
bool KeepInFp32(nvinfer1::ILayer& layer) {
  switch (layer.getType()) {
    case nvinfer1::LayerType::kNORMALIZATION:
      return true;
    case nvinfer1::LayerType::kREDUCE:
      return static_cast<nvinfer1::IReduceLayer&>(layer).getOperation() == nvinfer1::ReduceOperation::kAVG;
    case nvinfer1::LayerType::kELEMENTWISE:
      return static_cast<nvinfer1::IElementWiseLayer&>(layer).getOperation() == nvinfer1::ElementWiseOperation::kPOW;
    case nvinfer1::LayerType::kUNARY:
      return static_cast<nvinfer1::IUnaryLayer&>(layer).getOperation() == nvinfer1::UnaryOperation::kSQRT;
    default:
      return false;
  }
}

// TensorRT 10.12+ deprecates weak typing (precision flags and per-layer precision) in favour of
// strongly typed networks, which would need the ONNX file itself converted to the target dtype.
// Weak typing is still the TensorRT 10 way to get a mixed-precision plan from an fp32 ONNX file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
int ApplyPrecision(nvinfer1::IBuilderConfig& config, nvinfer1::INetworkDefinition& network, Precision precision) {
  int kept = 0;
  // TensorRT 10 sets kTF32 in every new config: a "float32" plan would multiply in TF32 (10-bit mantissa).
  if (precision == Precision::kFloat32) config.clearFlag(nvinfer1::BuilderFlag::kTF32);
  if (precision == Precision::kBFloat16) config.setFlag(nvinfer1::BuilderFlag::kBF16);
  if (precision == Precision::kFloat16) {
    config.setFlag(nvinfer1::BuilderFlag::kFP16);
    config.setFlag(nvinfer1::BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
    for (int32_t i = 0; i < network.getNbLayers(); ++i) {
      nvinfer1::ILayer* layer = network.getLayer(i);
      if (!KeepInFp32(*layer)) continue;
      layer->setPrecision(nvinfer1::DataType::kFLOAT);
      for (int32_t k = 0; k < layer->getNbOutputs(); ++k) {
        if (layer->getOutput(k)->getType() == nvinfer1::DataType::kFLOAT) layer->setOutputType(k, nvinfer1::DataType::kFLOAT);
      }
      ++kept;
    }
  }
  return kept;
}
#pragma GCC diagnostic pop

/**
 * What the plan really runs, layer by layer (IEngineInspector, detailed profiling verbosity), as
 * TensorRT's JSON. Read through a context with the bucket's input shapes set: without one, the
 * formats of a network with a dynamic batch read "N/A due to dynamic shapes".
 */
std::string LayerInformation(nvinfer1::ICudaEngine& engine, int bucket, TrtLogger& logger) {
  std::unique_ptr<nvinfer1::IExecutionContext> context(CheckTrt(
      engine.createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED), "ICudaEngine::createExecutionContext", logger));
  for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
    const char* name = engine.getIOTensorName(i);
    if (engine.getTensorIOMode(name) != nvinfer1::TensorIOMode::kINPUT) continue;
    nvinfer1::Dims dims = engine.getTensorShape(name);
    dims.d[0] = bucket;
    CheckTrt(context->setInputShape(name, dims), "IExecutionContext::setInputShape", logger);
  }
  std::unique_ptr<nvinfer1::IEngineInspector> inspector(CheckTrt(engine.createEngineInspector(), "ICudaEngine::createEngineInspector", logger));
  CheckTrt(inspector->setExecutionContext(context.get()), "IEngineInspector::setExecutionContext", logger);
  const char* json = inspector->getEngineInformation(nvinfer1::LayerInformationFormat::kJSON);
  return CheckTrt(json, "IEngineInspector::getEngineInformation", logger);
}

}  // namespace

BuildResult BuildEngine(const BuildOptions& options) {
  const TrtLibrary& lib = TrtLibrary::Get();
  if (lib.create_onnx_parser == nullptr) throw Error(ErrorCode::kUnavailable, lib.parser_error);
  ST_CUDA_CHECK(cudaSetDevice(options.device));
  TrtLogger logger;
  // Declared before the builder: TensorRT requires a timing cache to outlive every builder using it.
  std::unique_ptr<nvinfer1::ITimingCache> cache;
  std::unique_ptr<nvinfer1::IBuilder> builder(
      CheckTrt(static_cast<nvinfer1::IBuilder*>(lib.create_infer_builder(&logger, NV_TENSORRT_VERSION)), "createInferBuilder", logger));
  // Explicit batch is the only mode in TensorRT 10: no creation flags.
  std::unique_ptr<nvinfer1::INetworkDefinition> network(CheckTrt(builder->createNetworkV2(0), "IBuilder::createNetworkV2", logger));
  std::unique_ptr<nvonnxparser::IParser> parser(CheckTrt(
      static_cast<nvonnxparser::IParser*>(lib.create_onnx_parser(network.get(), &logger, NV_ONNX_PARSER_VERSION)), "createNvOnnxParser", logger));
  if (!parser->parseFromFile(options.onnx_path.c_str(), static_cast<int>(nvinfer1::ILogger::Severity::kWARNING))) {
    std::string why;
    for (int32_t i = 0; i < parser->getNbErrors(); ++i) why += std::string(i ? "; " : "") + parser->getError(i)->desc();
    throw Error(ErrorCode::kTensorRt, "IParser::parseFromFile failed for " + options.onnx_path + ": " + why);
  }

  std::unique_ptr<nvinfer1::IBuilderConfig> config(CheckTrt(builder->createBuilderConfig(), "IBuilder::createBuilderConfig", logger));
  if (options.workspace_bytes > 0) config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, options.workspace_bytes);
  // Detailed layer information in the plan, so the inspector below can say what each layer runs in.
  config->setProfilingVerbosity(nvinfer1::ProfilingVerbosity::kDETAILED);

  // Exactly one batch size per plan: min = opt = max = the bucket, so TensorRT tunes for it alone.
  nvinfer1::IOptimizationProfile* profile = CheckTrt(builder->createOptimizationProfile(), "IBuilder::createOptimizationProfile", logger);
  for (int32_t i = 0; i < network->getNbInputs(); ++i) {
    nvinfer1::ITensor* input = network->getInput(i);
    nvinfer1::Dims dims = input->getDimensions();
    if (dims.nbDims < 1) throw Error(ErrorCode::kTensorRt, std::string("input ") + input->getName() + " has no batch dimension");
    dims.d[0] = options.bucket;
    for (int k = 1; k < dims.nbDims; ++k) {
      if (dims.d[k] < 0) throw Error(ErrorCode::kTensorRt, std::string("input ") + input->getName() + " has a dynamic non-batch dimension");
    }
    for (auto selector : {nvinfer1::OptProfileSelector::kMIN, nvinfer1::OptProfileSelector::kOPT, nvinfer1::OptProfileSelector::kMAX}) {
      CheckTrt(profile->setDimensions(input->getName(), selector, dims), "IOptimizationProfile::setDimensions", logger);
    }
  }
  CheckTrt(config->addOptimizationProfile(profile) >= 0, "IBuilderConfig::addOptimizationProfile", logger);

  BuildResult result;
  result.layers_kept_fp32 = ApplyPrecision(*config, *network, options.precision);
  result.tf32 = config->getFlag(nvinfer1::BuilderFlag::kTF32);

  if (!options.timing_cache_path.empty()) {
    const std::vector<char> blob = ReadIfPresent(options.timing_cache_path);
    cache.reset(CheckTrt(config->createTimingCache(blob.data(), blob.size()), "IBuilderConfig::createTimingCache", logger));
    CheckTrt(config->setTimingCache(*cache, false), "IBuilderConfig::setTimingCache", logger);
  }

  std::unique_ptr<nvinfer1::IHostMemory> plan(CheckTrt(builder->buildSerializedNetwork(*network, *config), "IBuilder::buildSerializedNetwork", logger));
  WriteFile(options.plan_path, plan->data(), plan->size());
  result.plan_bytes = plan->size();

  if (cache) {
    std::unique_ptr<nvinfer1::IHostMemory> blob(CheckTrt(cache->serialize(), "ITimingCache::serialize", logger));
    WriteFile(options.timing_cache_path, blob->data(), blob->size());
  }

  // Read the I/O back from the plan itself: that is what the server will check against.
  std::unique_ptr<nvinfer1::IRuntime> runtime = MakeRuntime(logger);
  std::unique_ptr<nvinfer1::ICudaEngine> engine(
      CheckTrt(runtime->deserializeCudaEngine(plan->data(), plan->size()), "IRuntime::deserializeCudaEngine", logger));
  for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    const nvinfer1::Dims dims = engine->getTensorShape(name);
    TensorSpec spec{name, FromTrt(engine->getTensorDataType(name), name), {}};
    for (int k = 1; k < dims.nbDims; ++k) spec.row_shape.push_back(dims.d[k]);
    (engine->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT ? result.inputs : result.outputs).push_back(spec);
  }
  result.activation_bytes = static_cast<std::size_t>(engine->getDeviceMemorySizeV2());
  result.layer_information = LayerInformation(*engine, options.bucket, logger);
  result.tensorrt_version = TrtVersionString(lib.version);
  return result;
}

}  // namespace smartturn
