#include "cuda/cuda_slot.h"

namespace smartturn {

std::optional<DeviceMemory> QueryCudaMemory(int device) {
  ST_CUDA_CHECK(cudaSetDevice(device));
  DeviceMemory memory;
  memory.device = device;
  ST_CUDA_CHECK(cudaMemGetInfo(&memory.free_bytes, &memory.total_bytes));
  return memory;
}

void GraphReport::Failed(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.empty()) failure_ = reason;
}

std::string GraphReport::Describe(int slots) const {
  if (!enabled_) return "CUDA graphs off (CUDA_GRAPHS=0): plain enqueue per batch";
  std::lock_guard<std::mutex> lock(mu_);
  std::string s = "CUDA graphs captured for " + std::to_string(captured_.load()) + " of " + std::to_string(slots) + " slots";
  if (!failure_.empty()) s += "; capture failed, those slots use plain enqueue: " + failure_;
  return s;
}

CudaSlot::CudaSlot(const SlotIo& io, int device, GraphReport& graphs) : io_(io), device_(device), graphs_(graphs) {
  ST_CUDA_CHECK(cudaSetDevice(device_));
  for (const auto& buf : io_.inputs) d_inputs_.emplace_back(buf->size());
  for (const auto& buf : io_.outputs) d_outputs_.emplace_back(buf->size());
  stream_ = MakeStream();
  done_ = MakeCompletionEvent();
}

CudaSlot::~CudaSlot() {
  // Nothing may still read the buffers we are about to free.
  if (stream_) cudaStreamSynchronize(stream_.get());
}

void CudaSlot::EnqueueBatch() {
  cudaStream_t s = stream_.get();
  for (std::size_t i = 0; i < d_inputs_.size(); ++i) {
    ST_CUDA_CHECK(cudaMemcpyAsync(d_inputs_[i].data(), io_.inputs[i]->data(), io_.inputs[i]->size(), cudaMemcpyHostToDevice, s));
  }
  Compute(s);
  for (std::size_t i = 0; i < d_outputs_.size(); ++i) {
    ST_CUDA_CHECK(cudaMemcpyAsync(io_.outputs[i]->data(), d_outputs_[i].data(), io_.outputs[i]->size(), cudaMemcpyDeviceToHost, s));
  }
}

void CudaSlot::Prepare() {
  EnqueueBatch();  // the warm-up outside capture
  ST_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  if (graphs_.enabled()) Capture();
}

void CudaSlot::Capture() {
  cudaStream_t s = stream_.get();
  try {
    // ThreadLocal: another thread's unrelated CUDA calls (another slot's launch) cannot break it.
    ST_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      EnqueueBatch();
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(s, &broken);  // leave capture mode whatever state it is in
      if (broken != nullptr) cudaGraphDestroy(broken);
      throw;
    }
    cudaGraph_t graph = nullptr;
    ST_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
    graph_.reset(graph);
    cudaGraphExec_t exec = nullptr;
    ST_CUDA_CHECK(cudaGraphInstantiate(&exec, graph_.get(), 0));
    exec_.reset(exec);
    // One replay now, so the first request does not pay for the graph's upload.
    ST_CUDA_CHECK(cudaGraphLaunch(exec_.get(), s));
    ST_CUDA_CHECK(cudaStreamSynchronize(s));
    graphs_.Captured();
  } catch (const Error& e) {
    exec_.reset();
    graph_.reset();
    cudaGetLastError();  // capture errors are not sticky; clear the per-thread last error
    graphs_.Failed(e.what());
  }
}

void CudaSlot::Launch(int /*rows*/) {
  // A lane's thread starts with device 0 current, and Wait() below runs on the same thread.
  ST_CUDA_CHECK(cudaSetDevice(device_));
  try {
    // Always the whole bucket: the graph is fixed-size, and padding rows hold defined data.
    if (exec_) {
      ST_CUDA_CHECK(cudaGraphLaunch(exec_.get(), stream_.get()));
    } else {
      EnqueueBatch();
    }
    ST_CUDA_CHECK(cudaEventRecord(done_.get(), stream_.get()));
  } catch (...) {
    // Copies enqueued before the failure may still read the pinned inputs: once this throws, the
    // slot is free and JS may write them again.
    cudaStreamSynchronize(stream_.get());
    throw;
  }
}

void CudaSlot::Wait() { ST_CUDA_CHECK(cudaEventSynchronize(done_.get())); }

}  // namespace smartturn
