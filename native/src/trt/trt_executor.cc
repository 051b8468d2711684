#include "trt/trt_executor.h"

#include <fstream>
#include <iterator>
#include <vector>

#include "cuda/cuda_slot.h"
#include "trt/trt_common.h"

namespace smartturn {
namespace {

std::vector<char> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot open engine plan " + path + "; build engines with npm run build:engines");
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string DimsString(const nvinfer1::Dims& d) {
  std::string s = "[";
  for (int i = 0; i < d.nbDims; ++i) s += (i ? ", " : "") + std::to_string(d.d[i]);
  return s + "]";
}

struct Io {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

/** The engine's I/O with the batch dimension taken off, checked to be [bucket or -1, ...]. */
Io DescribeEngine(const nvinfer1::ICudaEngine& engine, int bucket, const std::string& plan) {
  Io io;
  for (int32_t i = 0; i < engine.getNbIOTensors(); ++i) {
    const char* name = engine.getIOTensorName(i);
    const nvinfer1::Dims dims = engine.getTensorShape(name);
    if (dims.nbDims < 1 || (dims.d[0] != bucket && dims.d[0] != -1)) {
      throw Error(ErrorCode::kTensorRt, plan + ": tensor " + name + " has shape " + DimsString(dims) + ", expected batch " +
                                            std::to_string(bucket) + " first; rebuild the engines");
    }
    TensorSpec spec{name, FromTrt(engine.getTensorDataType(name), name), {}};
    for (int k = 1; k < dims.nbDims; ++k) {
      if (dims.d[k] < 0) throw Error(ErrorCode::kTensorRt, plan + ": tensor " + std::string(name) + " has a dynamic non-batch dimension");
      spec.row_shape.push_back(dims.d[k]);
    }
    (engine.getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT ? io.inputs : io.outputs).push_back(spec);
  }
  return io;
}

bool SameSpecs(const std::vector<TensorSpec>& a, const std::vector<TensorSpec>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].type != b[i].type || a[i].row_shape != b[i].row_shape) return false;
  }
  return true;
}

class TrtSlot final : public CudaSlot {
 public:
  /** `activations`: the slot's lane's scratch, shared with the lane's slots of the other buckets (core/runner.h). */
  TrtSlot(const SlotIo& io, int device, GraphReport& graphs, nvinfer1::ICudaEngine& engine, const Io& specs, const DeviceBuffer& activations,
          TrtLogger& logger)
      : CudaSlot(io, device, graphs), logger_(logger) {
    context_.reset(CheckTrt(engine.createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED),
                            "ICudaEngine::createExecutionContext", logger_));
    context_->setDeviceMemoryV2(activations.data(), static_cast<int64_t>(activations.size()));
    for (std::size_t i = 0; i < specs.inputs.size(); ++i) {
      const TensorSpec& spec = specs.inputs[i];
      nvinfer1::Dims dims{};
      dims.nbDims = static_cast<int32_t>(spec.row_shape.size() + 1);
      dims.d[0] = bucket();
      for (std::size_t k = 0; k < spec.row_shape.size(); ++k) dims.d[k + 1] = spec.row_shape[k];
      CheckTrt(context_->setInputShape(spec.name.c_str(), dims), "IExecutionContext::setInputShape", logger_);
      CheckTrt(context_->setTensorAddress(spec.name.c_str(), device_inputs()[i].data()), "IExecutionContext::setTensorAddress", logger_);
    }
    for (std::size_t i = 0; i < specs.outputs.size(); ++i) {
      CheckTrt(context_->setTensorAddress(specs.outputs[i].name.c_str(), device_outputs()[i].data()), "IExecutionContext::setTensorAddress",
               logger_);
    }
    CheckTrt(context_->allInputDimensionsSpecified(), "IExecutionContext::allInputDimensionsSpecified", logger_);
    Prepare();
  }
  // The base class synchronizes only after this class's members are gone: the context must not be
  // destroyed while the stream may still run its work.
  ~TrtSlot() override { cudaStreamSynchronize(stream()); }

 protected:
  void Compute(cudaStream_t stream) override { CheckTrt(context_->enqueueV3(stream), "IExecutionContext::enqueueV3", logger_); }

 private:
  TrtLogger& logger_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
};

class TrtExecutor final : public ExecutorFactory {
 public:
  TrtExecutor(const GpuOptions& gpu, const std::map<int, std::string>& plans) : gpu_(gpu), graphs_(gpu.cuda_graphs) {
    ST_CUDA_CHECK(cudaSetDevice(gpu_.device));
    runtime_ = MakeRuntime(logger_);
    for (const auto& [bucket, path] : plans) {
      const std::vector<char> blob = ReadFile(path);
      std::unique_ptr<nvinfer1::ICudaEngine> engine(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
      if (!engine) {
        throw Error(ErrorCode::kTensorRt, "IRuntime::deserializeCudaEngine failed for " + path + logger_.LastError() +
                                              "; the plan may come from another TensorRT version or GPU: rebuild with npm run build:engines");
      }
      Io io = DescribeEngine(*engine, bucket, path);
      if (engines_.empty()) {
        io_ = io;
      } else if (!SameSpecs(io.inputs, io_.inputs) || !SameSpecs(io.outputs, io_.outputs)) {
        throw Error(ErrorCode::kTensorRt, path + " has other inputs or outputs than the other buckets' plans; rebuild them together");
      }
      engines_[bucket] = std::move(engine);
    }
  }

  std::string name() const override { return "tensorrt"; }
  const std::vector<TensorSpec>& inputs() const override { return io_.inputs; }
  const std::vector<TensorSpec>& outputs() const override { return io_.outputs; }
  std::shared_ptr<HostBuffer> AllocateHost(std::size_t bytes) override { return std::make_shared<PinnedHostBuffer>(bytes); }
  std::size_t ScratchBytes(int bucket) const override { return static_cast<std::size_t>(Engine(bucket).getDeviceMemorySizeV2()); }
  std::size_t SlotDeviceBytes(int bucket) const override { return IoBytes(io_.inputs, io_.outputs, bucket); }
  std::optional<DeviceMemory> QueryDeviceMemory() const override { return QueryCudaMemory(gpu_.device); }
  void ReserveLanes(int lanes, std::size_t bytes) override {
    ST_CUDA_CHECK(cudaSetDevice(gpu_.device));
    for (int k = 0; k < lanes; ++k) lanes_.emplace_back(bytes);
  }
  std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) override {
    if (static_cast<std::size_t>(io.lane) >= lanes_.size()) throw Error(ErrorCode::kInternal, "a slot was created before its lane's activations");
    ++slots_;
    return std::make_unique<TrtSlot>(io, gpu_.device, graphs_, Engine(io.bucket), io_, lanes_[static_cast<std::size_t>(io.lane)], logger_);
  }
  std::string Describe() const override {
    return "TensorRT " + TrtVersionString(TrtLibrary::Get().version) + ", " + std::to_string(engines_.size()) + " engines; " +
           graphs_.Describe(slots_);
  }

 private:
  nvinfer1::ICudaEngine& Engine(int bucket) const {
    auto it = engines_.find(bucket);
    if (it == engines_.end()) throw Error(ErrorCode::kOutOfRange, "no engine plan for bucket " + std::to_string(bucket));
    return *it->second;
  }

  GpuOptions gpu_;
  GraphReport graphs_;
  TrtLogger logger_;  // declared first among TensorRT members: outlives everything that logs to it
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::map<int, std::unique_ptr<nvinfer1::ICudaEngine>> engines_;  // after runtime_: destroyed before it
  std::vector<DeviceBuffer> lanes_;  // per lane: activations sized for the largest bucket (outlive the slots: the runner destroys them first)
  Io io_;
  int slots_ = 0;
};

}  // namespace

std::unique_ptr<ExecutorFactory> MakeTrtExecutor(const GpuOptions& gpu, const std::map<int, std::string>& plans) {
  return std::make_unique<TrtExecutor>(gpu, plans);
}

}  // namespace smartturn
