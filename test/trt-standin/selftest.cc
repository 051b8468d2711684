// Host self-test of the stand-in (no GPU): its parser, builder, plans, runtime, execution context
// and inspector through the public TensorRT API, on the fixture ONNX files, plus what it refuses and
// what it aborts on. TensorRT's own factories need a GPU, so this makes the objects with a described
// device (factories.h). The GPU half (enqueueV3 computing answers) runs in test/trt-standin.test.ts.
//   trt_standin_selftest <v2 fixture.onnx> <v3 fixture.onnx>
// Prints one line per check; exits 1 if any failed.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "factories.h"

namespace {

using namespace nvinfer1;
using trt_standin::Device;

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

class Logger final : public ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kWARNING) lines.push_back(msg);
  }
  bool Said(const std::string& part) const {
    for (const auto& l : lines) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> lines;
};

const Device kHopper{0, 9, 0, "self-test device (Hopper)"};

std::string Dims(const nvinfer1::Dims& d) {
  std::string s = "[";
  for (int i = 0; i < d.nbDims; ++i) s += (i ? ", " : "") + std::to_string(d.d[i]);
  return s + "]";
}

/** Runs `body` in a child process; returns its stderr if it died by SIGABRT, or "" if it did not. */
std::string AbortMessage(const std::function<void()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    body();
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT ? out : "";
}

struct Built {
  std::unique_ptr<IHostMemory> plan;
  std::vector<std::string> layer_types;
};

/** Parses `onnx` and builds a plan for batch `bucket`, as tools/build-engines.ts asks the addon to. */
Built Build(const std::string& onnx, int bucket, Logger& logger, const Device& device = kHopper,
            ProfilingVerbosity verbosity = ProfilingVerbosity::kLAYER_NAMES_ONLY, bool profile = true) {
  Built out;
  std::unique_ptr<IBuilder> builder(trt_standin::NewBuilder(&logger, device));
  std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(0));
  std::unique_ptr<nvonnxparser::IParser> parser(trt_standin::NewParser(*network, &logger));
  if (!parser->parseFromFile(onnx.c_str(), 2)) return out;
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (profile) {
    IOptimizationProfile* p = builder->createOptimizationProfile();
    for (int32_t i = 0; i < network->getNbInputs(); ++i) {
      nvinfer1::Dims d = network->getInput(i)->getDimensions();
      d.d[0] = bucket;
      for (auto s : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX}) p->setDimensions(network->getInput(i)->getName(), s, d);
    }
    config->addOptimizationProfile(p);
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  config->setFlag(BuilderFlag::kBF16);  // what the addon sets for DTYPE=bfloat16
#pragma GCC diagnostic pop
  config->setProfilingVerbosity(verbosity);
  for (int32_t i = 0; i < network->getNbLayers(); ++i) out.layer_types.push_back(std::to_string(static_cast<int>(network->getLayer(i)->getType())));
  out.plan.reset(builder->buildSerializedNetwork(*network, *config));
  return out;
}

/** A serialized ONNX model whose interface is no fixture's: x float [batch, 3] -> Relu -> y. */
std::string OtherModel() {
  auto varint = [](uint64_t v) {
    std::string s;
    do {
      s += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    return s;
  };
  auto field = [&](int number, const std::string& payload) { return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(payload.size()) + payload; };
  auto number = [&](int n, uint64_t v) { return varint(static_cast<uint64_t>(n) << 3) + varint(v); };
  auto value = [&](const std::string& name) {
    const std::string shape = field(1, field(2, "batch")) + field(1, number(1, 3));
    return field(1, name) + field(2, field(1, number(1, 1) + field(2, shape)));
  };
  const std::string node = field(1, "x") + field(2, "y") + field(4, "Relu");
  const std::string graph = field(1, node) + field(2, "other") + field(11, value("x")) + field(12, value("y"));
  return number(1, 8) + field(7, graph);
}

void PlanAndEngine(const std::string& onnx, const std::string& function, const std::vector<std::string>& inputs, const std::vector<int64_t>& row) {
  Logger logger;
  Built built = Build(onnx, 16, logger);
  Check(built.plan != nullptr && built.plan->size() > 0, onnx + ": parsed and built a plan for bucket 16");
  if (!built.plan) {
    for (const auto& l : logger.lines) std::printf("  log: %s\n", l.c_str());
    return;
  }
  Check(!built.layer_types.empty(), onnx + ": the parser added one layer per node (" + std::to_string(built.layer_types.size()) + ")");
  Check(logger.Said("not NVIDIA TensorRT"), "the builder says it is the stand-in, not TensorRT");

  std::unique_ptr<IRuntime> runtime(trt_standin::NewRuntime(&logger, kHopper));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(built.plan->data(), built.plan->size()));
  Check(engine != nullptr, "the plan deserializes on the same architecture");
  if (!engine) return;
  Check(engine->getNbIOTensors() == static_cast<int32_t>(inputs.size() + 1), "I/O tensor count");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const char* name = engine->getIOTensorName(static_cast<int32_t>(i));
    Check(name && inputs[i] == name && engine->getTensorIOMode(name) == TensorIOMode::kINPUT, "input " + std::to_string(i) + " is " + inputs[i]);
  }
  const nvinfer1::Dims shape = engine->getTensorShape(inputs[0].c_str());
  nvinfer1::Dims expected{static_cast<int32_t>(row.size() + 1), {-1}};
  for (std::size_t k = 0; k < row.size(); ++k) expected.d[k + 1] = row[k];
  Check(Dims(shape) == Dims(expected), inputs[0] + " has the dynamic batch: " + Dims(shape));
  Check(engine->getTensorIOMode("logits") == TensorIOMode::kOUTPUT && engine->getTensorDataType("logits") == DataType::kFLOAT, "logits is a float32 output");
  Check(engine->getDeviceMemorySizeV2() > 0 && engine->getDeviceMemorySizeV2() % 256 == 0, "activation memory is sized and aligned");

  std::unique_ptr<IExecutionContext> context(engine->createExecutionContext(ExecutionContextAllocationStrategy::kUSER_MANAGED));
  Check(context != nullptr, "a kUSER_MANAGED context needs no device memory to be created");
  nvinfer1::Dims in = expected;
  in.d[0] = 17;
  Check(!context->setInputShape(inputs[0].c_str(), in) && logger.Said("outside optimization profile 0"), "refuses batch 17 outside the profile");
  Check(!context->enqueueV3(nullptr) && logger.Said("not every input shape is set"), "enqueueV3 refuses unset shapes");
  in.d[0] = 16;
  for (const auto& name : inputs) context->setInputShape(name.c_str(), in);
  Check(context->allInputDimensionsSpecified(), "all input dimensions specified");
  Check(Dims(context->getTensorShape("logits")) == "[16, 1]", "logits resolves to [16, 1]");
  alignas(256) static char memory[512];
  Check(!context->setTensorAddress("logits", memory + 4) && logger.Said("not 256-byte aligned"), "refuses an unaligned address");
  Check(!context->enqueueV3(nullptr) && logger.Said("no address set"), "enqueueV3 refuses missing addresses");

  std::unique_ptr<IEngineInspector> inspector(engine->createEngineInspector());
  const std::string names = inspector->getEngineInformation(LayerInformationFormat::kJSON);
  Check(names.find("\"Layers\": [\"chunk sums (" + function + ")\"") != std::string::npos,
        "inspector: layer names only by default, naming the function the plan computes: " + function);
  inspector.reset();
  context.reset();
  engine.reset();

  Logger detailed_log;
  Built detailed = Build(onnx, 16, detailed_log, kHopper, ProfilingVerbosity::kDETAILED);
  std::unique_ptr<ICudaEngine> detailed_engine(runtime->deserializeCudaEngine(detailed.plan->data(), detailed.plan->size()));
  std::unique_ptr<IEngineInspector> detailed_inspector(detailed_engine->createEngineInspector());
  const std::string json = detailed_inspector->getEngineInformation(LayerInformationFormat::kJSON);
  Check(json.find("\"Precision\": \"FP32\"") != std::string::npos && json.find("\"Bindings\": [\"" + inputs[0]) != std::string::npos,
        "inspector (kDETAILED): per-layer precision FP32 (what the stand-in computes, whatever the flags) and bindings");
  detailed_inspector.reset();
  detailed_engine.reset();

  Logger other;
  std::unique_ptr<IRuntime> ampere(trt_standin::NewRuntime(&other, Device{0, 8, 9, "self-test device (Ada)"}));
  std::unique_ptr<ICudaEngine> foreign(ampere->deserializeCudaEngine(built.plan->data(), built.plan->size()));
  Check(!foreign && other.Said("expecting compute 8.9 got compute 9.0"), "refuses a plan built for another architecture, as TensorRT does");
  std::unique_ptr<ICudaEngine> garbage(ampere->deserializeCudaEngine("garbage", 7));
  Check(!garbage && other.Said("not a plan of the smart-turn TensorRT stand-in"), "refuses bytes that are no plan");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <v2 fixture.onnx> <v3 fixture.onnx>\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // every line out before an abort
  PlanAndEngine(argv[1], "v2-readout", {"input_values", "attention_mask"}, {256000});
  PlanAndEngine(argv[2], "v3-readout", {"input_features"}, {80, 800});

  {
    Logger logger;
    std::unique_ptr<IBuilder> builder(trt_standin::NewBuilder(&logger, kHopper));
    std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(0));
    std::unique_ptr<nvonnxparser::IParser> parser(trt_standin::NewParser(*network, &logger));
    const std::string other = OtherModel();
    const bool parsed = parser->parse(other.data(), other.size(), nullptr);
    Check(!parsed && parser->getNbErrors() == 1 && parser->getError(0)->code() == nvonnxparser::ErrorCode::kUNSUPPORTED_GRAPH &&
              std::string(parser->getError(0)->desc()).find("computes only the fixture models' functions") != std::string::npos,
          "the parser refuses a model whose interface is no fixture's, saying which it supports");
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    Check(config->getFlag(BuilderFlag::kTF32), "a new builder config allows TF32, as TensorRT 10's does");

    // A network made without the parser: the builder itself refuses an interface it cannot compute.
    std::unique_ptr<INetworkDefinition> manual(builder->createNetworkV2(0));
    ITensor* x = manual->addInput("x", DataType::kFLOAT, nvinfer1::Dims{2, {16, 3}});
    manual->markOutput(*manual->addIdentity(*x)->getOutput(0));
    std::unique_ptr<IHostMemory> refused(builder->buildSerializedNetwork(*manual, *config));
    Check(!refused && logger.Said("this model has x float32[3] -> "), "the builder refuses a network whose interface is no fixture's");
  }
  {
    Logger logger;
    Check(!Build(argv[1], 16, logger, kHopper, ProfilingVerbosity::kLAYER_NAMES_ONLY, false).plan && logger.Said("no optimization profile has been defined"),
          "a dynamic batch without a profile does not build");
    Logger turing;
    Check(!Build(argv[1], 16, turing, Device{0, 7, 5, "self-test device (Turing)"}).plan && turing.Said("kBF16 needs compute capability 8.0"),
          "bf16 does not build before Ampere");
  }
  {
    Logger logger;
    auto cache_first = [&] {
      std::unique_ptr<IBuilder> builder(trt_standin::NewBuilder(&logger, kHopper));
      std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
      std::unique_ptr<ITimingCache> cache(config->createTimingCache(nullptr, 0));
      config->setTimingCache(*cache, false);
    };
    cache_first();
    Check(logger.Said("ITimingCache was destroyed before a builder that uses it"), "warns when a timing cache dies before its builder");
  }

  const std::string unimplemented = AbortMessage([] {
    Logger logger;
    std::unique_ptr<IRuntime> runtime(trt_standin::NewRuntime(&logger, kHopper));
    runtime->setMaxThreads(2);
  });
  Check(unimplemented.find("IRuntime::setMaxThreads is not implemented") != std::string::npos, "an unimplemented method aborts naming itself");
  const std::string lifetime = AbortMessage([&] {
    Logger logger;
    Built built = Build(argv[1], 16, logger);
    IRuntime* runtime = trt_standin::NewRuntime(&logger, kHopper);
    ICudaEngine* engine = runtime->deserializeCudaEngine(built.plan->data(), built.plan->size());
    engine->createExecutionContext(ExecutionContextAllocationStrategy::kUSER_MANAGED);
    delete engine;
  });
  Check(lifetime.find("ICudaEngine destroyed before an IExecutionContext") != std::string::npos, "destroying an engine before its context aborts");

  std::printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
