#include "addon/engine_wrap.h"

#include <cstring>

#include "addon/args.h"
#include "addon/convert.h"
#include "addon/js_errors.h"

namespace smartturn::js {

using Tsfn = Napi::TypedThreadSafeFunction<EngineWrap, Completion, EngineWrap::CallJs>;

/** One in-flight batch: its Promise and the channel its result comes back through. */
struct EngineWrap::Job {
  Napi::Promise::Deferred deferred;
  Tsfn tsfn;
};

namespace {

// The ArrayBuffer's own reference to the memory it lends: the memory lives until both the engine
// and every ArrayBuffer over it are gone (close() frees it early, after detaching the buffers).
void ReleaseLent(Napi::Env, void*, std::shared_ptr<HostBuffer>* owner) { delete owner; }

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
  runner_->Start([](std::unique_ptr<Completion> done) {
    // Completion thread. A failed call means the environment is shutting down: nobody to answer.
    // Copy the handle first: once BlockingCall has queued the result, the JS thread may settle
    // the Promise and free the Job before this thread reaches Release().
    Tsfn tsfn = static_cast<Job*>(done->context)->tsfn;
    Completion* raw = done.release();
    if (tsfn.BlockingCall(raw) != napi_ok) delete raw;
    tsfn.Release();
  });
}

EngineWrap::~EngineWrap() {
  // Collected without close(): nothing is running (each running batch holds a reference to this
  // object), so the runner's thread is idle and joins at once. Lent memory stays alive for as
  // long as its ArrayBuffers do.
  runner_.reset();
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
    return o;
  });
}

Napi::Value EngineWrap::Lease(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const int bucket = IntArg(info, 0, "bucket", 1, 1 << 20);
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
    const int rows = IntArg(info, 1, "rows", 1, 1 << 20);
    auto job = std::make_unique<Job>(Job{deferred, Tsfn::New(env, "smart-turn-infer", 0, 1, this)});
    try {
      r.Submit(slot, rows, job.get());
    } catch (...) {
      job->tsfn.Release();
      throw;
    }
    job.release();  // owned by the completion now; freed in CallJs
    Ref();          // a running batch keeps its engine alive
  } catch (const Error& e) {
    deferred.Reject(ToJs(env, e).Value());
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  } catch (const std::exception& e) {
    deferred.Reject(ToJs(env, e).Value());
  }
  return promise;
}

void EngineWrap::CallJs(Napi::Env env, Napi::Function, EngineWrap* self, Completion* raw) {
  std::unique_ptr<Completion> done(raw);
  if (env == nullptr || done == nullptr) return;  // environment going away: nothing to settle
  self->Finish(env, std::move(done));
}

void EngineWrap::Finish(Napi::Env env, std::unique_ptr<Completion> done) {
  std::unique_ptr<Job> job(static_cast<Job*>(done->context));
  Napi::HandleScope scope(env);
  runner_->Complete(done->slot);
  if (done->error) {
    job->deferred.Reject(ToJs(env, *done->error).Value());
  } else {
    Napi::Float32Array out = Napi::Float32Array::New(env, done->output.size());
    std::memcpy(out.Data(), done->output.data(), done->output.size() * sizeof(float));
    job->deferred.Resolve(out);
  }
  Unref();
  if (closing_ && runner_ && runner_->running() == 0) {
    Teardown();
    close_->Resolve(env.Undefined());
  }
}

Napi::Value EngineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("leased", runner_ ? runner_->leased() : 0);
  o.Set("running", runner_ ? runner_->running() : 0);
  o.Set("closed", !runner_ || closing_);
  return o;
}

Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (close_) return close_->Promise();  // second call: the same Promise
  close_.emplace(Napi::Promise::Deferred::New(env));
  closing_ = true;
  if (runner_) {
    runner_->Close();
    if (runner_->running() == 0) {
      Teardown();
      close_->Resolve(env.Undefined());
    }
  } else {
    close_->Resolve(env.Undefined());
  }
  return close_->Promise();
}

void EngineWrap::Teardown() {
  runner_->Stop();
  // JS may still hold typed arrays over the lent memory: detach them so they read as empty
  // instead of reaching freed memory, then give the memory back now rather than at GC.
  for (auto& refs : lent_) {
    for (auto& ref : refs) {
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsDetached()) ab.Detach();
      ref.Reset();
    }
  }
  lent_.clear();
  for (int s = 0; s < runner_->slot_count(); ++s) {
    for (const auto& buf : runner_->slot_io(s).inputs) buf->Free();
  }
  runner_.reset();
}

}  // namespace smartturn::js
