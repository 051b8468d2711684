#include "core/runner.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace smartturn {
namespace {

std::string JoinBuckets(const std::vector<int>& buckets) {
  std::string s;
  for (int b : buckets) s += (s.empty() ? "" : ", ") + std::to_string(b);
  return s;
}

}  // namespace

Runner::Runner(std::unique_ptr<ExecutorFactory> factory, RunnerOptions options)
    : factory_(std::move(factory)), options_(std::move(options)) {
  if (options_.buckets.empty()) throw Error(ErrorCode::kOutOfRange, "no batch buckets given");
  if (!std::is_sorted(options_.buckets.begin(), options_.buckets.end()) ||
      std::adjacent_find(options_.buckets.begin(), options_.buckets.end()) != options_.buckets.end()) {
    throw Error(ErrorCode::kOutOfRange, "batch buckets must be ascending and distinct, got " + JoinBuckets(options_.buckets));
  }
  if (options_.slots_per_bucket < 1 || options_.slots_per_bucket > 8) {
    throw Error(ErrorCode::kOutOfRange, "slots per bucket must be 1 to 8, got " + std::to_string(options_.slots_per_bucket));
  }
  const auto& outs = factory_->outputs();
  if (outs.empty() || outs[0].type != DataType::kFloat32 || outs[0].RowElements() != 1) {
    throw Error(ErrorCode::kInvalidArgument, "the model's first output must be float32 with one value per row");
  }
  next_.assign(options_.buckets.size(), 0);
  slots_.reserve(options_.buckets.size() * static_cast<std::size_t>(options_.slots_per_bucket));
  for (int bucket : options_.buckets) {
    for (int i = 0; i < options_.slots_per_bucket; ++i) {
      Slot slot;
      slot.io.bucket = bucket;
      for (const auto& spec : factory_->inputs()) slot.io.inputs.push_back(factory_->AllocateHost(spec.RowBytes() * static_cast<std::size_t>(bucket)));
      for (const auto& spec : outs) slot.io.outputs.push_back(factory_->AllocateHost(spec.RowBytes() * static_cast<std::size_t>(bucket)));
      slot.executor = factory_->CreateSlot(slot.io);
      slots_.push_back(std::move(slot));
    }
  }
}

Runner::~Runner() {
  // Without Stop() (the addon object collected while idle) the thread must still be joined.
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Runner::Start(Deliver deliver) {
  deliver_ = std::move(deliver);
  thread_ = std::thread([this] { CompletionLoop(); });
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
    throw Error(ErrorCode::kOutOfRange, "lease: batch size " + std::to_string(bucket) + " is not a bucket (" + JoinBuckets(options_.buckets) + ")");
  }
  const auto b = static_cast<std::size_t>(it - options_.buckets.begin());
  const int per = options_.slots_per_bucket;
  for (int k = 0; k < per; ++k) {
    const int i = (next_[b] + k) % per;
    const int index = static_cast<int>(b) * per + i;
    Slot& slot = slots_[static_cast<std::size_t>(index)];
    if (slot.state != SlotState::kFree) continue;
    slot.state = SlotState::kLeased;
    next_[b] = (i + 1) % per;
    ++leased_;
    return index;
  }
  throw Error(ErrorCode::kBusy, "lease: all " + std::to_string(per) + " slots of bucket " + std::to_string(bucket) +
                                    " are in use; infer or release one first");
}

void Runner::Release(int index) {
  Slot& slot = CheckedSlot(index, "release");
  if (slot.state != SlotState::kLeased) throw Error(ErrorCode::kState, "release: slot " + std::to_string(index) + " is not leased");
  slot.state = SlotState::kFree;
  --leased_;
}

void Runner::Submit(int index, int rows, void* context) {
  Slot& slot = CheckedSlot(index, "infer");
  if (slot.state != SlotState::kLeased) throw Error(ErrorCode::kState, "infer: slot " + std::to_string(index) + " is not leased");
  // The lease ends here whatever happens next, as the Backend contract says.
  slot.state = SlotState::kFree;
  --leased_;
  if (rows < 1 || rows > slot.io.bucket) {
    throw Error(ErrorCode::kOutOfRange, "infer: row count " + std::to_string(rows) + " is outside 1.." + std::to_string(slot.io.bucket));
  }
  if (closed_) throw Error(ErrorCode::kClosed, "infer: the engine is closed");
  slot.executor->Launch(rows);
  slot.state = SlotState::kRunning;
  ++running_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({index, rows, context});
  }
  cv_.notify_one();
}

void Runner::Complete(int index) {
  Slot& slot = CheckedSlot(index, "complete");
  if (slot.state != SlotState::kRunning) throw Error(ErrorCode::kInternal, "complete: slot " + std::to_string(index) + " is not running");
  slot.state = SlotState::kFree;
  --running_;
}

void Runner::Stop() {
  if (running_ != 0) throw Error(ErrorCode::kInternal, "stop: " + std::to_string(running_) + " batches still running");
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Runner::CompletionLoop() {
  for (;;) {
    Pending job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything launched has been delivered
      job = queue_.front();
      queue_.pop_front();
    }
    // Slot state is not read here: it stays kRunning until the JS thread calls Complete().
    Slot& slot = slots_[static_cast<std::size_t>(job.slot)];
    auto done = std::make_unique<Completion>();
    done->slot = job.slot;
    done->rows = job.rows;
    done->context = job.context;
    try {
      slot.executor->Wait();
      const float* out = static_cast<const float*>(slot.io.outputs[0]->data());
      done->output.assign(out, out + job.rows);
    } catch (const Error& e) {
      done->error = e;
    } catch (const std::exception& e) {
      done->error = Error(ErrorCode::kInternal, e.what());
    }
    deliver_(std::move(done));
  }
}

}  // namespace smartturn
