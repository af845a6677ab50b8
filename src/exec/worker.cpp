#include "exec/worker.hpp"

#include <pthread.h>

#include <future>
#include <mutex>
#include <vector>

#include <asio/post.hpp>

#include "patchbay/error.hpp"

namespace patchbay::detail {

namespace graveyard {
namespace {
struct Grave {
  std::thread thread;
  std::shared_ptr<void> keep_alive;
};
std::mutex g_mu;
std::vector<Grave> g_graves;
}  // namespace

void bury(std::thread t, std::shared_ptr<void> keep_alive) {
  join_all();
  std::lock_guard lk(g_mu);
  g_graves.push_back({std::move(t), std::move(keep_alive)});
}

std::size_t join_all() {
  std::vector<Grave> graves, mine;
  {
    std::lock_guard lk(g_mu);
    graves.swap(g_graves);
  }
  for (auto& g : graves) {
    if (g.thread.get_id() == std::this_thread::get_id())
      mine.push_back(std::move(g));  // still running the code that buried it
    else if (g.thread.joinable())
      g.thread.join();
  }
  std::lock_guard lk(g_mu);
  for (auto& g : mine) g_graves.push_back(std::move(g));
  return g_graves.size();
}
}  // namespace graveyard

void set_thread_name(const std::string& node, const std::string& suffix) {
  std::string n = node + ":" + suffix;
  if (n.size() > 15) n = n.substr(n.size() - 15);
  ::pthread_setname_np(::pthread_self(), n.c_str());
}

SyncWorker::SyncWorker(std::string node_name, std::function<void()> init)
    : node_(node_name), in_(std::make_shared<Inner>("node '" + node_name + "' worker")) {
  thread_ = std::thread([in = in_, name = std::move(node_name), init = std::move(init)] {
    set_thread_name(name, "sw");
    loop(in, init);
  });
}

SyncWorker::~SyncWorker() {
  in_->tasks.close();
  // Destroyed from its own thread (a node removed from code running on it): it finishes its job,
  // finds the queue closed and ends; someone else joins it.
  if (on_worker_thread())
    graveyard::bury(std::move(thread_));
  else if (thread_.joinable())
    thread_.join();
}

void SyncWorker::loop(const std::shared_ptr<Inner>& in, const std::function<void()>& init) {
  try {
    if (init) init();
  } catch (...) {
    in->init_error = std::current_exception();
  }
  std::deque<std::function<void()>> jobs;
  while (in->tasks.wait_take(jobs)) {
    for (auto& job : jobs) job();
    jobs.clear();
  }
}

void SyncWorker::run(const std::function<void()>& fn) {
  if (on_worker_thread()) {
    fn();
    return;
  }
  auto in = in_;
  try {
    in->tasks.call([&] {
      if (in->init_error) std::rethrow_exception(in->init_error);
      fn();
    });
  } catch (const Cancelled&) {
    if (!in->tasks.closed()) throw;  // fn's own Cancelled
    throw Removed("node '" + node_ + "'", "the node has been removed");
  }
}

bool IoGate::post(std::function<void()> fn) {
  std::lock_guard lk(mu);
  if (!open) return false;
  asio::post(ex, std::move(fn));
  return true;
}

IoWorker::IoWorker(std::string node_name, std::function<void()> init)
    : ctx_(std::make_unique<asio::io_context>(1)), guard_(ctx_->get_executor()) {
  gate_->ex = ctx_->get_executor();
  std::promise<void> ready;
  auto fut = ready.get_future();
  thread_ = std::thread([this, name = std::move(node_name), init = std::move(init), &ready] {
    set_thread_name(name, "aw");
    try {
      if (init) init();
      ready.set_value();
    } catch (...) {
      ready.set_exception(std::current_exception());
      return;
    }
    ctx_->run();
  });
  try {
    fut.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

IoWorker::~IoWorker() {
  {
    std::lock_guard lk(gate_->mu);
    gate_->open = false;
  }
  ctx_->stop();
  if (on_worker_thread()) {
    // Destroyed from a coroutine on this very thread: the context must outlive the running handler,
    // so it goes to the graveyard with the thread and dies after the join.
    graveyard::bury(std::move(thread_), std::shared_ptr<asio::io_context>(std::move(ctx_)));
    return;
  }
  if (thread_.joinable()) thread_.join();
  // Destroy every pending handler (and with them the suspended coroutine frames) now, while the
  // objects they reference still exist, then tell the waiting handles.
  guard_.reset();
  std::vector<std::weak_ptr<TaskCancel>> tracked;
  {
    std::lock_guard lk(mu_);
    tracked.swap(tracked_);
  }
  ctx_.reset();
  for (auto& w : tracked)
    if (auto c = w.lock()) c->cancel_on_shutdown();
}

void IoWorker::track(std::weak_ptr<TaskCancel> c) {
  std::lock_guard lk(mu_);
  std::erase_if(tracked_, [](const auto& w) { return w.expired(); });
  tracked_.push_back(std::move(c));
}

}  // namespace patchbay::detail
