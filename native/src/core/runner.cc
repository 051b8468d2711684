#include "core/runner.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/format.h"

namespace smartturn {

Runner::Runner(std::unique_ptr<ExecutorFactory> factory, RunnerOptions options)
    : factory_(std::move(factory)), options_(std::move(options)) {
  if (options_.buckets.empty()) throw Error(ErrorCode::kOutOfRange, "no batch buckets given");
  if (!std::is_sorted(options_.buckets.begin(), options_.buckets.end()) ||
      std::adjacent_find(options_.buckets.begin(), options_.buckets.end()) != options_.buckets.end()) {
    throw Error(ErrorCode::kOutOfRange, "batch buckets must be ascending and distinct, got " + JoinInts(options_.buckets));
  }
  if (options_.buckets.front() < 1 || options_.buckets.back() > kMaxBucket) {
    throw Error(ErrorCode::kOutOfRange, "batch buckets must be 1 to " + std::to_string(kMaxBucket) + ", got " + JoinInts(options_.buckets));
  }
  if (options_.slots_per_bucket < 1 || options_.slots_per_bucket > kMaxSlotsPerBucket) {
    throw Error(ErrorCode::kOutOfRange, "slots per bucket must be 1 to " + std::to_string(kMaxSlotsPerBucket) + ", got " +
                                            std::to_string(options_.slots_per_bucket));
  }
  const auto& outs = factory_->outputs();
  if (outs.empty() || outs[0].type != DataType::kFloat32 || outs[0].RowElements() != 1) {
    throw Error(ErrorCode::kInvalidArgument, "the model's first output must be float32 with one value per row");
  }
  // Before any context or slot exists: refuse what would not fit instead of failing halfway through.
  memory_ = PlanMemory(*factory_, options_.buckets, options_.slots_per_bucket);
  if (memory_.lane_bytes > 0) factory_->ReserveLanes(options_.slots_per_bucket, memory_.lane_bytes);
  next_.assign(options_.buckets.size(), 0);
  lane_load_.assign(static_cast<std::size_t>(options_.slots_per_bucket), 0);
  slots_.reserve(options_.buckets.size() * static_cast<std::size_t>(options_.slots_per_bucket));
  for (int bucket : options_.buckets) {
    for (int lane = 0; lane < options_.slots_per_bucket; ++lane) {
      Slot slot;
      slot.io.bucket = bucket;
      slot.io.lane = lane;
      for (const auto& spec : factory_->inputs()) slot.io.inputs.push_back(factory_->AllocateHost(spec.RowBytes() * static_cast<std::size_t>(bucket)));
      for (const auto& spec : outs) slot.io.outputs.push_back(factory_->AllocateHost(spec.RowBytes() * static_cast<std::size_t>(bucket)));
      slot.executor = factory_->CreateSlot(slot.io);
      slots_.push_back(std::move(slot));
    }
  }
}

Runner::~Runner() { Stop(); }

void Runner::Start(Deliver deliver) {
  deliver_ = std::move(deliver);
  for (int k = 0; k < options_.slots_per_bucket; ++k) {
    lanes_.push_back(std::make_unique<Lane>());
    Lane& lane = *lanes_.back();
    lane.thread = std::thread([this, &lane] { Run(lane); });
  }
}

Runner::Slot& Runner::CheckedSlot(int slot, const char* call) {
  if (slot < 0 || slot >= slot_count()) {
    throw Error(ErrorCode::kOutOfRange, std::string(call) + ": slot " + std::to_string(slot) + " does not exist (0 to " +
                                            std::to_string(slot_count() - 1) + ")");
  }
  return slots_[static_cast<std::size_t>(slot)];
}

int Runner::Acquire(int bucket) {
  if (closed_) throw Error(ErrorCode::kClosed, "lease: the engine is closed");
  const auto it = std::find(options_.buckets.begin(), options_.buckets.end(), bucket);
  if (it == options_.buckets.end()) {
    throw Error(ErrorCode::kOutOfRange, "lease: batch size " + std::to_string(bucket) + " is not a bucket (" + JoinInts(options_.buckets) + ")");
  }
  const auto b = static_cast<std::size_t>(it - options_.buckets.begin());
  const int per = options_.slots_per_bucket;
  // The free slot on the least busy lane: a lane runs one batch at a time, so a slot on a busy lane
  // would wait for another bucket's batch while an idle lane could run it. Ties rotate.
  int best = -1;
  for (int k = 0; k < per; ++k) {
    const int i = (next_[b] + k) % per;
    if (slots_[b * static_cast<std::size_t>(per) + static_cast<std::size_t>(i)].state != SlotState::kFree) continue;
    if (best < 0 || lane_load_[static_cast<std::size_t>(i)] < lane_load_[static_cast<std::size_t>(best)]) best = i;
  }
  if (best >= 0) {
    const int index = static_cast<int>(b) * per + best;
    slots_[static_cast<std::size_t>(index)].state = SlotState::kLeased;
    next_[b] = (best + 1) % per;
    ++lane_load_[static_cast<std::size_t>(best)];
    ++leased_;
    return index;
  }
  throw Error(ErrorCode::kBusy, "lease: all " + std::to_string(per) + " slots of bucket " + std::to_string(bucket) +
                                    " are in use; infer or release one first");
}

Runner::Slot& Runner::EndLease(int index, const char* call) {
  Slot& slot = CheckedSlot(index, call);
  if (slot.state != SlotState::kLeased) throw Error(ErrorCode::kState, std::string(call) + ": slot " + std::to_string(index) + " is not leased");
  slot.state = SlotState::kFree;
  --leased_;
  --lane_load_[static_cast<std::size_t>(slot.io.lane)];
  return slot;
}

void Runner::Release(int index) { EndLease(index, "release"); }

void Runner::Submit(int index, int rows, void* context) {
  // The lease ends here whatever happens next, as the Backend contract says.
  Slot& slot = EndLease(index, "infer");
  if (rows < 1 || rows > slot.io.bucket) {
    throw Error(ErrorCode::kOutOfRange, "infer: row count " + std::to_string(rows) + " is outside 1.." + std::to_string(slot.io.bucket));
  }
  if (closed_) throw Error(ErrorCode::kClosed, "infer: the engine is closed");
  if (lanes_.empty()) throw Error(ErrorCode::kInternal, "infer: the runner was not started");
  ++lane_load_[static_cast<std::size_t>(slot.io.lane)];
  Lane& lane = *lanes_[static_cast<std::size_t>(slot.io.lane)];
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.queue.push_back({index, rows, context});
  }
  slot.state = SlotState::kRunning;
  ++running_;
  lane.cv.notify_one();
}

void Runner::Complete(int index) {
  Slot& slot = CheckedSlot(index, "complete");
  if (slot.state != SlotState::kRunning) throw Error(ErrorCode::kInternal, "complete: slot " + std::to_string(index) + " is not running");
  slot.state = SlotState::kFree;
  --running_;
  --lane_load_[static_cast<std::size_t>(slot.io.lane)];
}

void Runner::Stop() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->stopping = true;
    }
    lane->cv.notify_all();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void Runner::Run(Lane& lane) {
  for (;;) {
    Pending job;
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.cv.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
      if (lane.queue.empty()) return;  // stopping, and everything submitted has been delivered
      job = lane.queue.front();
      lane.queue.pop_front();
    }
    deliver_(RunOne(job));
  }
}

std::unique_ptr<Completion> Runner::RunOne(const Pending& job) {
  // Slot state is not read here: it stays kRunning until the JS thread calls Complete().
  const Slot& slot = slots_[static_cast<std::size_t>(job.slot)];
  auto done = std::make_unique<Completion>();
  done->slot = job.slot;
  done->rows = job.rows;
  done->context = job.context;
  try {
    slot.executor->Launch(job.rows);
    slot.executor->Wait();
    const float* out = static_cast<const float*>(slot.io.outputs[0]->data());
    done->output.assign(out, out + job.rows);
  } catch (const Error& e) {
    done->error = e;
  } catch (const std::exception& e) {
    done->error = Error(ErrorCode::kInternal, e.what());
  }
  return done;
}

}  // namespace smartturn
