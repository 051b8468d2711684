#include "addon/engine_wrap.h"

#include <cstring>

#include "addon/args.h"
#include "addon/convert.h"
#include "addon/js_errors.h"

namespace smartturn::js {

/** One in-flight batch: the Promise its Completion settles. */
struct EngineWrap::Job {
  Napi::Promise::Deferred deferred;
};

namespace {

// The ArrayBuffer's own reference to the memory it lends: the memory lives until both the engine
// and every ArrayBuffer over it are gone (close() frees it early, after detaching the buffers).
void ReleaseLent(Napi::Env, void*, std::shared_ptr<HostBuffer>* owner) { delete owner; }

Napi::Object MemoryToJs(Napi::Env env, const MemoryPlan& plan) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", plan.device ? Napi::Number::New(env, plan.device->device) : env.Null());
  o.Set("lanes", plan.lanes);
  o.Set("laneBytes", static_cast<double>(plan.lane_bytes));
  Napi::Object scratch = Napi::Object::New(env);
  for (std::size_t i = 0; i < plan.buckets.size(); ++i) scratch.Set(std::to_string(plan.buckets[i]), static_cast<double>(plan.scratch[i]));
  o.Set("activationBytes", scratch);
  o.Set("slotBytes", static_cast<double>(plan.slot_bytes));
  o.Set("neededBytes", static_cast<double>(plan.needed()));
  o.Set("freeBytes", plan.device ? Napi::Number::New(env, static_cast<double>(plan.device->free_bytes)) : env.Null());
  o.Set("totalBytes", plan.device ? Napi::Number::New(env, static_cast<double>(plan.device->total_bytes)) : env.Null());
  o.Set("description", plan.Describe());
  return o;
}

}  // namespace

Napi::Function EngineWrap::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&EngineWrap::Info>("info"),
                         InstanceMethod<&EngineWrap::Lease>("lease"),
                         InstanceMethod<&EngineWrap::Buffers>("buffers"),
                         InstanceMethod<&EngineWrap::Release>("release"),
                         InstanceMethod<&EngineWrap::Infer>("infer"),
                         InstanceMethod<&EngineWrap::Stats>("stats"),
                         InstanceMethod<&EngineWrap::Close>("close"),
                     });
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  Guard(info.Env(), [&] {
    if (info.Length() != 1 || !info[0].IsExternal()) ThrowTypeError("Engine cannot be constructed directly; use open(options)");
  });
}

Napi::Object EngineWrap::Create(Napi::Env env, std::unique_ptr<Runner> runner) {
  auto* ctor = env.GetInstanceData<Napi::FunctionReference>();
  Napi::Object object = ctor->New({Napi::External<void>::New(env, nullptr)});
  Unwrap(object)->Adopt(env, std::move(runner));
  return object;
}

void EngineWrap::Adopt(Napi::Env env, std::unique_ptr<Runner> runner) {
  runner_ = std::move(runner);
  lent_.resize(static_cast<std::size_t>(runner_->slot_count()));
  for (int s = 0; s < runner_->slot_count(); ++s) {
    for (const auto& buf : runner_->slot_io(s).inputs) {
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, buf->data(), buf->size(), ReleaseLent, new std::shared_ptr<HostBuffer>(buf));
      lent_[static_cast<std::size_t>(s)].push_back(Napi::Persistent(ab));
    }
  }
  channel_ = new Channel{this};
  tsfn_ = Tsfn::New(env, "smart-turn-engine", 0, 1, channel_, [](Napi::Env, void*, Channel* channel) {
    if (channel->engine != nullptr) channel->engine->ChannelClosed();
    delete channel;
  });
  // An idle engine does not keep the event loop alive; Infer() refs the channel while batches run.
  tsfn_.Unref(env);
  runner_->Start([tsfn = tsfn_](std::unique_ptr<Completion> done) {
    // A lane's thread. Anything but napi_ok means the environment is going away (napi_closing): the
    // channel must not be used again and nobody is left to answer, so the result is dropped here.
    Completion* raw = done.get();
    if (tsfn.BlockingCall(raw) == napi_ok) {
      done.release();  // the JS thread owns it now
      return;
    }
    delete static_cast<Job*>(raw->context);
  });
}

EngineWrap::~EngineWrap() {
  // Collected without close() (nothing is running: each running batch holds a reference to this
  // object), or finalized with its environment. Lent memory stays alive for as long as its
  // ArrayBuffers do.
  StopRunnerAndChannel();
  runner_.reset();
}

void EngineWrap::StopRunnerAndChannel() {
  if (runner_) runner_->Stop();
  if (channel_ != nullptr) {
    channel_->engine = nullptr;
    channel_ = nullptr;
    tsfn_.Release();
  }
}

void EngineWrap::ChannelClosed() noexcept {
  // Node frees the ThreadSafeFunction once this returns: the lanes must be done with it first.
  channel_ = nullptr;
  closing_ = true;
  if (runner_) {
    runner_->Close();
    runner_->Stop();
  }
}

Runner& EngineWrap::Open(const char* call) {
  if (!runner_ || closing_) throw Error(ErrorCode::kClosed, std::string(call) + ": the engine is closed");
  return *runner_;
}

Napi::Value EngineWrap::Info(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Runner& r = Open("info");
    Napi::Object o = Napi::Object::New(env);
    o.Set("executor", r.factory().name());
    o.Set("description", r.factory().Describe());
    Napi::Array buckets = Napi::Array::New(env, r.buckets().size());
    for (std::size_t i = 0; i < r.buckets().size(); ++i) buckets.Set(i, Napi::Number::New(env, r.buckets()[i]));
    o.Set("buckets", buckets);
    o.Set("slotsPerBucket", r.slots_per_bucket());
    o.Set("pinned", r.slot_io(0).inputs.empty() ? false : r.slot_io(0).inputs[0]->pinned());
    o.Set("inputs", SpecsToJs(env, r.factory().inputs()));
    o.Set("outputs", SpecsToJs(env, r.factory().outputs()));
    o.Set("memory", MemoryToJs(env, r.memory()));
    return o;
  });
}

Napi::Value EngineWrap::Lease(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const int bucket = IntArg(info, 0, "bucket", 1, kMaxBucket);
    return Napi::Number::New(info.Env(), Open("lease").Acquire(bucket));
  });
}

Napi::Value EngineWrap::Buffers(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Runner& r = Open("buffers");
    const int slot = IntArg(info, 0, "slot", 0, r.slot_count() - 1);
    const auto& refs = lent_[static_cast<std::size_t>(slot)];
    Napi::Array out = Napi::Array::New(info.Env(), refs.size());
    for (std::size_t i = 0; i < refs.size(); ++i) out.Set(i, refs[i].Value());
    return out;
  });
}

Napi::Value EngineWrap::Release(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const int slot = IntArg(info, 0, "slot", 0, 1 << 20);
    // After close every slot is free again: releasing one is a no-op, not an error, so a
    // caller's cleanup path need not know whether the engine closed under it.
    if (runner_ && !closing_) runner_->Release(slot);
    return info.Env().Undefined();
  });
}

Napi::Value EngineWrap::Infer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Wrong JS types are the caller's bug and throw; anything else is a result and rejects.
  Guard(env, [&] {
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) ThrowTypeError("infer(slot, rows): slot and rows must be numbers");
  });
  auto deferred = Napi::Promise::Deferred::New(env);
  Napi::Promise promise = deferred.Promise();
  try {
    Runner& r = Open("infer");
    const int slot = IntArg(info, 0, "slot", 0, r.slot_count() - 1);
    const int rows = IntArg(info, 1, "rows", 1, kMaxBucket);
    auto job = std::make_unique<Job>(Job{deferred});
    const bool idle = r.running() == 0;
    r.Submit(slot, rows, job.get());
    job.release();  // owned by the Completion now; freed when it is settled or dropped
    Ref();          // a running batch keeps its engine alive
    if (idle) tsfn_.Ref(env);  // and the event loop, until it is answered
  } catch (const Error& e) {
    deferred.Reject(ToJs(env, e).Value());
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred.Reject(ToJs(env, e).Value());
  }
  return promise;
}

void EngineWrap::CallJs(Napi::Env env, Napi::Function, Channel* channel, Completion* raw) {
  std::unique_ptr<Completion> done(raw);
  if (done == nullptr) return;
  // No environment: Node is emptying the queue of a finalized channel (whose context is gone too).
  if (env == nullptr || channel == nullptr || channel->engine == nullptr) {
    delete static_cast<Job*>(done->context);
    return;
  }
  channel->engine->Finish(env, std::move(done));
}

void EngineWrap::Finish(Napi::Env env, std::unique_ptr<Completion> done) noexcept {
  std::unique_ptr<Job> job(static_cast<Job*>(done->context));
  // The slot is free again whatever becomes of the Promise.
  if (runner_) {
    try {
      runner_->Complete(done->slot);
    } catch (const std::exception& e) {
      if (!done->error) done->error = Error(ErrorCode::kInternal, e.what());
    }
  }
  // Settled exactly once: with the result, else with the error, else (JS unable to take either,
  // as while a worker is terminated) with whatever can still be made.
  bool settled = false;
  try {
    Napi::HandleScope scope(env);
    if (done->error) {
      job->deferred.Reject(ToJs(env, *done->error).Value());
    } else {
      Napi::Float32Array out = Napi::Float32Array::New(env, done->output.size());
      std::memcpy(out.Data(), done->output.data(), done->output.size() * sizeof(float));
      job->deferred.Resolve(out);
    }
    settled = true;
  } catch (...) {
  }
  if (!settled) {
    try {
      Napi::HandleScope scope(env);
      job->deferred.Reject(ToJs(env, Error(ErrorCode::kInternal, "infer: the batch ran, but its result could not be handed to JavaScript")).Value());
    } catch (...) {
    }
  }
  // The batch's hold on this object and on the event loop ends here, whatever happened above.
  try {
    Unref();
  } catch (...) {
  }
  if (runner_ && runner_->running() == 0) {
    try {
      tsfn_.Unref(env);
    } catch (...) {
    }
    if (closing_ && close_) {
      Teardown();
      try {
        close_->Resolve(env.Undefined());
      } catch (...) {
      }
    }
  }
}

Napi::Value EngineWrap::Stats(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("leased", runner_ ? runner_->leased() : 0);
    o.Set("running", runner_ ? runner_->running() : 0);
    o.Set("closed", !runner_ || closing_);
    return o;
  });
}

Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (close_) return close_->Promise();  // second call: the same Promise
    close_.emplace(Napi::Promise::Deferred::New(env));
    closing_ = true;
    if (runner_) runner_->Close();
    if (!runner_ || runner_->running() == 0) {
      Teardown();
      close_->Resolve(env.Undefined());
    }
    return close_->Promise();
  });
}

void EngineWrap::Teardown() noexcept {
  StopRunnerAndChannel();
  if (!runner_) return;
  // JS may still hold typed arrays over the lent memory: detach them so they read as empty
  // instead of reaching freed memory, then give the memory back now rather than at GC. Memory
  // whose ArrayBuffer could not be detached (JS being torn down) is left to the ArrayBuffer.
  bool detached = true;
  for (auto& refs : lent_) {
    for (auto& ref : refs) {
      try {
        Napi::ArrayBuffer ab = ref.Value();
        if (!ab.IsDetached()) ab.Detach();
        ref.Reset();
      } catch (...) {
        detached = false;
      }
    }
  }
  lent_.clear();
  if (detached) {
    for (int s = 0; s < runner_->slot_count(); ++s) {
      for (const auto& buf : runner_->slot_io(s).inputs) buf->Free();
    }
  }
  runner_.reset();
}

}  // namespace smartturn::js
