// TEST executors: they compute the fixture model (test/fixtures/models/readout-v2.onnx, made by
// scripts/make_fixtures.py) instead of running TensorRT, so the whole addon except the TensorRT
// calls can be exercised without TensorRT (host) or without a GPU (both). Never used to serve.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/executor.h"

namespace smartturn {

/** readout-v2's interface (core/fixture_models.h): input_values float32 [B, 256000], attention_mask int64 [B, 256000], logits float32 [B, 1]. */
std::vector<TensorSpec> ReadoutV2Inputs();
std::vector<TensorSpec> ReadoutV2Outputs();

/** One row of readout-v2: p = sigmoid(V2Logit(sum(mask), sum(w * values * mask))), summed in double. */
float ReadoutV2Row(const float* values, const int64_t* mask);

/** A failure to inject, so tests can follow each error path out to a rejected Promise. */
struct TestFault {
  enum class Stage { kLaunch, kWait };
  int rows = 0;  // batches of exactly this many rows fail
  Stage stage = Stage::kWait;
  ErrorCode code = ErrorCode::kCuda;
  std::string message;
};

struct TestExecutorOptions {
  /** Extra time each batch takes, so tests can catch batches in flight. */
  int delay_ms = 0;
  std::optional<TestFault> fault;
  /** test-cuda only: make graph capture fail, to exercise the fall-back to plain enqueue. */
  bool break_capture = false;
};

/** Throws `fault` if it applies to this stage and row count. */
void MaybeInjectFault(const TestExecutorOptions& options, TestFault::Stage stage, int rows);

/**
 * TEST executor on the host CPU. Computes only the real rows and writes NaN into the padding rows'
 * outputs, so a runner that ever returned a padding row would fail the tests loudly.
 */
std::unique_ptr<ExecutorFactory> MakeHostTestExecutor(TestExecutorOptions options);

}  // namespace smartturn
