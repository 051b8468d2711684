// Buckets, slots and completion, independent of JavaScript and of what computes a batch.
//
// A slot is one bucket-sized set of host buffers plus the executor that computes it. Its life:
// free -> leased (Acquire) -> running (Submit) -> free (Complete), or leased -> free (Release).
// Slot state changes only on the JS thread; the completion thread only waits on executors and
// copies outputs, and hands each finished batch to `Deliver`, which must get it back to the JS
// thread (the addon uses a ThreadSafeFunction) so it can call Complete().
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

namespace smartturn {

struct RunnerOptions {
  std::vector<int> buckets;  // ascending, distinct
  int slots_per_bucket = 2;  // two: the next batch's copy overlaps the current batch's compute
};

/** One finished batch, on its way from the completion thread to the JS thread. */
struct Completion {
  int slot = -1;
  int rows = 0;
  void* context = nullptr;  // the caller's, opaque here (the addon's Promise)
  std::vector<float> output;  // `rows` values of output 0
  std::optional<Error> error;
};

class Runner {
 public:
  using Deliver = std::function<void(std::unique_ptr<Completion>)>;

  /** Allocates every slot and creates its executor; blocking, so call it off the JS thread. */
  Runner(std::unique_ptr<ExecutorFactory> factory, RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /** Starts the completion thread. [JS thread, once] */
  void Start(Deliver deliver);

  // [JS thread] -------------------------------------------------------------------------------
  /** Leases the next free slot of `bucket`, rotating through them. */
  int Acquire(int bucket);
  /** Takes back a leased slot that will not be run. */
  void Release(int slot);
  /** Launches a leased slot's first `rows` rows; on failure the slot is free again and this throws. */
  void Submit(int slot, int rows, void* context);
  /** Frees a slot whose Completion has been delivered. */
  void Complete(int slot);
  /** Refuses further Acquire/Submit; in-flight batches still complete. */
  void Close() { closed_ = true; }
  /** Joins the completion thread. Precondition: nothing running. */
  void Stop();

  const ExecutorFactory& factory() const { return *factory_; }
  const std::vector<int>& buckets() const { return options_.buckets; }
  int slots_per_bucket() const { return options_.slots_per_bucket; }
  int slot_count() const { return static_cast<int>(slots_.size()); }
  int slot_bucket(int slot) const { return slots_.at(static_cast<std::size_t>(slot)).io.bucket; }
  const SlotIo& slot_io(int slot) const { return slots_.at(static_cast<std::size_t>(slot)).io; }
  int leased() const { return leased_; }
  int running() const { return running_; }
  bool closed() const { return closed_; }

 private:
  enum class SlotState { kFree, kLeased, kRunning };
  struct Slot {
    SlotIo io;
    std::unique_ptr<SlotExecutor> executor;
    SlotState state = SlotState::kFree;
  };
  struct Pending {
    int slot;
    int rows;
    void* context;
  };

  Slot& CheckedSlot(int slot, const char* call);
  void CompletionLoop();

  std::unique_ptr<ExecutorFactory> factory_;
  RunnerOptions options_;
  std::vector<Slot> slots_;
  std::vector<int> next_;  // per bucket index: where the rotation resumes
  int leased_ = 0;
  int running_ = 0;
  bool closed_ = false;

  Deliver deliver_;
  std::thread thread_;
  std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
};

}  // namespace smartturn
