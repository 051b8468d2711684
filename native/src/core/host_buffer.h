// Host memory the addon lends to JavaScript. Shared ownership: the runner holds one reference and
// every ArrayBuffer lent over it holds another, so the memory outlives whichever goes last. Free()
// lets close() give memory back early once the lent ArrayBuffers have been detached.
#pragma once

#include <cstddef>
#include <memory>

namespace smartturn {

class HostBuffer {
 public:
  virtual ~HostBuffer() = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  /** True for page-locked memory that CUDA copies can read without staging. */
  virtual bool pinned() const noexcept = 0;
  /** Releases the memory now; later calls and the destructor do nothing. */
  virtual void Free() noexcept = 0;

 protected:
  HostBuffer() = default;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

/** Ordinary 64-byte-aligned memory, for executors that never hand it to a DMA engine. */
std::shared_ptr<HostBuffer> AllocateAlignedHost(std::size_t bytes);

}  // namespace smartturn
