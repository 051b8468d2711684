// The run side: runtime, engine, execution context and engine inspector. An engine is a parsed
// plan; a context holds input shapes, tensor addresses and activation memory, and enqueueV3
// launches the fixture kernels (native/src/cuda/fixture_kernels.cu) on the caller's stream, with
// the activation memory as their scratch, so the launches can be captured in a CUDA graph.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "cuda/fixture_kernels.h"
#include "factories.h"
#include "functions.h"
#include "lifetime.h"
#include "plan.h"
#include "stubs.h"

namespace trt_standin {
namespace {

using namespace nvinfer1;

constexpr std::size_t kAlignment = 256;

std::size_t RoundUp(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

const PlanTensor* FindTensor(const Plan& plan, const char* name) {
  if (name == nullptr) return nullptr;
  for (const auto& t : plan.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

class EngineImpl;

class ContextImpl final : public apiv::StubVExecutionContext {
 public:
  ContextImpl(EngineImpl& engine, ICudaEngine& engine_public, ExecutionContextAllocationStrategy strategy, Liveness::Token token);
  ~ContextImpl() override;
  bool Allocate();

  ICudaEngine const& getEngine() const noexcept override { return engine_public_; }
  void setName(char const* name) noexcept override { name_ = name ? name : ""; }
  char const* getName() const noexcept override { return name_.c_str(); }
  int32_t getOptimizationProfile() const noexcept override { return 0; }
  bool setOptimizationProfileAsync(int32_t index, cudaStream_t) noexcept override { return index == 0; }
  bool setInputShape(char const* name, Dims const& dims) noexcept override;
  Dims getTensorShape(char const* name) const noexcept override;
  bool allInputDimensionsSpecified() const noexcept override;
  bool allInputShapesSpecified() const noexcept override { return allInputDimensionsSpecified(); }
  bool setTensorAddress(char const* name, void* data) noexcept override;
  bool setInputTensorAddress(char const* name, void const* data) noexcept override { return setTensorAddress(name, const_cast<void*>(data)); }
  bool setOutputTensorAddress(char const* name, void* data) noexcept override { return setTensorAddress(name, data); }
  void const* getTensorAddress(char const* name) const noexcept override {
    const auto it = addresses_.find(name ? name : "");
    return it == addresses_.end() ? nullptr : it->second;
  }
  void* getOutputTensorAddress(char const* name) const noexcept override { return const_cast<void*>(getTensorAddress(name)); }
  void setDeviceMemory(void* memory) noexcept override;
  void setDeviceMemoryV2(void* memory, int64_t size) noexcept override;
  bool enqueueV3(cudaStream_t stream) noexcept override;

  IExecutionContext* self = nullptr;

 private:
  bool Fail(const std::string& message) const;

  EngineImpl& engine_;
  ICudaEngine& engine_public_;
  ExecutionContextAllocationStrategy strategy_;
  Liveness::Token token_;
  std::string name_;
  std::map<std::string, Dims> shapes_;
  std::map<std::string, void*> addresses_;
  void* memory_ = nullptr;
  int64_t memory_size_ = -1;  // -1: not set
  void* owned_ = nullptr;     // cudaMalloc'ed for kSTATIC contexts
  bool enqueued_ = false;     // a first enqueue happened outside capture
};

class InspectorImpl final : public apiv::StubVEngineInspector {
 public:
  explicit InspectorImpl(const EngineImpl& engine) : engine_(engine) {}
  bool setExecutionContext(IExecutionContext const* context) noexcept override;
  IExecutionContext const* getExecutionContext() const noexcept override { return context_; }
  char const* getLayerInformation(int32_t index, LayerInformationFormat format) const noexcept override;
  char const* getEngineInformation(LayerInformationFormat format) const noexcept override;

  IEngineInspector* self = nullptr;

 private:
  std::string Layer(int32_t index, LayerInformationFormat format) const;

  const EngineImpl& engine_;
  IExecutionContext const* context_ = nullptr;
  mutable std::string text_;  // what the last call returned; valid until the next
};

class EngineImpl final : public apiv::StubVCudaEngine {
 public:
  EngineImpl(ILogger* logger, Plan plan, const FunctionSpec& function, Liveness::Token token)
      : logger(logger), plan(std::move(plan)), function(function), token_(std::move(token)) {}
  ~EngineImpl() override { contexts_.AbortIfAlive("ICudaEngine destroyed before an IExecutionContext created from it"); }

  int32_t getNbIOTensors() const noexcept override { return static_cast<int32_t>(plan.tensors.size()); }
  char const* getIOTensorName(int32_t i) const noexcept override {
    return i >= 0 && i < getNbIOTensors() ? plan.tensors[static_cast<std::size_t>(i)].name.c_str() : nullptr;
  }
  Dims getTensorShape(char const* name) const noexcept override {
    const PlanTensor* t = FindTensor(plan, name);
    return t ? t->dims : Dims{-1, {}};
  }
  DataType getTensorDataType(char const* name) const noexcept override {
    const PlanTensor* t = FindTensor(plan, name);
    return t ? t->type : DataType::kFLOAT;
  }
  TensorIOMode getTensorIOMode(char const* name) const noexcept override {
    const PlanTensor* t = FindTensor(plan, name);
    return t == nullptr ? TensorIOMode::kNONE : t->input ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  }
  TensorLocation getTensorLocation(char const*) const noexcept override { return TensorLocation::kDEVICE; }
  bool isShapeInferenceIO(char const*) const noexcept override { return false; }
  Dims getProfileShape(char const* name, int32_t profile, OptProfileSelector select) const noexcept override {
    const PlanTensor* t = FindTensor(plan, name);
    if (t == nullptr || !t->input || profile != 0) return Dims{-1, {}};
    return select == OptProfileSelector::kMIN ? t->min : select == OptProfileSelector::kOPT ? t->opt : t->max;
  }
  int32_t getNbOptimizationProfiles() const noexcept override { return 1; }
  int32_t getNbLayers() const noexcept override { return static_cast<int32_t>(plan.layers.size()); }
  char const* getName() const noexcept override { return plan.network.c_str(); }
  bool hasImplicitBatchDimension() const noexcept override { return false; }
  ProfilingVerbosity getProfilingVerbosity() const noexcept override { return static_cast<ProfilingVerbosity>(plan.profiling_verbosity); }
  int32_t getNbAuxStreams() const noexcept override { return 0; }
  size_t getDeviceMemorySize() const noexcept override { return static_cast<size_t>(getDeviceMemorySizeV2()); }
  int64_t getDeviceMemorySizeV2() const noexcept override {
    return static_cast<int64_t>(RoundUp(smartturn::FixtureScratchBytes(static_cast<int>(MaxBatch()))));
  }
  size_t getDeviceMemorySizeForProfile(int32_t) const noexcept override { return getDeviceMemorySize(); }
  int64_t getDeviceMemorySizeForProfileV2(int32_t) const noexcept override { return getDeviceMemorySizeV2(); }
  IHostMemory* serialize() const noexcept override { return NewHostMemory(Serialize(plan)); }
  IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy strategy) noexcept override {
    auto context = std::make_unique<Wrapped<IExecutionContext, ContextImpl>>(*this, *self, strategy, contexts_.Issue());
    if (!context->impl.Allocate()) return nullptr;
    return context.release();
  }
  IEngineInspector* createEngineInspector() const noexcept override { return new Wrapped<IEngineInspector, InspectorImpl>(*this); }

  int64_t MaxBatch() const {
    for (const auto& t : plan.tensors) {
      if (t.input) return t.max.d[0];
    }
    return 1;
  }

  ICudaEngine* self = nullptr;
  ILogger* logger;
  const Plan plan;
  const FunctionSpec& function;

 private:
  Liveness::Token token_;
  Liveness contexts_;
};

// ---- context ----------------------------------------------------------------------------------

ContextImpl::ContextImpl(EngineImpl& engine, ICudaEngine& engine_public, ExecutionContextAllocationStrategy strategy, Liveness::Token token)
    : engine_(engine), engine_public_(engine_public), strategy_(strategy), token_(std::move(token)) {}

ContextImpl::~ContextImpl() {
  if (owned_ != nullptr) cudaFree(owned_);
}

bool ContextImpl::Allocate() {
  if (strategy_ == ExecutionContextAllocationStrategy::kUSER_MANAGED) return true;
  const int64_t size = engine_.getDeviceMemorySizeV2();
  const cudaError_t status = cudaMalloc(&owned_, static_cast<std::size_t>(size));
  if (status != cudaSuccess) {
    owned_ = nullptr;
    return Fail(std::string("ICudaEngine::createExecutionContext: cudaMalloc of the activation memory failed: ") + cudaGetErrorString(status));
  }
  memory_ = owned_;
  memory_size_ = size;
  return true;
}

bool ContextImpl::Fail(const std::string& message) const {
  Log(engine_.logger, Severity::kERROR, message);
  return false;
}

bool ContextImpl::setInputShape(char const* name, Dims const& dims) noexcept {
  const PlanTensor* t = FindTensor(engine_.plan, name);
  if (t == nullptr || !t->input) return Fail(std::string("IExecutionContext::setInputShape: no input tensor named ") + (name ? name : "(null)"));
  bool fits = dims.nbDims == t->dims.nbDims;
  for (int d = 0; fits && d < dims.nbDims; ++d) fits = t->min.d[d] <= dims.d[d] && dims.d[d] <= t->max.d[d];
  if (!fits) {
    return Fail("IExecutionContext::setInputShape: " + t->name + " " + DimsString(dims) + " is outside optimization profile 0 (" +
                DimsString(t->min) + " to " + DimsString(t->max) + ")");
  }
  shapes_[t->name] = dims;
  return true;
}

Dims ContextImpl::getTensorShape(char const* name) const noexcept {
  const PlanTensor* t = FindTensor(engine_.plan, name);
  if (t == nullptr) return Dims{-1, {}};
  if (t->input) {
    const auto it = shapes_.find(t->name);
    return it == shapes_.end() ? t->dims : it->second;
  }
  if (!allInputDimensionsSpecified()) return t->dims;
  Dims out = t->dims;
  out.d[0] = shapes_.begin()->second.d[0];
  return out;
}

bool ContextImpl::allInputDimensionsSpecified() const noexcept {
  return std::all_of(engine_.plan.tensors.begin(), engine_.plan.tensors.end(), [&](const PlanTensor& t) { return !t.input || shapes_.count(t.name); });
}

bool ContextImpl::setTensorAddress(char const* name, void* data) noexcept {
  const PlanTensor* t = FindTensor(engine_.plan, name);
  if (t == nullptr) return Fail(std::string("IExecutionContext::setTensorAddress: no I/O tensor named ") + (name ? name : "(null)"));
  if (data == nullptr || reinterpret_cast<std::uintptr_t>(data) % kAlignment != 0) {
    // TensorRT requires 256-byte aligned I/O addresses.
    return Fail("IExecutionContext::setTensorAddress: the address for " + t->name + " is null or not 256-byte aligned");
  }
  addresses_[t->name] = data;
  return true;
}

void ContextImpl::setDeviceMemory(void* memory) noexcept {
  memory_ = memory;
  memory_size_ = engine_.getDeviceMemorySizeV2();
}

void ContextImpl::setDeviceMemoryV2(void* memory, int64_t size) noexcept {
  if (size < engine_.getDeviceMemorySizeV2()) {
    Fail("IExecutionContext::setDeviceMemoryV2: " + std::to_string(size) + " bytes is less than the engine's getDeviceMemorySizeV2() (" +
         std::to_string(engine_.getDeviceMemorySizeV2()) + ")");
    return;
  }
  memory_ = memory;
  memory_size_ = size;
}

bool ContextImpl::enqueueV3(cudaStream_t stream) noexcept {
  if (!allInputDimensionsSpecified()) return Fail("IExecutionContext::enqueueV3: not every input shape is set (setInputShape)");
  for (const auto& t : engine_.plan.tensors) {
    if (!addresses_.count(t.name)) return Fail("IExecutionContext::enqueueV3: no address set for tensor " + t.name + " (setTensorAddress)");
  }
  if (memory_ == nullptr) return Fail("IExecutionContext::enqueueV3: a kUSER_MANAGED context has no device memory (setDeviceMemoryV2)");
  // TensorRT does shape-dependent setup in the first enqueue after the shapes are set, which is not
  // capturable: trtexec enqueues once before capturing a graph, and so must every caller.
  if (!enqueued_) {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream, &capturing) != cudaSuccess) return Fail("IExecutionContext::enqueueV3: invalid stream");
    if (capturing != cudaStreamCaptureStatusNone) {
      return Fail("IExecutionContext::enqueueV3: the first enqueue of a context was captured into a CUDA graph; enqueue once "
                  "without capture first (as trtexec does)");
    }
    enqueued_ = true;
  }
  const int rows = static_cast<int>(shapes_.begin()->second.d[0]);
  try {
    auto* logits = static_cast<float*>(addresses_.at("logits"));
    if (engine_.function.function == Function::kV2Readout) {
      smartturn::LaunchV2Readout(static_cast<const float*>(addresses_.at("input_values")), static_cast<const int64_t*>(addresses_.at("attention_mask")),
                                 logits, rows, memory_, stream);
    } else {
      smartturn::LaunchV3Readout(static_cast<const float*>(addresses_.at("input_features")), logits, rows, memory_, stream);
    }
  } catch (const std::exception& e) {
    return Fail(std::string("IExecutionContext::enqueueV3: ") + e.what());
  }
  return true;
}

// ---- inspector --------------------------------------------------------------------------------

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool InspectorImpl::setExecutionContext(IExecutionContext const* context) noexcept {
  if (context != nullptr && &context->getEngine() != engine_.self) {
    Log(engine_.logger, Severity::kERROR, "IEngineInspector::setExecutionContext: the context belongs to another engine");
    return false;
  }
  context_ = context;
  return true;
}

std::string InspectorImpl::Layer(int32_t index, LayerInformationFormat format) const {
  const PlanLayer& layer = engine_.plan.layers[static_cast<std::size_t>(index)];
  const auto verbosity = static_cast<ProfilingVerbosity>(engine_.plan.profiling_verbosity);
  if (verbosity == ProfilingVerbosity::kNONE) return "";
  if (verbosity == ProfilingVerbosity::kLAYER_NAMES_ONLY) return format == LayerInformationFormat::kJSON ? "\"" + Escape(layer.name) + "\"" : layer.name;
  auto io = [&](bool input) {
    std::string s;
    for (const auto& t : engine_.plan.tensors) {
      if (t.input != input || (index == 1 && input)) continue;  // the second kernel reads the first's partial sums
      const Dims dims = context_ ? context_->getTensorShape(t.name.c_str()) : t.dims;
      s += std::string(s.empty() ? "" : ", ") + "{\"Name\": \"" + Escape(t.name) + "\", \"Location\": \"Device\", \"Dimensions\": " +
           DimsString(dims) + ", \"Format/Datatype\": \"Row major linear " + (t.type == DataType::kFLOAT ? "FP32" : "Int64") + "\"}";
    }
    return "[" + s + "]";
  };
  if (format == LayerInformationFormat::kONELINE) return layer.name + " [" + layer.type + ", " + layer.precision + "]";
  return "{\"Name\": \"" + Escape(layer.name) + "\", \"LayerType\": \"" + layer.type + "\", \"Inputs\": " + io(true) +
         ", \"Outputs\": " + io(false) + ", \"Precision\": \"" + layer.precision +
         "\", \"TacticName\": \"smart-turn TensorRT stand-in fixture kernel\", \"StreamId\": 0}";
}

char const* InspectorImpl::getLayerInformation(int32_t index, LayerInformationFormat format) const noexcept {
  if (index < 0 || index >= engine_.getNbLayers()) return nullptr;
  text_ = Layer(index, format);
  return text_.c_str();
}

char const* InspectorImpl::getEngineInformation(LayerInformationFormat format) const noexcept {
  std::string layers;
  std::string bindings;
  for (int32_t i = 0; i < engine_.getNbLayers(); ++i) {
    const std::string l = Layer(i, format);
    if (!l.empty()) layers += (layers.empty() ? "" : format == LayerInformationFormat::kJSON ? ",\n" : "\n") + l;
  }
  for (const auto& t : engine_.plan.tensors) bindings += (bindings.empty() ? "\"" : ", \"") + Escape(t.name) + "\"";
  text_ = format == LayerInformationFormat::kJSON ? "{\"Layers\": [" + layers + "],\n\"Bindings\": [" + bindings + "]}" : layers;
  return text_.c_str();
}

// ---- runtime ----------------------------------------------------------------------------------

class RuntimeImpl final : public apiv::StubVRuntime {
 public:
  RuntimeImpl(ILogger* logger, Device device) : logger_(logger), device_(std::move(device)) {}
  ~RuntimeImpl() override { engines_.AbortIfAlive("IRuntime destroyed before an ICudaEngine deserialized from it"); }

  IRuntime* getPImpl() noexcept override { return self; }
  ILogger* getLogger() const noexcept override { return logger_; }
  int32_t getNbDLACores() const noexcept override { return 0; }
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override {
    Plan plan;
    std::string why;
    if (blob == nullptr || !Deserialize(blob, size, plan, why)) return Fail(why.empty() ? "no plan given" : why);
    if (plan.tensorrt != VersionString()) {
      return Fail("The engine plan file is not compatible with this version of TensorRT, expecting library version " + VersionString() +
                  " got " + plan.tensorrt + ", please rebuild.");
    }
    if (plan.device.major != device_.major || plan.device.minor != device_.minor) {
      return Fail("The engine plan file is generated on an incompatible device, expecting compute " + std::to_string(device_.major) + "." +
                  std::to_string(device_.minor) + " got compute " + std::to_string(plan.device.major) + "." + std::to_string(plan.device.minor) +
                  ", please rebuild.");
    }
    const FunctionSpec* fn = FunctionById(plan.function);
    if (fn == nullptr) return Fail("the plan computes " + plan.function + ", which this stand-in does not know");
    return new Wrapped<ICudaEngine, EngineImpl>(logger_, std::move(plan), *fn, engines_.Issue());
  }

  IRuntime* self = nullptr;

 private:
  ICudaEngine* Fail(const std::string& why) const {
    Log(logger_, Severity::kERROR, "IRuntime::deserializeCudaEngine: " + why);
    return nullptr;
  }

  ILogger* logger_;
  Device device_;
  Liveness engines_;
};

}  // namespace

IRuntime* NewRuntime(ILogger* logger, const Device& device) {
  Log(logger, Severity::kWARNING, kNotTensorRt);
  return new Wrapped<IRuntime, RuntimeImpl>(logger, device);
}

}  // namespace trt_standin
