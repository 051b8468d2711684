// The build side: network definition (tensors, layers), optimization profiles, builder config,
// timing cache and the builder, which checks a network the way TensorRT would refuse it (no
// profile for a dynamic input, inconsistent dimensions, bf16 before Ampere) and writes a plan.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/fixture_models.h"
#include "factories.h"
#include "functions.h"
#include "lifetime.h"
#include "plan.h"
#include "stubs.h"

namespace trt_standin {
namespace {

using namespace nvinfer1;

// ---- tensors and layers -----------------------------------------------------------------------

class TensorImpl final : public apiv::StubVTensor {
 public:
  TensorImpl(std::string name, DataType type, const Dims& dims) : name_(std::move(name)), type_(type), dims_(dims) {}

  void setName(char const* name) noexcept override { name_ = name ? name : ""; }
  char const* getName() const noexcept override { return name_.c_str(); }
  void setDimensions(Dims const& dims) noexcept override { dims_ = dims; }
  Dims getDimensions() const noexcept override { return dims_; }
  void setType(DataType type) noexcept override { type_ = type; }
  DataType getType() const noexcept override { return type_; }
  bool isNetworkInput() const noexcept override { return input; }
  bool isNetworkOutput() const noexcept override { return output; }
  TensorLocation getLocation() const noexcept override { return TensorLocation::kDEVICE; }
  bool isShapeTensor() const noexcept override { return false; }
  bool isExecutionTensor() const noexcept override { return true; }

  ITensor* self = nullptr;
  bool input = false;
  bool output = false;

 private:
  std::string name_;
  DataType type_;
  Dims dims_;
};
using Tensor = Wrapped<ITensor, TensorImpl>;

class LayerCore final : public apiv::StubVLayer {
 public:
  LayerCore(LayerType type, std::string name) : type_(type), name_(std::move(name)) {}

  LayerType getType() const noexcept override { return type_; }
  void setName(char const* name) noexcept override { name_ = name ? name : ""; }
  char const* getName() const noexcept override { return name_.c_str(); }
  int32_t getNbInputs() const noexcept override { return static_cast<int32_t>(inputs.size()); }
  ITensor* getInput(int32_t i) const noexcept override { return i >= 0 && i < getNbInputs() ? inputs[static_cast<std::size_t>(i)] : nullptr; }
  int32_t getNbOutputs() const noexcept override { return static_cast<int32_t>(outputs.size()); }
  ITensor* getOutput(int32_t i) const noexcept override {
    return i >= 0 && i < getNbOutputs() ? outputs[static_cast<std::size_t>(i)].get() : nullptr;
  }
  void setPrecision(DataType type) noexcept override { precision_ = type; }
  DataType getPrecision() const noexcept override { return precision_.value_or(DataType::kFLOAT); }
  bool precisionIsSet() const noexcept override { return precision_.has_value(); }
  void resetPrecision() noexcept override { precision_.reset(); }
  void setOutputType(int32_t i, DataType type) noexcept override {
    if (i >= 0 && i < getNbOutputs()) output_types_[i] = type;
  }
  DataType getOutputType(int32_t i) const noexcept override {
    const auto it = output_types_.find(i);
    if (it != output_types_.end()) return it->second;
    const ITensor* t = getOutput(i);
    return t ? t->getType() : DataType::kFLOAT;
  }
  bool outputTypeIsSet(int32_t i) const noexcept override { return output_types_.count(i) > 0; }
  void resetOutputType(int32_t i) noexcept override { output_types_.erase(i); }
  void setMetadata(char const* text) noexcept override { metadata_ = text ? text : ""; }
  char const* getMetadata() const noexcept override { return metadata_.c_str(); }

  ILayer* self = nullptr;
  std::vector<ITensor*> inputs;
  std::vector<std::unique_ptr<Tensor>> outputs;

 private:
  LayerType type_;
  std::string name_;
  std::optional<DataType> precision_;
  std::map<int32_t, DataType> output_types_;
  std::string metadata_;
};

/** A layer of public type `Public` (IReduceLayer...): ILayer's methods from LayerCore, its own from `Specific`. */
template <typename Public, typename Specific>
class Layer final : public Public {
 public:
  Layer(LayerType type, std::string name) : core(type, std::move(name)) {
    this->mLayer = &core;
    this->mImpl = &specific;
    core.self = this;
  }
  LayerCore core;
  Specific specific;
};

class ElementWiseImpl final : public apiv::StubVElementWiseLayer {
 public:
  void setOperation(ElementWiseOperation op) noexcept override { op_ = op; }
  ElementWiseOperation getOperation() const noexcept override { return op_; }

 private:
  ElementWiseOperation op_ = ElementWiseOperation::kSUM;
};

class ReduceImpl final : public apiv::StubVReduceLayer {
 public:
  void setOperation(ReduceOperation op) noexcept override { op_ = op; }
  ReduceOperation getOperation() const noexcept override { return op_; }
  void setReduceAxes(uint32_t axes) noexcept override { axes_ = axes; }
  uint32_t getReduceAxes() const noexcept override { return axes_; }
  void setKeepDimensions(bool keep) noexcept override { keep_ = keep; }
  bool getKeepDimensions() const noexcept override { return keep_; }

 private:
  ReduceOperation op_ = ReduceOperation::kSUM;
  uint32_t axes_ = 0;
  bool keep_ = false;
};

class UnaryImpl final : public apiv::StubVUnaryLayer {
 public:
  void setOperation(UnaryOperation op) noexcept override { op_ = op; }
  UnaryOperation getOperation() const noexcept override { return op_; }

 private:
  UnaryOperation op_ = UnaryOperation::kEXP;
};

class ActivationImpl final : public apiv::StubVActivationLayer {
 public:
  void setActivationType(ActivationType type) noexcept override { type_ = type; }
  ActivationType getActivationType() const noexcept override { return type_; }
  void setAlpha(float alpha) noexcept override { alpha_ = alpha; }
  void setBeta(float beta) noexcept override { beta_ = beta; }
  float getAlpha() const noexcept override { return alpha_; }
  float getBeta() const noexcept override { return beta_; }

 private:
  ActivationType type_ = ActivationType::kRELU;
  float alpha_ = 0.0f;
  float beta_ = 0.0f;
};

class CastImpl final : public apiv::StubVCastLayer {
 public:
  void setToType(DataType type) noexcept override { to_ = type; }
  DataType getToType() const noexcept override { return to_; }

 private:
  DataType to_ = DataType::kFLOAT;
};

class ConstantImpl final : public apiv::StubVConstantLayer {
 public:
  void setWeights(Weights weights) noexcept override { weights_ = weights; }
  Weights getWeights() const noexcept override { return weights_; }
  void setDimensions(Dims const& dims) noexcept override { dims_ = dims; }
  Dims getDimensions() const noexcept override { return dims_; }

 private:
  Weights weights_{DataType::kFLOAT, nullptr, 0};
  Dims dims_{};
};

class MatrixMultiplyImpl final : public apiv::StubVMatrixMultiplyLayer {
 public:
  void setOperation(int32_t index, MatrixOperation op) noexcept override {
    if (index == 0 || index == 1) ops_[index] = op;
  }
  MatrixOperation getOperation(int32_t index) const noexcept override { return index == 0 || index == 1 ? ops_[index] : MatrixOperation::kNONE; }

 private:
  MatrixOperation ops_[2] = {MatrixOperation::kNONE, MatrixOperation::kNONE};
};

class IdentityImpl final : public apiv::StubVIdentityLayer {};

// ---- network ----------------------------------------------------------------------------------

const char* LayerTypeName(LayerType type) {
  switch (type) {
    case LayerType::kELEMENTWISE:
      return "ElementWise";
    case LayerType::kREDUCE:
      return "Reduce";
    case LayerType::kUNARY:
      return "Unary";
    case LayerType::kACTIVATION:
      return "Activation";
    case LayerType::kCAST:
      return "Cast";
    case LayerType::kCONSTANT:
      return "Constant";
    case LayerType::kMATRIX_MULTIPLY:
      return "MatrixMultiply";
    case LayerType::kIDENTITY:
      return "Identity";
    default:
      return "Layer";
  }
}

class NetworkImpl final : public apiv::StubVNetworkDefinition {
 public:
  NetworkImpl(IBuilder& builder, NetworkDefinitionCreationFlags flags, Liveness::Token token)
      : builder_(builder), flags_(flags), token_(std::move(token)) {}

  ITensor* addInput(char const* name, DataType type, Dims const& dims) noexcept override {
    auto tensor = std::make_unique<Tensor>(name ? name : "", type, dims);
    tensor->impl.input = true;
    inputs_.push_back(tensor.get());
    ITensor* raw = tensor.get();
    tensors_.push_back(std::move(tensor));
    return raw;
  }
  void markOutput(ITensor& tensor) noexcept override {
    auto* t = Unwrap<TensorImpl>(tensor);
    if (t == nullptr || t->output) return;
    t->output = true;
    outputs_.push_back(&tensor);
  }
  int32_t getNbLayers() const noexcept override { return static_cast<int32_t>(layers_.size()); }
  ILayer* getLayer(int32_t i) const noexcept override { return i >= 0 && i < getNbLayers() ? layers_[static_cast<std::size_t>(i)] : nullptr; }
  int32_t getNbInputs() const noexcept override { return static_cast<int32_t>(inputs_.size()); }
  ITensor* getInput(int32_t i) const noexcept override { return i >= 0 && i < getNbInputs() ? inputs_[static_cast<std::size_t>(i)] : nullptr; }
  int32_t getNbOutputs() const noexcept override { return static_cast<int32_t>(outputs_.size()); }
  ITensor* getOutput(int32_t i) const noexcept override { return i >= 0 && i < getNbOutputs() ? outputs_[static_cast<std::size_t>(i)] : nullptr; }
  void setName(char const* name) noexcept override { name_ = name ? name : ""; }
  char const* getName() const noexcept override { return name_.c_str(); }
  bool hasImplicitBatchDimension() const noexcept override { return false; }
  IBuilder& getBuilder() const noexcept override { return builder_; }
  NetworkDefinitionCreationFlags getFlags() const noexcept override { return flags_; }
  bool getFlag(NetworkDefinitionCreationFlag flag) const noexcept override { return (flags_ >> static_cast<int32_t>(flag)) & 1U; }

  IElementWiseLayer* addElementWise(ITensor& a, ITensor& b, ElementWiseOperation op) noexcept override {
    auto* layer = Add<IElementWiseLayer, ElementWiseImpl>(LayerType::kELEMENTWISE, {&a, &b}, a.getType(), a.getDimensions());
    layer->specific.setOperation(op);
    return layer;
  }
  IReduceLayer* addReduce(ITensor& input, ReduceOperation op, uint32_t axes, bool keep) noexcept override {
    auto* layer = Add<IReduceLayer, ReduceImpl>(LayerType::kREDUCE, {&input}, input.getType(), input.getDimensions());
    layer->specific.setOperation(op);
    layer->specific.setReduceAxes(axes);
    layer->specific.setKeepDimensions(keep);
    return layer;
  }
  IUnaryLayer* addUnary(ITensor& input, UnaryOperation op) noexcept override {
    auto* layer = Add<IUnaryLayer, UnaryImpl>(LayerType::kUNARY, {&input}, input.getType(), input.getDimensions());
    layer->specific.setOperation(op);
    return layer;
  }
  IActivationLayer* addActivation(ITensor& input, ActivationType type) noexcept override {
    auto* layer = Add<IActivationLayer, ActivationImpl>(LayerType::kACTIVATION, {&input}, input.getType(), input.getDimensions());
    layer->specific.setActivationType(type);
    return layer;
  }
  ICastLayer* addCast(ITensor& input, DataType to) noexcept override {
    auto* layer = Add<ICastLayer, CastImpl>(LayerType::kCAST, {&input}, to, input.getDimensions());
    layer->specific.setToType(to);
    return layer;
  }
  IConstantLayer* addConstant(Dims const& dims, Weights weights) noexcept override {
    auto* layer = Add<IConstantLayer, ConstantImpl>(LayerType::kCONSTANT, {}, weights.type, dims);
    layer->specific.setWeights(weights);
    layer->specific.setDimensions(dims);
    return layer;
  }
  IMatrixMultiplyLayer* addMatrixMultiply(ITensor& a, MatrixOperation op_a, ITensor& b, MatrixOperation op_b) noexcept override {
    auto* layer = Add<IMatrixMultiplyLayer, MatrixMultiplyImpl>(LayerType::kMATRIX_MULTIPLY, {&a, &b}, a.getType(), a.getDimensions());
    layer->specific.setOperation(0, op_a);
    layer->specific.setOperation(1, op_b);
    return layer;
  }
  IIdentityLayer* addIdentity(ITensor& input) noexcept override {
    return Add<IIdentityLayer, IdentityImpl>(LayerType::kIDENTITY, {&input}, input.getType(), input.getDimensions());
  }

  const std::vector<ITensor*>& inputs() const { return inputs_; }
  const std::vector<ITensor*>& outputs() const { return outputs_; }

  INetworkDefinition* self = nullptr;

 private:
  /** A layer with one output; named as TensorRT names unnamed layers and their outputs. */
  template <typename Public, typename Specific>
  Layer<Public, Specific>* Add(LayerType type, std::vector<ITensor*> inputs, DataType out_type, const Dims& out_dims) {
    const std::string name = "(Unnamed Layer* " + std::to_string(layers_.size()) + ") [" + LayerTypeName(type) + "]";
    auto layer = std::make_shared<Layer<Public, Specific>>(type, name);
    layer->core.inputs = std::move(inputs);
    layer->core.outputs.push_back(std::make_unique<Tensor>(name + "_output", out_type, out_dims));
    layers_.push_back(layer.get());
    owned_.push_back(layer);  // shared_ptr<void> keeps the right deleter for a protected-destructor type
    return layer.get();
  }

  IBuilder& builder_;
  NetworkDefinitionCreationFlags flags_;
  Liveness::Token token_;
  std::string name_;
  std::vector<std::unique_ptr<Tensor>> tensors_;  // the inputs; layers own their outputs
  std::vector<ITensor*> inputs_;
  std::vector<ITensor*> outputs_;
  std::vector<ILayer*> layers_;
  std::vector<std::shared_ptr<void>> owned_;
};

// ---- profile, timing cache, config ------------------------------------------------------------

class ProfileImpl final : public apiv::StubVOptimizationProfile {
 public:
  struct Shapes {
    Dims dims[3]{};  // kMIN, kOPT, kMAX
    bool set[3] = {false, false, false};
  };

  bool setDimensions(char const* input, OptProfileSelector select, Dims const& dims) noexcept override {
    if (input == nullptr || dims.nbDims < 0 || dims.nbDims > Dims::MAX_DIMS) return false;
    const int k = static_cast<int>(select);
    if (k < 0 || k > 2) return false;
    Shapes& s = shapes[input];
    for (int j = 0; j < 3; ++j) {
      if (s.set[j] && s.dims[j].nbDims != dims.nbDims) return false;  // TensorRT refuses a change of rank
    }
    s.dims[k] = dims;
    s.set[k] = true;
    return true;
  }
  Dims getDimensions(char const* input, OptProfileSelector select) const noexcept override {
    const auto it = shapes.find(input ? input : "");
    const int k = static_cast<int>(select);
    if (it == shapes.end() || k < 0 || k > 2 || !it->second.set[k]) return Dims{-1, {}};
    return it->second.dims[k];
  }
  bool isValid() const noexcept override {
    for (const auto& [name, s] : shapes) {
      if (!(s.set[0] && s.set[1] && s.set[2])) return false;
      for (int d = 0; d < s.dims[0].nbDims; ++d) {
        if (!(s.dims[0].d[d] <= s.dims[1].d[d] && s.dims[1].d[d] <= s.dims[2].d[d])) return false;
      }
    }
    return true;
  }

  IOptimizationProfile* self = nullptr;
  std::map<std::string, Shapes> shapes;
};
using Profile = Wrapped<IOptimizationProfile, ProfileImpl>;

constexpr const char* kTimingCacheMagic = "smart-turn TensorRT stand-in timing cache, format 1\n";

class TimingCacheImpl final : public apiv::StubVTimingCache {
 public:
  explicit TimingCacheImpl(ILogger* logger) : logger_(logger) {}
  ~TimingCacheImpl() override {
    if (users_.AnyAlive()) {
      Log(logger_, Severity::kWARNING,
          "TensorRT stand-in: an ITimingCache was destroyed before a builder that uses it (TensorRT: \"the lifetime of the "
          "ITimingCache must exceed the lifetime of all builders that use it\")");
    }
  }
  IHostMemory* serialize() const noexcept override { return NewHostMemory(kTimingCacheMagic); }
  bool combine(ITimingCache const&, bool) noexcept override { return true; }
  bool reset() noexcept override { return true; }

  ITimingCache* self = nullptr;
  Watch users_;

 private:
  ILogger* logger_;
};
using TimingCache = Wrapped<ITimingCache, TimingCacheImpl>;

class ConfigImpl final : public apiv::StubVBuilderConfig {
 public:
  ConfigImpl(ILogger* logger, Liveness::Token token, std::weak_ptr<void> builder) : logger_(logger), token_(std::move(token)), builder_(std::move(builder)) {}

  void setFlags(BuilderFlags flags) noexcept override { flags_ = flags; }
  BuilderFlags getFlags() const noexcept override { return flags_; }
  void clearFlag(BuilderFlag flag) noexcept override { flags_ &= ~(1U << static_cast<int32_t>(flag)); }
  void setFlag(BuilderFlag flag) noexcept override { flags_ |= 1U << static_cast<int32_t>(flag); }
  bool getFlag(BuilderFlag flag) const noexcept override { return (flags_ >> static_cast<int32_t>(flag)) & 1U; }
  int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept override {
    auto* p = profile ? Unwrap<ProfileImpl>(const_cast<IOptimizationProfile&>(*profile)) : nullptr;
    if (p == nullptr || !p->isValid()) {
      Log(logger_, Severity::kERROR, "IBuilderConfig::addOptimizationProfile: the profile is not valid (every input needs min <= opt <= max)");
      return -1;
    }
    profiles.push_back(p);
    return static_cast<int32_t>(profiles.size()) - 1;
  }
  int32_t getNbOptimizationProfiles() const noexcept override { return static_cast<int32_t>(profiles.size()); }
  void setProfilingVerbosity(ProfilingVerbosity v) noexcept override { verbosity_ = v; }
  ProfilingVerbosity getProfilingVerbosity() const noexcept override { return verbosity_; }
  void setMemoryPoolLimit(MemoryPoolType pool, std::size_t size) noexcept override { pools_[static_cast<int32_t>(pool)] = size; }
  std::size_t getMemoryPoolLimit(MemoryPoolType pool) const noexcept override {
    const auto it = pools_.find(static_cast<int32_t>(pool));
    return it == pools_.end() ? 0 : it->second;
  }
  void setBuilderOptimizationLevel(int32_t level) noexcept override { level_ = level; }
  int32_t getBuilderOptimizationLevel() const noexcept override { return level_; }
  ITimingCache* createTimingCache(void const* blob, std::size_t size) const noexcept override {
    const std::string magic(kTimingCacheMagic);
    if (size != 0 && (blob == nullptr || size < magic.size() || std::string(static_cast<const char*>(blob), magic.size()) != magic)) {
      Log(logger_, Severity::kERROR, "IBuilderConfig::createTimingCache: the blob is not a timing cache of this library");
      return nullptr;
    }
    return new TimingCache(logger_);
  }
  bool setTimingCache(ITimingCache const& cache, bool) noexcept override {
    auto* c = Unwrap<TimingCacheImpl>(const_cast<ITimingCache&>(cache));
    if (c == nullptr) return false;
    c->users_.Add(builder_);
    cache_ = &cache;
    return true;
  }
  ITimingCache const* getTimingCache() const noexcept override { return cache_; }

  IBuilderConfig* self = nullptr;
  std::vector<ProfileImpl*> profiles;

 private:
  ILogger* logger_;
  Liveness::Token token_;
  std::weak_ptr<void> builder_;
  // TensorRT 10 enables TF32 in a new config; a "float32" plan must clear it to be float32.
  BuilderFlags flags_ = 1U << static_cast<int32_t>(BuilderFlag::kTF32);
  ProfilingVerbosity verbosity_ = ProfilingVerbosity::kLAYER_NAMES_ONLY;
  std::map<int32_t, std::size_t> pools_;
  int32_t level_ = 3;
  ITimingCache const* cache_ = nullptr;
};
using Config = Wrapped<IBuilderConfig, ConfigImpl>;

// ---- builder ----------------------------------------------------------------------------------

class BuilderImpl final : public apiv::StubVBuilder {
 public:
  BuilderImpl(ILogger* logger, Device device) : logger_(logger), device_(std::move(device)) {}
  ~BuilderImpl() override {
    // TensorRT: destroying the builder before its configs and networks is undefined behaviour.
    networks_.AbortIfAlive("IBuilder destroyed before an INetworkDefinition it created");
    configs_.AbortIfAlive("IBuilder destroyed before an IBuilderConfig it created");
  }

  INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept override {
    return new Wrapped<INetworkDefinition, NetworkImpl>(*self, flags, networks_.Issue());
  }
  IBuilderConfig* createBuilderConfig() noexcept override { return new Config(logger_, configs_.Issue(), alive_); }
  IOptimizationProfile* createOptimizationProfile() noexcept override {
    profiles_.push_back(std::make_unique<Profile>());
    return profiles_.back().get();
  }
  bool platformHasTf32() const noexcept override { return device_.major >= 8; }
  bool platformHasFastFp16() const noexcept override { return device_.major >= 6; }
  int32_t getNbDLACores() const noexcept override { return 0; }
  ILogger* getLogger() const noexcept override { return logger_; }
  bool setMaxThreads(int32_t n) noexcept override {
    max_threads_ = n;
    return n >= 1;
  }
  int32_t getMaxThreads() const noexcept override { return max_threads_; }

  IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept override {
    std::string why;
    Plan plan;
    if (!Build(network, config, plan, why)) {
      Log(logger_, Severity::kERROR, "IBuilder::buildSerializedNetwork: " + why);
      return nullptr;
    }
    Log(logger_, Severity::kINFO, "TensorRT stand-in: built a " + plan.function + " plan for " + std::string(network.getName()));
    return NewHostMemory(Serialize(plan));
  }

  IBuilder* self = nullptr;

 private:
  bool Build(INetworkDefinition& network, IBuilderConfig& config, Plan& plan, std::string& why) const {
    auto* net = Unwrap<NetworkImpl>(network);
    auto* cfg = Unwrap<ConfigImpl>(config);
    if (net == nullptr || cfg == nullptr) return (why = "the network or config was not made by this builder"), false;
    if (net->getNbInputs() == 0 || net->getNbOutputs() == 0) return (why = "the network has no inputs or no outputs"), false;
    // Deprecated since 10.12 but still what weakly typed callers (the addon) set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const bool bf16 = cfg->getFlag(BuilderFlag::kBF16);
#pragma GCC diagnostic pop
    if (bf16 && device_.major < 8) {
      return (why = "BuilderFlag::kBF16 needs compute capability 8.0 or newer; this GPU is " + std::to_string(device_.major) + "." +
                    std::to_string(device_.minor)),
             false;
    }
    const bool dynamic = std::any_of(net->inputs().begin(), net->inputs().end(), [](ITensor* t) {
      const Dims d = t->getDimensions();
      return std::any_of(d.d, d.d + d.nbDims, [](int64_t v) { return v < 0; });
    });
    if (dynamic && cfg->profiles.empty()) return (why = "Network has dynamic or shape inputs, but no optimization profile has been defined."), false;
    if (cfg->profiles.size() > 1) return (why = "the TensorRT stand-in supports one optimization profile"), false;

    std::vector<IoSpec> ins;
    std::vector<IoSpec> outs;
    for (ITensor* t : net->inputs()) {
      PlanTensor pt{t->getName(), t->getType(), true, t->getDimensions(), {}, {}, {}};
      if (pt.dims.nbDims < 1) return (why = "input " + pt.name + " has no batch dimension"), false;
      pt.min = pt.opt = pt.max = pt.dims;
      if (!cfg->profiles.empty()) {
        const auto it = cfg->profiles[0]->shapes.find(pt.name);
        if (it == cfg->profiles[0]->shapes.end()) {
          if (dynamic) return (why = "input " + pt.name + " has no dimensions in optimization profile 0"), false;
        } else {
          pt.min = it->second.dims[0];
          pt.opt = it->second.dims[1];
          pt.max = it->second.dims[2];
          for (int d = 0; d < pt.dims.nbDims; ++d) {
            const bool fits = pt.min.nbDims == pt.dims.nbDims &&
                              (pt.dims.d[d] < 0 || (pt.min.d[d] == pt.dims.d[d] && pt.max.d[d] == pt.dims.d[d]));
            if (!fits || pt.min.d[d] < 1) {
              return (why = "optimization profile 0 gives input " + pt.name + " " + DimsString(pt.min) + ".." + DimsString(pt.max) +
                            ", which does not fit its dimensions " + DimsString(pt.dims)),
                     false;
            }
          }
        }
      }
      if (!plan.tensors.empty() && (plan.tensors[0].min.d[0] != pt.min.d[0] || plan.tensors[0].max.d[0] != pt.max.d[0])) {
        return (why = "the stand-in needs one batch range for all inputs"), false;
      }
      ins.push_back({pt.name, pt.type, std::vector<int64_t>(pt.dims.d + 1, pt.dims.d + pt.dims.nbDims)});
      plan.tensors.push_back(pt);
    }
    for (ITensor* t : net->outputs()) {
      PlanTensor pt{t->getName(), t->getType(), false, t->getDimensions(), {}, {}, {}};
      outs.push_back({pt.name, pt.type, std::vector<int64_t>(pt.dims.d + 1, pt.dims.d + std::max(pt.dims.nbDims, 1))});
      plan.tensors.push_back(pt);
    }
    const FunctionSpec* fn = MatchFunction(ins, outs, why);
    if (fn == nullptr) return false;

    plan.tensorrt = VersionString();
    plan.device = device_;
    plan.function = fn->id;
    plan.network = net->getName();
    plan.flags = cfg->getFlags();
    plan.profiling_verbosity = static_cast<int32_t>(cfg->getProfilingVerbosity());
    // What a stand-in engine runs: the two kernels of cuda/fixture_kernels.cu, in float32 whatever the flags allow.
    plan.layers = {{"chunk sums (" + std::string(fn->id) + ")", "Reduce", "FP32"}, {"row logits (" + std::string(fn->id) + ")", "PointWise", "FP32"}};
    return true;
  }

  ILogger* logger_;
  Device device_;
  int32_t max_threads_ = 1;
  Liveness networks_;
  Liveness configs_;
  std::shared_ptr<void> alive_ = std::make_shared<int>(0);  // expires with the builder, for timing caches to check
  std::vector<std::unique_ptr<Profile>> profiles_;
};

}  // namespace

IBuilder* NewBuilder(ILogger* logger, const Device& device) {
  Log(logger, Severity::kWARNING, kNotTensorRt);
  return new Wrapped<IBuilder, BuilderImpl>(logger, device);
}

}  // namespace trt_standin
