// Buckets, slots, lanes and completion, independent of JavaScript and of what computes a batch.
//
// A slot is one bucket-sized set of host buffers plus the executor that computes it. Its life:
// free -> leased (Acquire) -> running (Submit) -> free (Complete), or leased -> free (Release).
// Slot state changes only on the JS thread.
//
// Each bucket has `slots_per_bucket` slots; slot k of every bucket belongs to lane k. A lane is one
// thread that runs its slots' batches one at a time: it launches a batch (so enqueueing, graph
// launch or not, never runs on the JS thread), waits for it, copies out the result and hands the
// finished batch to `Deliver`, which must get it back to the JS thread (the addon uses a
// ThreadSafeFunction) so it can call Complete(). Lanes finish independently: a small batch never
// waits behind a large one on another lane. Because a lane never runs two batches at once, its
// slots of every bucket share one scratch buffer (TensorRT's activation memory), sized for the
// largest bucket (core/memory_plan.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/executor.h"
#include "core/memory_plan.h"

namespace smartturn {

/** The native layer's one bound on a batch size (a bucket, a row count). */
constexpr int kMaxBucket = 4096;
constexpr int kMaxSlotsPerBucket = 8;

struct RunnerOptions {
  std::vector<int> buckets;  // ascending, distinct, 1..kMaxBucket
  int slots_per_bucket = 2;  // two lanes: one batch's copies overlap the other's compute
};

/** One finished batch, on its way from its lane's thread to the JS thread. */
struct Completion {
  int slot = -1;
  int rows = 0;
  void* context = nullptr;  // the caller's, opaque here (the addon's Promise)
  std::vector<float> output;  // `rows` values of output 0
  std::optional<Error> error;
};

class Runner {
 public:
  /** [any lane's thread, concurrently] */
  using Deliver = std::function<void(std::unique_ptr<Completion>)>;

  /**
   * Plans the device memory (throws Error(kMemory) when it does not fit), reserves the lanes'
   * scratch, allocates every slot and creates its executor; blocking, so call it off the JS thread.
   */
  Runner(std::unique_ptr<ExecutorFactory> factory, RunnerOptions options);
  /** Stop(). */
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /** Starts one thread per lane. [JS thread, once] */
  void Start(Deliver deliver);

  // [JS thread] -------------------------------------------------------------------------------
  /** Leases a free slot of `bucket`: one on the least busy lane, rotating among equals. */
  int Acquire(int bucket);
  /** Takes back a leased slot that will not be run. */
  void Release(int slot);
  /**
   * Hands a leased slot's first `rows` rows to its lane. Throws, and frees the slot, only for a call
   * that cannot run (bad row count, closed); a failure to launch or compute is delivered.
   */
  void Submit(int slot, int rows, void* context);
  /** Frees a slot whose Completion has been delivered. */
  void Complete(int slot);
  /** Refuses further Acquire/Submit; submitted batches still run and are delivered. */
  void Close() { closed_ = true; }

  /**
   * Joins the lanes' threads once they have run and delivered every batch submitted (they wait for
   * the device, never abandon a batch the device may still be reading). Idempotent; any thread but
   * a lane's own.
   */
  void Stop();

  const ExecutorFactory& factory() const { return *factory_; }
  const MemoryPlan& memory() const { return memory_; }
  const std::vector<int>& buckets() const { return options_.buckets; }
  int slots_per_bucket() const { return options_.slots_per_bucket; }
  int slot_count() const { return static_cast<int>(slots_.size()); }
  const SlotIo& slot_io(int slot) const { return slots_.at(static_cast<std::size_t>(slot)).io; }
  int leased() const { return leased_; }
  int running() const { return running_; }
  bool closed() const { return closed_; }

 private:
  enum class SlotState { kFree, kLeased, kRunning };
  struct Slot {
    SlotIo io;
    std::unique_ptr<SlotExecutor> executor;
    SlotState state = SlotState::kFree;  // [JS thread]
  };
  struct Pending {
    int slot;
    int rows;
    void* context;
  };
  struct Lane {
    std::thread thread;
    std::mutex mu;  // guards queue and stopping
    std::condition_variable cv;
    std::deque<Pending> queue;
    bool stopping = false;
  };

  Slot& CheckedSlot(int slot, const char* call);
  /** Ends a leased slot's lease (release, or infer handing it to the lane): a slot not leased is refused. */
  Slot& EndLease(int index, const char* call);
  void Run(Lane& lane);
  std::unique_ptr<Completion> RunOne(const Pending& job);

  std::unique_ptr<ExecutorFactory> factory_;  // first: outlives the slots' executors, which use it
  RunnerOptions options_;
  MemoryPlan memory_;
  std::vector<Slot> slots_;  // bucket-major: slot b * slots_per_bucket + k is bucket b's, on lane k
  std::vector<int> next_;    // per bucket index: where the rotation resumes
  std::vector<int> lane_load_;  // per lane: its slots leased or running [JS thread]
  int leased_ = 0;
  int running_ = 0;
  bool closed_ = false;

  Deliver deliver_;
  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace smartturn
