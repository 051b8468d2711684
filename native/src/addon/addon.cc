// The addon's module surface. Everything here is N-API glue: argument reading, workers that run
// the core off the JS thread, and conversion of results; the work itself is in core/, cuda/, trt/.
//   status(device?)        [sync]  what this build and machine (CUDA device `device`, default 0) can do, and why not
//                                  ({cuda, tensorrt, gpu, versions, reason, ...})
//   open(options)          [async] Promise<Engine> (see engine_wrap.h); TypeError/RangeError thrown for bad options
//   buildEngine(options)   [async] Promise<build report>; ONNX -> one TensorRT plan (see trt/trt_builder.h)
//   useTensorRtLibraryDir(dir)
//                          [sync]  load TensorRT from this folder ("" = the library search path), see trt/trt_library.h
//   sumSamples(x)          [sync]  [sum, sum of squares] of a Float32Array, in float64 (core/samples.h)
//   normalizeSamples(src, dst, offset, mean, scale)
//                          [sync]  dst[offset + i] = (src[i] - mean) * scale
//   whisperLogMel(normalized, dst, offset)
//                          [sync]  smart-turn v3's log-mel features of 8 s of normalized audio (core/log_mel.h)
#include <napi.h>

#include <map>
#include <memory>
#include <optional>

#include "addon/args.h"
#include "addon/convert.h"
#include "addon/engine_wrap.h"
#include "addon/js_errors.h"
#include "core/log_mel.h"
#include "core/pretend_device.h"
#include "core/runner.h"
#include "core/samples.h"
#include "core/status.h"
#include "core/test_executors.h"
#include "cuda/gpu_options.h"
#include "trt/trt_library.h"

#ifdef ST_WITH_CUDA
#include "cuda/cuda_status.h"
#include "cuda/cuda_test_executor.h"
#endif
#ifdef ST_WITH_TENSORRT
#include "trt/trt_builder.h"
#include "trt/trt_executor.h"
#endif

namespace smartturn::js {
namespace {

constexpr int kMaxDevice = 1024;

/** What this build and the CUDA device `device` can do: the CUDA side and the TensorRT side, put together. */
NativeStatus ProbeStatus(int device) {
#ifdef ST_WITH_CUDA
  const CudaFindings cuda = ProbeCuda(device);
#else
  (void)device;
  const CudaFindings cuda;
#endif
  return MakeStatus(cuda, ProbeTrt());
}

Napi::Value StatusToJs(Napi::Env env, const NativeStatus& s) {
  auto orNull = [&](const std::string& v) -> Napi::Value { return v.empty() ? env.Null() : Napi::String::New(env, v); };
  Napi::Object o = Napi::Object::New(env);
  o.Set("cuda", s.cuda);
  o.Set("tensorrt", s.tensorrt);
  if (s.gpu) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("index", s.gpu->index);
    g.Set("name", s.gpu->name);
    g.Set("computeCapability", std::to_string(s.gpu->major) + "." + std::to_string(s.gpu->minor));
    g.Set("memoryBytes", static_cast<double>(s.gpu->memory_bytes));
    o.Set("gpu", g);
  } else {
    o.Set("gpu", env.Null());
  }
  Napi::Object v = Napi::Object::New(env);
  v.Set("napi", NAPI_VERSION);
  v.Set("cudaToolkit", orNull(s.cuda_toolkit));
  v.Set("cudaRuntime", orNull(s.cuda_runtime));
  v.Set("cudaDriver", orNull(s.cuda_driver));
  v.Set("tensorrtHeaders", orNull(s.tensorrt_headers));
  v.Set("tensorrtLibrary", orNull(s.tensorrt_library));
  o.Set("versions", v);
  Napi::Object b = Napi::Object::New(env);
  b.Set("cuda", s.built_with_cuda);
  b.Set("tensorrt", s.built_with_tensorrt);
  o.Set("build", b);
  Napi::Array executors = Napi::Array::New(env);
  executors.Set(0u, "test-host");
  if (s.built_with_cuda) executors.Set(executors.Length(), "test-cuda");
  if (s.built_with_tensorrt) executors.Set(executors.Length(), "tensorrt");
  o.Set("executors", executors);
  o.Set("reason", s.reason);
  return o;
}

Napi::Value Status(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    const int device = info.Length() > 0 && !info[0].IsUndefined() ? IntArg(info, 0, "status(device): device", 0, kMaxDevice) : 0;
    return StatusToJs(info.Env(), ProbeStatus(device));
  });
}

/** Runs a blocking core call on libuv's pool; rejects with the core's own error class and code. */
class CoreWorker : public Napi::AsyncWorker {
 public:
  explicit CoreWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() override {
    try {
      Run();
    } catch (const Error& e) {
      error_ = e;
      SetError(e.what());
    } catch (const std::exception& e) {
      error_ = Error(ErrorCode::kInternal, std::string("internal error in the native addon: ") + e.what());
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const Error& e) {
      deferred_.Reject(ToJs(env, e).Value());
    }
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJs(Env(), *error_).Value()); }

  Napi::Promise::Deferred deferred_;
  std::optional<Error> error_;
};

struct OpenOptions {
  std::string executor;
  RunnerOptions runner;
  GpuOptions gpu;
  std::map<int, std::string> plans;
  TestExecutorOptions test;
  std::optional<PretendDevice> pretend;
};

OpenOptions ReadOpenOptions(const Napi::CallbackInfo& info) {
  Napi::Object o = ObjectArg(info, 0, "open(options): options");
  OpenOptions opts;
  opts.executor = OneOf(o, "executor", {"tensorrt", "test-host", "test-cuda"}, "tensorrt");
  Napi::Array buckets = RequiredArray(o, "buckets");
  for (uint32_t i = 0; i < buckets.Length(); ++i) {
    opts.runner.buckets.push_back(IntValue(buckets.Get(i), "buckets[" + std::to_string(i) + "]", 1, kMaxBucket));
  }
  opts.runner.slots_per_bucket = OptionalInt(o, "slotsPerBucket", opts.runner.slots_per_bucket, 1, kMaxSlotsPerBucket);
  opts.gpu.device = OptionalInt(o, "device", opts.gpu.device, 0, kMaxDevice);
  opts.gpu.cuda_graphs = OptionalBool(o, "cudaGraphs", opts.gpu.cuda_graphs);
  if (opts.executor == "tensorrt") {
    Napi::Array plans = RequiredArray(o, "plans");
    if (plans.Length() != buckets.Length()) ThrowRangeError("plans must hold one plan file per bucket, in the buckets' order");
    for (uint32_t i = 0; i < plans.Length(); ++i) opts.plans[opts.runner.buckets[i]] = StringValue(plans.Get(i), "plans[" + std::to_string(i) + "]");
  }
  if (Has(o, "test")) {
    if (opts.executor == "tensorrt") ThrowRangeError("test options apply to the test-host and test-cuda executors only");
    if (!o.Get("test").IsObject()) ThrowTypeError("test must be an object");
    Napi::Object t = o.Get("test").As<Napi::Object>();
    opts.test.delay_ms = OptionalInt(t, "delayMs", 0, 0, 60000);
    opts.test.break_capture = OptionalBool(t, "breakCapture", false);
    if (Has(t, "fault")) {
      if (!t.Get("fault").IsObject()) ThrowTypeError("test.fault must be an object");
      Napi::Object f = t.Get("fault").As<Napi::Object>();
      TestFault fault;
      fault.rows = IntValue(f.Get("rows"), "test.fault.rows", 1, kMaxBucket);
      fault.stage = OneOf(f, "at", {"launch", "wait"}, "wait") == "launch" ? TestFault::Stage::kLaunch : TestFault::Stage::kWait;
      const std::string code = OneOf(f, "code", {"cuda", "tensorrt", "internal"}, "cuda");
      fault.code = code == "cuda" ? ErrorCode::kCuda : code == "tensorrt" ? ErrorCode::kTensorRt : ErrorCode::kInternal;
      fault.message = OptionalString(f, "message", "injected fault");
      opts.test.fault = fault;
    }
    if (Has(t, "device")) {
      if (opts.executor != "test-host") ThrowRangeError("test.device applies to the test-host executor only");
      if (!t.Get("device").IsObject()) ThrowTypeError("test.device must be an object");
      Napi::Object d = t.Get("device").As<Napi::Object>();
      const auto mib = [&](const char* key, int min) { return static_cast<std::size_t>(IntValue(d.Get(key), std::string("test.device.") + key, min, 1 << 24)) << 20; };
      opts.pretend = PretendDevice{mib("freeMiB", 0), mib("totalMiB", 0),
                                   static_cast<std::size_t>(IntValue(d.Get("scratchBytesPerRow"), "test.device.scratchBytesPerRow", 1, 1 << 30))};
    }
  }
  return opts;
}

class OpenWorker final : public CoreWorker {
 public:
  OpenWorker(Napi::Env env, OpenOptions options) : CoreWorker(env), options_(std::move(options)) {}

 protected:
  void Run() override {
    std::unique_ptr<ExecutorFactory> factory;
    if (options_.executor == "test-host") {
      factory = MakeHostTestExecutor(options_.test);
      if (options_.pretend) factory = PretendOnDevice(std::move(factory), *options_.pretend);
    } else {
      const NativeStatus status = ProbeStatus(options_.gpu.device);
      if (!status.cuda) throw Error(ErrorCode::kUnavailable, "executor " + options_.executor + " needs a GPU: " + status.reason);
#ifdef ST_WITH_CUDA
      if (options_.executor == "test-cuda") factory = MakeCudaTestExecutor(options_.gpu, options_.test);
#endif
#ifdef ST_WITH_TENSORRT
      if (options_.executor == "tensorrt") {
        if (!status.tensorrt) throw Error(ErrorCode::kUnavailable, "TensorRT is not available: " + status.reason);
        factory = MakeTrtExecutor(options_.gpu, options_.plans);
      }
#endif
      if (!factory) throw Error(ErrorCode::kUnavailable, "executor " + options_.executor + " is not in this build: " + status.reason);
    }
    runner_ = std::make_unique<Runner>(std::move(factory), options_.runner);
  }
  Napi::Value Result(Napi::Env env) override { return EngineWrap::Create(env, std::move(runner_)); }

 private:
  OpenOptions options_;
  std::unique_ptr<Runner> runner_;
};

Napi::Value Open(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    auto* worker = new OpenWorker(info.Env(), ReadOpenOptions(info));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

#ifdef ST_WITH_TENSORRT
class BuildWorker final : public CoreWorker {
 public:
  BuildWorker(Napi::Env env, BuildOptions options) : CoreWorker(env), options_(std::move(options)) {}

 protected:
  void Run() override {
    const NativeStatus status = ProbeStatus(options_.device);
    if (!status.tensorrt) throw Error(ErrorCode::kUnavailable, "cannot build engines: " + status.reason);
    result_ = BuildEngine(options_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensorrtVersion", result_.tensorrt_version);
    o.Set("inputs", SpecsToJs(env, result_.inputs));
    o.Set("outputs", SpecsToJs(env, result_.outputs));
    o.Set("planBytes", static_cast<double>(result_.plan_bytes));
    o.Set("layersKeptFp32", result_.layers_kept_fp32);
    o.Set("tf32", result_.tf32);
    o.Set("activationBytes", static_cast<double>(result_.activation_bytes));
    o.Set("layerInformation", result_.layer_information);
    return o;
  }

 private:
  BuildOptions options_;
  BuildResult result_;
};
#endif

Napi::Value BuildEngineJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = ObjectArg(info, 0, "buildEngine(options): options");
    const std::string onnx = RequiredString(o, "onnx");
    const std::string plan = RequiredString(o, "plan");
    const int bucket = IntValue(o.Get("bucket"), "bucket", 1, kMaxBucket);
    const std::string dtype = OneOf(o, "dtype", {"bfloat16", "float16", "float32"}, "bfloat16");
    const int workspace_mib = OptionalInt(o, "workspaceMiB", 0, 0, 1 << 20);
    const std::string cache = OptionalString(o, "timingCache", "");
    const int device = OptionalInt(o, "device", 0, 0, kMaxDevice);
#ifdef ST_WITH_TENSORRT
    BuildOptions b;
    b.onnx_path = onnx;
    b.plan_path = plan;
    b.bucket = bucket;
    b.precision = dtype == "bfloat16" ? Precision::kBFloat16 : dtype == "float16" ? Precision::kFloat16 : Precision::kFloat32;
    b.workspace_bytes = static_cast<std::size_t>(workspace_mib) << 20;
    b.timing_cache_path = cache;
    b.device = device;
    auto* worker = new BuildWorker(info.Env(), std::move(b));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
#else
    (void)bucket;
    (void)workspace_mib;
    (void)device;
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    deferred.Reject(ToJs(info.Env(), Error(ErrorCode::kUnavailable, "cannot build engines: " + ProbeStatus(device).reason)).Value());
    return deferred.Promise();
#endif
  });
}

// TENSORRT_LIB_DIR (ts/config.ts): a test/diagnostic setting, passed here before anything probes TensorRT.
Napi::Value UseTensorRtLibraryDirJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    TrtLibrary::UseDirectory(StringValue(info[0], "useTensorRtLibraryDir(dir): dir"));
    return info.Env().Undefined();
  });
}

// The two sample passes run on the calling thread: tens of microseconds, less than a hop to a worker.
Napi::Value SumSamplesJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const Napi::Float32Array x = Float32ArrayArg(info, 0, "sumSamples(samples): samples");
    const SampleSums sums = SumSamples(x.Data(), x.ElementLength());
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(0u, sums.sum);
    out.Set(1u, sums.squares);
    return out;
  });
}

Napi::Value NormalizeSamplesJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const Napi::Float32Array src = Float32ArrayArg(info, 0, "normalizeSamples: src");
    Napi::Float32Array dst = Float32ArrayArg(info, 1, "normalizeSamples: dst");
    const std::size_t offset = OffsetArg(info, 2, "normalizeSamples", src.ElementLength(), "samples", dst.ElementLength());
    const double mean = NumberArg(info, 3, "normalizeSamples: mean");
    const double scale = NumberArg(info, 4, "normalizeSamples: scale");
    NormalizeSamples(src.Data(), src.ElementLength(), dst.Data() + offset, mean, scale);
    return info.Env().Undefined();
  });
}

// Also on the calling thread: cheaper than the hops and copies a worker would add (README, Performance).
Napi::Value WhisperLogMelJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const Napi::Float32Array src = Float32ArrayArg(info, 0, "whisperLogMel: normalized");
    Napi::Float32Array dst = Float32ArrayArg(info, 1, "whisperLogMel: dst");
    const std::size_t offset = OffsetArg(info, 2, "whisperLogMel", kLogMelMels * kLogMelFrames, "features", dst.ElementLength());
    if (src.ElementLength() != kLogMelSamples) {
      ThrowRangeError("whisperLogMel: normalized holds " + std::to_string(src.ElementLength()) + " samples, not " + std::to_string(kLogMelSamples));
    }
    WhisperLogMel(src.Data(), dst.Data() + offset);
    return info.Env().Undefined();
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function engine = EngineWrap::Define(env);
  // Per environment (worker threads each load their own): the constructor open() instantiates.
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(engine)));
  exports.Set("Engine", engine);
  exports.Set("status", Napi::Function::New(env, Status, "status"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("buildEngine", Napi::Function::New(env, BuildEngineJs, "buildEngine"));
  exports.Set("useTensorRtLibraryDir", Napi::Function::New(env, UseTensorRtLibraryDirJs, "useTensorRtLibraryDir"));
  exports.Set("sumSamples", Napi::Function::New(env, SumSamplesJs, "sumSamples"));
  exports.Set("normalizeSamples", Napi::Function::New(env, NormalizeSamplesJs, "normalizeSamples"));
  exports.Set("whisperLogMel", Napi::Function::New(env, WhisperLogMelJs, "whisperLogMel"));
  return exports;
}

}  // namespace smartturn::js

namespace {
Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return smartturn::js::Init(env, exports); }
}  // namespace

NODE_API_MODULE(smart_turn_native, InitModule)
