// The JS face of one opened engine (a Runner). Methods and their threading:
//   info()                  [sync]  executor, description, buckets, slotsPerBucket, inputs, outputs
//   lease(bucket) -> slot   [sync]  throws TypeError, RangeError (not a bucket), ERR_NATIVE_BUSY, ERR_NATIVE_CLOSED
//   buffers(slot)           [sync]  the slot's input buffers, lent as ArrayBuffers over (pinned) host memory;
//                                   the same objects on every call; detached by close()
//   release(slot)           [sync]  gives back a leased slot that will not be run
//   infer(slot, rows)       [async] Promise<Float32Array> of `rows` values; TypeError thrown for
//                                   arguments of the wrong type, every other failure rejects.
//                                   The lease ends whether it succeeds or fails.
//   stats()                 [sync]  { leased, running, closed }
//   close()                 [async] refuses new work, lets running batches finish, then frees
//                                   everything; idempotent
// Completion: the Runner's thread waits on the device; a per-batch ThreadSafeFunction brings the
// result back to the JS thread, which settles the Promise exactly once.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/runner.h"

namespace smartturn::js {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  /** Wraps a Runner that has not been started; takes ownership. [JS thread] */
  static Napi::Object Create(Napi::Env env, std::unique_ptr<Runner> runner);

  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

  /** The ThreadSafeFunction's call on the JS thread: settles one batch's Promise. */
  static void CallJs(Napi::Env env, Napi::Function, EngineWrap* self, Completion* done);

 private:
  struct Job;

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Lease(const Napi::CallbackInfo& info);
  Napi::Value Buffers(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Infer(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Adopt(Napi::Env env, std::unique_ptr<Runner> runner);
  void Finish(Napi::Env env, std::unique_ptr<Completion> done);
  Runner& Open(const char* call);
  void Teardown();

  std::unique_ptr<Runner> runner_;
  std::vector<std::vector<Napi::Reference<Napi::ArrayBuffer>>> lent_;  // [slot][input]
  bool closing_ = false;
  std::optional<Napi::Promise::Deferred> close_;
};

}  // namespace smartturn::js
