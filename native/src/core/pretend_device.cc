#include "core/pretend_device.h"

#include <atomic>
#include <vector>

#include "core/error.h"

namespace smartturn {
namespace {

class PretendSlot final : public SlotExecutor {
 public:
  PretendSlot(std::unique_ptr<SlotExecutor> inner, std::atomic<int>& lane_users, int lane)
      : inner_(std::move(inner)), lane_users_(lane_users), lane_(lane) {}

  void Launch(int rows) override {
    if (lane_users_.fetch_add(1) != 0) {
      --lane_users_;
      throw Error(ErrorCode::kInternal, "lane " + std::to_string(lane_) + " was given a batch while another of its batches ran");
    }
    try {
      inner_->Launch(rows);
    } catch (...) {
      --lane_users_;
      throw;
    }
  }

  void Wait() override {
    struct Leave {
      std::atomic<int>& users;
      ~Leave() { --users; }
    } leave{lane_users_};
    inner_->Wait();
  }

 private:
  std::unique_ptr<SlotExecutor> inner_;
  std::atomic<int>& lane_users_;
  int lane_;
};

class PretendFactory final : public ExecutorFactory {
 public:
  PretendFactory(std::unique_ptr<ExecutorFactory> inner, PretendDevice device) : inner_(std::move(inner)), device_(device) {}

  std::string name() const override { return inner_->name(); }
  const std::vector<TensorSpec>& inputs() const override { return inner_->inputs(); }
  const std::vector<TensorSpec>& outputs() const override { return inner_->outputs(); }
  std::shared_ptr<HostBuffer> AllocateHost(std::size_t bytes) override { return inner_->AllocateHost(bytes); }
  std::size_t ScratchBytes(int bucket) const override { return device_.scratch_bytes_per_row * static_cast<std::size_t>(bucket); }
  std::size_t SlotDeviceBytes(int bucket) const override { return IoBytes(inputs(), outputs(), bucket); }
  std::optional<DeviceMemory> QueryDeviceMemory() const override { return DeviceMemory{0, device_.free_bytes, device_.total_bytes}; }
  void ReserveLanes(int lanes, std::size_t) override { lane_users_ = std::vector<std::atomic<int>>(static_cast<std::size_t>(lanes)); }
  std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) override {
    if (static_cast<std::size_t>(io.lane) >= lane_users_.size()) throw Error(ErrorCode::kInternal, "a slot was created before its lane");
    return std::make_unique<PretendSlot>(inner_->CreateSlot(io), lane_users_[static_cast<std::size_t>(io.lane)], io.lane);
  }
  std::string Describe() const override { return inner_->Describe() + ", pretending to be on a device (test)"; }

 private:
  std::unique_ptr<ExecutorFactory> inner_;
  PretendDevice device_;
  std::vector<std::atomic<int>> lane_users_;
};

}  // namespace

std::unique_ptr<ExecutorFactory> PretendOnDevice(std::unique_ptr<ExecutorFactory> inner, PretendDevice device) {
  return std::make_unique<PretendFactory>(std::move(inner), device);
}

}  // namespace smartturn
