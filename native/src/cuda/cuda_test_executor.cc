#include "cuda/cuda_test_executor.h"

#include "cuda/cuda_slot.h"
#include "cuda/fixture_kernels.h"

namespace smartturn {
namespace {

class CudaTestSlot final : public CudaSlot {
 public:
  CudaTestSlot(const SlotIo& io, int device, GraphReport& graphs, const TestExecutorOptions& options)
      : CudaSlot(io, device, graphs), options_(options), scratch_(FixtureScratchBytes(io.bucket)) {
    Prepare();
  }
  // The base class synchronizes only after this class's members are gone: the kernels must be done
  // with scratch_ before it is freed.
  ~CudaTestSlot() override { cudaStreamSynchronize(stream()); }

  void Launch(int rows) override {
    MaybeInjectFault(options_, TestFault::Stage::kLaunch, rows);
    CudaSlot::Launch(rows);
    rows_ = rows;
  }

  void Wait() override {
    CudaSlot::Wait();
    MaybeInjectFault(options_, TestFault::Stage::kWait, rows_);
  }

 protected:
  void Compute(cudaStream_t stream) override {
    if (options_.break_capture) {
      cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
      ST_CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
      // Synchronizing a capturing stream is illegal: CUDA fails the call and the capture.
      if (capturing == cudaStreamCaptureStatusActive) ST_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    LaunchV2Readout(static_cast<const float*>(device_inputs()[0].data()), static_cast<const int64_t*>(device_inputs()[1].data()),
                    static_cast<float*>(device_outputs()[0].data()), bucket(), scratch_.data(), stream);
  }

 private:
  const TestExecutorOptions& options_;
  DeviceBuffer scratch_;  // the kernels' partial sums
  int rows_ = 0;
};

class CudaTestExecutor final : public ExecutorFactory {
 public:
  CudaTestExecutor(const GpuOptions& gpu, TestExecutorOptions options)
      : gpu_(gpu), options_(std::move(options)), graphs_(gpu.cuda_graphs), inputs_(ReadoutV2Inputs()), outputs_(ReadoutV2Outputs()) {
    ST_CUDA_CHECK(cudaSetDevice(gpu_.device));
  }
  std::string name() const override { return "test-cuda"; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  std::shared_ptr<HostBuffer> AllocateHost(std::size_t bytes) override { return std::make_shared<PinnedHostBuffer>(bytes); }
  std::size_t SlotDeviceBytes(int bucket) const override { return IoBytes(inputs_, outputs_, bucket) + FixtureScratchBytes(bucket); }
  std::optional<DeviceMemory> QueryDeviceMemory() const override { return QueryCudaMemory(gpu_.device); }
  std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) override {
    ++slots_;
    return std::make_unique<CudaTestSlot>(io, gpu_.device, graphs_, options_);
  }
  std::string Describe() const override {
    return "TEST executor with a CUDA kernel computing the readout-v2 fixture model; " + graphs_.Describe(slots_);
  }

 private:
  GpuOptions gpu_;
  TestExecutorOptions options_;
  GraphReport graphs_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  int slots_ = 0;
};

}  // namespace

std::unique_ptr<ExecutorFactory> MakeCudaTestExecutor(const GpuOptions& gpu, TestExecutorOptions options) {
  return std::make_unique<CudaTestExecutor>(gpu, std::move(options));
}

}  // namespace smartturn
