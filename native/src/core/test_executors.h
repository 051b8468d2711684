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

/** readout-v2's interface (the C++ names keep their first fixture's name): input_values float32 [B, 256000], attention_mask int64 [B, 256000], logits float32 [B, 1]. */
constexpr int64_t kMeanV2Window = 16 * 16000;
std::vector<TensorSpec> MeanV2Inputs();
std::vector<TensorSpec> MeanV2Outputs();

/** The read-out weight of flat index i: (((i * 2654435761) mod 2^32) >> 8) * 2^-24 - 0.5, exact in float. */
float ReadoutWeight(int64_t i);

/**
 * readout-v2 (scripts/make_fixtures.py): c = sum(mask), s = sum(w * values * mask),
 * p = sigmoid(4 s / sqrt(max(c, 1)) + 4 (c / window - 0.5)).
 */
float MeanV2Row(const float* values, const int64_t* mask, int64_t window);

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
