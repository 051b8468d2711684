// TensorRT's documented lifetime rules (a runtime outlives its engines, an engine its contexts, a
// builder its networks and configs), enforced: breaking one is undefined behaviour in TensorRT, so
// the stand-in aborts naming it instead of letting it pass quietly.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace trt_standin {

/** Counts the live objects an owner handed out; each holds a Token until it is destroyed. */
class Liveness {
 public:
  using Token = std::shared_ptr<void>;

  Token Issue() {
    count_->fetch_add(1);
    auto count = count_;
    return Token(nullptr, [count](void*) { count->fetch_sub(1); });
  }
  int alive() const { return count_->load(); }
  void AbortIfAlive(const std::string& what) const {
    if (alive() == 0) return;
    std::fprintf(stderr, "TensorRT stand-in: %s (%d still alive); TensorRT documents this as undefined behaviour\n", what.c_str(), alive());
    std::abort();
  }

 private:
  std::shared_ptr<std::atomic<int>> count_ = std::make_shared<std::atomic<int>>(0);
};

/** Whether any of the objects it was shown (by a weak reference) is still alive. */
class Watch {
 public:
  void Add(std::weak_ptr<void> object) { objects_.push_back(std::move(object)); }
  bool AnyAlive() const {
    for (const auto& o : objects_) {
      if (!o.expired()) return true;
    }
    return false;
  }

 private:
  std::vector<std::weak_ptr<void>> objects_;
};

}  // namespace trt_standin
