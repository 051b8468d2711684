// The CUDA half of a GPU slot, shared by the TensorRT executor and the CUDA TEST executor: device
// buffers, a stream, a completion event and, when enabled, a CUDA graph of the whole batch
// (H2D copies, inference, D2H copies) that is replayed for every launch.
//
// Graphs as trtexec does them: one plain enqueue outside capture first (TensorRT finishes
// shape-dependent setup there), then capture on the slot's own non-default stream, instantiate,
// and replay. A slot's tensor addresses are fixed for its whole life (its own device buffers and
// its own execution context), so a captured graph never goes stale and is never re-captured.
// If capture fails the slot falls back to plain enqueue and the reason is reported once.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/executor.h"
#include "cuda/cuda_raii.h"

namespace smartturn {

/** `device`'s free and total memory (cudaMemGetInfo, made current on this thread first). */
std::optional<DeviceMemory> QueryCudaMemory(int device);

/** Shared by a factory's slots: whether to capture, and what happened when they tried. */
class GraphReport {
 public:
  explicit GraphReport(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  void Captured() { ++captured_; }
  /** Keeps the first failure only: one log line, not one per slot. */
  void Failed(const std::string& reason);
  std::string Describe(int slots) const;

 private:
  bool enabled_;
  std::atomic<int> captured_{0};
  mutable std::mutex mu_;
  std::string failure_;
};

class CudaSlot : public SlotExecutor {
 public:
  CudaSlot(const SlotIo& io, int device, GraphReport& graphs);
  ~CudaSlot() override;

  /** On the lane's thread: makes the slot's device current there, then replays the graph (or enqueues). */
  void Launch(int rows) override;
  void Wait() override;

 protected:
  /** Enqueues the inference alone on `stream`; inputs and outputs are already on the device. */
  virtual void Compute(cudaStream_t stream) = 0;
  /** Call last in the derived constructor, once Compute() can run: warm-up, then capture. */
  void Prepare();

  int bucket() const { return io_.bucket; }
  const std::vector<DeviceBuffer>& device_inputs() const { return d_inputs_; }
  const std::vector<DeviceBuffer>& device_outputs() const { return d_outputs_; }
  cudaStream_t stream() const { return stream_.get(); }

 private:
  void EnqueueBatch();
  void Capture();

  SlotIo io_;
  int device_;
  GraphReport& graphs_;
  std::vector<DeviceBuffer> d_inputs_;
  std::vector<DeviceBuffer> d_outputs_;
  CudaStream stream_;
  CudaEvent done_;
  CudaGraph graph_;
  CudaGraphExec exec_;
};

}  // namespace smartturn
