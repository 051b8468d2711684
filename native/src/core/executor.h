// The seam between the runner (buckets, slots, completion) and whatever computes a batch. The
// production executor is TensorRT on a CUDA stream; two TEST executors stand in for it: one on the
// host CPU (runs everywhere, used by CI) and one with a CUDA kernel (exercises pinned memory,
// streams and graphs on any GPU without TensorRT). Both TEST executors compute the fixture model
// test/fixtures/models/readout-v2.onnx.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/host_buffer.h"
#include "core/tensor.h"

namespace smartturn {

/** The host side of one slot: one buffer per input and per output, each `bucket` rows. */
struct SlotIo {
  int bucket = 0;
  std::vector<std::shared_ptr<HostBuffer>> inputs;
  std::vector<std::shared_ptr<HostBuffer>> outputs;
};

/**
 * The compute of one slot. Launch() runs on the JS thread and must not block on the device;
 * Wait() runs on the runner's completion thread and returns once the outputs of the launched
 * batch are in the slot's host output buffers. The runner never calls either for a slot while
 * that slot's previous batch is still unfinished, so an executor needs no lock of its own.
 */
class SlotExecutor {
 public:
  virtual ~SlotExecutor() = default;
  /** Starts the batch already written into the host input buffers; `rows` of them are real. */
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
  /** Creates the compute of one slot; may block (engine loads, warm-up, graph capture). */
  virtual std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) = 0;
  /** One line on how batches run (graphs captured, fallbacks), for the start-up log. */
  virtual std::string Describe() const = 0;
};

}  // namespace smartturn
