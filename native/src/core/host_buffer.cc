#include "core/host_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace smartturn {
namespace {

class AlignedHostBuffer final : public HostBuffer {
 public:
  explicit AlignedHostBuffer(std::size_t bytes) {
    // aligned_alloc needs a size that is a multiple of the alignment.
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (data_ == nullptr) throw Error(ErrorCode::kInternal, "out of host memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(data_, 0, bytes);
    size_ = bytes;
  }
  ~AlignedHostBuffer() override { Free(); }
  bool pinned() const noexcept override { return false; }
  void Free() noexcept override {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
  }
};

}  // namespace

std::shared_ptr<HostBuffer> AllocateAlignedHost(std::size_t bytes) { return std::make_shared<AlignedHostBuffer>(bytes); }

}  // namespace smartturn
