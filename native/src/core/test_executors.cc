#include "core/test_executors.h"

#include "core/fixture_models.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

namespace smartturn {

std::vector<TensorSpec> ReadoutV2Inputs() {
  return {{"input_values", DataType::kFloat32, {fixture::kV2Window}}, {"attention_mask", DataType::kInt64, {fixture::kV2Window}}};
}

std::vector<TensorSpec> ReadoutV2Outputs() { return {{"logits", DataType::kFloat32, {1}}}; }

float ReadoutV2Row(const float* values, const int64_t* mask) {
  // Double accumulation: closer to the float64 reference the tests use than ONNX Runtime's float sums.
  double s = 0.0;
  double c = 0.0;
  for (int64_t i = 0; i < fixture::kV2Window; ++i) {
    const double m = static_cast<double>(mask[i]);
    s += static_cast<double>(fixture::ReadoutWeight(static_cast<uint32_t>(i))) * values[i] * m;
    c += m;
  }
  return fixture::Sigmoid(fixture::V2Logit(static_cast<float>(c), static_cast<float>(s)));
}

void MaybeInjectFault(const TestExecutorOptions& options, TestFault::Stage stage, int rows) {
  if (options.fault && options.fault->stage == stage && options.fault->rows == rows) {
    throw Error(options.fault->code, options.fault->message);
  }
}

namespace {

class HostSlot final : public SlotExecutor {
 public:
  HostSlot(const SlotIo& io, const TestExecutorOptions& options) : io_(io), options_(options) {}

  void Launch(int rows) override {
    MaybeInjectFault(options_, TestFault::Stage::kLaunch, rows);
    rows_ = rows;
  }

  void Wait() override {
    if (options_.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options_.delay_ms));
    MaybeInjectFault(options_, TestFault::Stage::kWait, rows_);
    const auto* values = static_cast<const float*>(io_.inputs[0]->data());
    const auto* mask = static_cast<const int64_t*>(io_.inputs[1]->data());
    auto* out = static_cast<float*>(io_.outputs[0]->data());
    for (int r = 0; r < io_.bucket; ++r) {
      out[r] = r < rows_ ? ReadoutV2Row(values + r * fixture::kV2Window, mask + r * fixture::kV2Window)
                         : std::numeric_limits<float>::quiet_NaN();
    }
  }

 private:
  SlotIo io_;
  const TestExecutorOptions& options_;  // owned by the factory, which outlives its slots
  int rows_ = 0;
};

class HostTestExecutor final : public ExecutorFactory {
 public:
  explicit HostTestExecutor(TestExecutorOptions options)
      : options_(std::move(options)), inputs_(ReadoutV2Inputs()), outputs_(ReadoutV2Outputs()) {}
  std::string name() const override { return "test-host"; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  std::shared_ptr<HostBuffer> AllocateHost(std::size_t bytes) override { return AllocateAlignedHost(bytes); }
  std::unique_ptr<SlotExecutor> CreateSlot(const SlotIo& io) override { return std::make_unique<HostSlot>(io, options_); }
  std::string Describe() const override { return "TEST executor on the host CPU computing the readout-v2 fixture model"; }

 private:
  TestExecutorOptions options_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
};

}  // namespace

std::unique_ptr<ExecutorFactory> MakeHostTestExecutor(TestExecutorOptions options) {
  return std::make_unique<HostTestExecutor>(std::move(options));
}

}  // namespace smartturn
