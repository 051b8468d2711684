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

std::string VersionString() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." + std::to_string(NV_TENSORRT_PATCH);
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
