#include "common.h"

#include <cstdio>
#include <cstdlib>

#include "factories.h"
#include "stubs.h"

void TrtStandinUnimplemented(const char* method) noexcept {
  std::fprintf(stderr,
               "TensorRT stand-in: %s is not implemented: the stand-in implements only what smart-turn-serving calls "
               "(test/trt-standin); implement it there if the addon now needs it\n",
               method);
  std::abort();
}

namespace trt_standin {

void Log(nvinfer1::ILogger* logger, Severity severity, const std::string& message) noexcept {
  if (logger != nullptr) logger->log(severity, message.c_str());
}

int32_t LibraryVersion() {
  // A test knob, read each time: a test process asks for another version before the addon loads us.
  const char* knob = std::getenv("TRT_STANDIN_LIBRARY_VERSION");
  int major = 0, minor = 0, patch = 0;
  if (knob != nullptr && std::sscanf(knob, "%d.%d.%d", &major, &minor, &patch) == 3) return major * 10000 + minor * 100 + patch;
  return static_cast<int32_t>(NV_TENSORRT_VERSION);
}

std::string VersionString() {
  const int32_t v = LibraryVersion();
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

namespace {

class HostMemoryImpl final : public nvinfer1::apiv::StubVHostMemory {
 public:
  explicit HostMemoryImpl(std::string bytes) : bytes_(std::move(bytes)) {}
  void* data() const noexcept override { return const_cast<char*>(bytes_.data()); }
  std::size_t size() const noexcept override { return bytes_.size(); }
  nvinfer1::DataType type() const noexcept override { return nvinfer1::DataType::kUINT8; }

  nvinfer1::IHostMemory* self = nullptr;

 private:
  std::string bytes_;
};

}  // namespace

nvinfer1::IHostMemory* NewHostMemory(std::string bytes) { return new Wrapped<nvinfer1::IHostMemory, HostMemoryImpl>(std::move(bytes)); }

}  // namespace trt_standin
