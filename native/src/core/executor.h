// The seam between the runner (buckets, slots, lanes, completion) and whatever computes a batch. The
// production executor is TensorRT on a CUDA stream; two TEST executors stand in for it: one on the
// host CPU (runs everywhere, used by CI) and one with a CUDA kernel (exercises pinned memory,
// streams and graphs on any GPU without TensorRT). Both TEST executors compute the fixture model
// test/fixtures/models/readout-v2.onnx.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/host_buffer.h"
#include "core/tensor.h"

namespace smartturn {

/** The host side of one slot: one buffer per input and per output, each `bucket` rows. */
struct SlotIo {
  int bucket = 0;
  int lane = 0;  // the slot's index among its bucket's slots: the runner's lane that runs it (runner.h)
  std::vector<std::shared_ptr<HostBuffer>> inputs;
  std::vector<std::shared_ptr<HostBuffer>> outputs;
};

/** A device's memory, as cudaMemGetInfo reports it. */
struct DeviceMemory {
  int device = 0;
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

/**
 * The compute of one slot. Launch() and Wait() both run on the thread of the slot's lane (runner.h),
 * never on the JS thread, one batch at a time: Launch() starts the batch already written into the
 * host input buffers without waiting for the device, Wait() returns once its outputs are in the
 * host output buffers. If Launch() throws, nothing it started may still be running: the runner
 * frees the slot (and JS may rewrite its buffers) as soon as the failure is delivered.
 */
class SlotExecutor {
 public:
  virtual ~SlotExecutor() = default;
  /** `rows` of the bucket's rows are real. */
  virtual void Launch(int rows) = 0;
  virtual void Wait() = 0;
};

/** Everything one kind of executor knows: its tensors, its memory, its slots. */
class ExecutorFactory {
 public:
  virtual ~ExecutorFactory() = default;
  /** "tensorrt", "test-host" or "test-cuda": reported to JS so logs say what ran. */
  virtual std::string name() const = 0;
  virtual const std::vector<TensorSpec>& inputs() const = 0;
  virtual const std::vector<TensorSpec>& outputs() const = 0;
  /** Host memory for one slot buffer; pinned where the executor copies it to a device. */
  virtual std::shared_ptr<HostBuffer> AllocateHost(std::size_t bytes) = 0;

  // Device memory, for the runner's plan (core/memory_plan.h). A host executor keeps the defaults.
  /** Scratch one batch of `bucket` computes in (TensorRT's activation memory); 0: none. */
  virtual std::size_t ScratchBytes(int /*bucket*/) const { return 0; }
  /** Device memory one slot of `bucket` owns besides scratch (its copies of the inputs and outputs). */
  virtual std::size_t SlotDeviceBytes(int /*bucket*/) const { return 0; }
  /** The executor's device and its memory now; nullopt for a host executor. */
  virtual std::optional<DeviceMemory> QueryDeviceMemory() const { return std::nullopt; }
  /**
   * Allocates `lanes` scratch buffers of `bytes` each, one per lane, shared by the lane's slots of
   * every bucket. Called once, before any CreateSlot, and only when some bucket needs scratch.
   */
  virtual void ReserveLanes(int /*lanes*/, std::size_t /*bytes*/) {}

  /** Creates the compute of one slot (on lane `io.lane`); may block (engine loads, warm-up, graph capture). */
  virtual std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) = 0;
  /** One line on how batches run (graphs captured, fallbacks), for the start-up log. */
  virtual std::string Describe() const = 0;
};

}  // namespace smartturn
