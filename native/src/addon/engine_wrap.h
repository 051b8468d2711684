// The JS face of one opened engine (a Runner). Methods and their threading:
//   info()                  [sync]  executor, description, buckets, slotsPerBucket, pinned, inputs, outputs, memory
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
// Completion: the Runner's lane threads run and wait for batches; one ThreadSafeFunction per
// engine brings each result back to the JS thread, which settles its Promise exactly once, whatever
// fails on the way (a JS thread being torn down included).
//
// Teardown: the lane threads call the ThreadSafeFunction, so they must be gone before it is. Close()
// and the destructor join them before releasing it; when the environment goes first (a worker
// terminated with batches in flight), Node finalizes the ThreadSafeFunction and its finalizer joins
// them (their calls then return napi_closing and they drop the results: nobody is left to answer).
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/runner.h"

namespace smartturn::js {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  /** The ThreadSafeFunction's context; lives until its finalizer, which may run after the engine is gone. */
  struct Channel {
    EngineWrap* engine;  // null once the engine no longer needs the channel
  };

  static Napi::Function Define(Napi::Env env);
  /** Wraps a Runner that has not been started; takes ownership. [JS thread] */
  static Napi::Object Create(Napi::Env env, std::unique_ptr<Runner> runner);

  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

  /** The ThreadSafeFunction's call on the JS thread (env null while the environment is torn down). */
  static void CallJs(Napi::Env env, Napi::Function, Channel* channel, Completion* done);

 private:
  struct Job;
  using Tsfn = Napi::TypedThreadSafeFunction<Channel, Completion, CallJs>;

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Lease(const Napi::CallbackInfo& info);
  Napi::Value Buffers(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Infer(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Adopt(Napi::Env env, std::unique_ptr<Runner> runner);
  /** Settles one batch. Never throws: it runs inside Node's ThreadSafeFunction dispatch. */
  void Finish(Napi::Env env, std::unique_ptr<Completion> done) noexcept;
  /** Node finalized the ThreadSafeFunction before the engine was closed: the environment is going away. */
  void ChannelClosed() noexcept;
  Runner& Open(const char* call);
  /** Frees everything once nothing runs. Never throws. */
  void Teardown() noexcept;
  /** Joins the lanes and gives the ThreadSafeFunction back (once; not after ChannelClosed). */
  void StopRunnerAndChannel();

  std::unique_ptr<Runner> runner_;
  Tsfn tsfn_;
  Channel* channel_ = nullptr;  // owned by the ThreadSafeFunction; null once released or finalized
  std::vector<std::vector<Napi::Reference<Napi::ArrayBuffer>>> lent_;  // [slot][input]
  bool closing_ = false;
  std::optional<Napi::Promise::Deferred> close_;
};

}  // namespace smartturn::js
