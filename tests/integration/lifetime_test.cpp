// Public operations racing the lab's destruction: each completes or throws patchbay::Error (a
// Removed "the lab has been shut down"), never anything else, never a crash or a hang. The suite
// runs 40 rounds; the full stress run is 500 under TSan, outside ctest's 300 s limit:
//   PATCHBAY_STRESS_ITERATIONS=500 build-san-thread/tests/lab_tests --gtest_filter='Lifetime.*'
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <gtest/gtest.h>

#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;

namespace {

int iterations(int fallback) {
  const char* e = std::getenv("PATCHBAY_STRESS_ITERATIONS");
  return e != nullptr && *e != '\0' ? std::atoi(e) : fallback;
}

struct Tally {
  std::atomic<int> completed{0}, removed{0}, other_errors{0};
  std::atomic<int> foreign{0};  // not a patchbay::Error: the failure this test is about
  std::string first_foreign;
  std::mutex mu;
  void foreign_exception(const std::string& what) {
    if (foreign.fetch_add(1) == 0) {
      std::lock_guard lk(mu);
      first_foreign = what;
    }
  }
};

// One of the hammering threads: the same operation over and over until the lab refuses it.
void hammer(int kind, Router home, Device dev, Tally& t, const std::atomic<bool>& stop) {
  int n = 0;
  while (!stop.load()) {
    try {
      switch (kind % 4) {
        case 0:
          dev.set_link_condition("eth0", (n++ % 2) ? std::optional(LinkCondition::wifi()) : std::nullopt);
          break;
        case 1:
          home.set_nat_mode((n++ % 2) ? Nat::home() : Nat::corporate());
          break;
        case 2:
          dev.spawn_command(Command("true")).wait();
          break;
        case 3:
          dev.dns_entry("peer" + std::to_string(n++ % 8), Ipv4Addr(10, 9, 9, 9));
          break;
      }
      t.completed.fetch_add(1);
    } catch (const Removed&) {
      t.removed.fetch_add(1);
      return;  // the lab is gone: every later call would say the same
    } catch (const Error&) {
      t.other_errors.fetch_add(1);  // e.g. Cancelled from a service stopping mid-call: allowed
    } catch (const std::exception& e) {
      t.foreign_exception(std::string(typeid(e).name()) + ": " + e.what());
      return;
    } catch (...) {
      t.foreign_exception("non-std exception");
      return;
    }
  }
}

}  // namespace

TEST(Lifetime, OperationsRacingDestructionCompleteOrThrowRemoved) {
  const int rounds = iterations(40);
  std::mt19937 rng(12345);
  Tally t;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    {
      Lab lab{LabOpts{}.child_grace(100ms)};
      auto dc = lab.add_router("dc").build();
      auto home = lab.add_router("home").preset(RouterPreset::Home).build();
      auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
      for (int k = 0; k < 8; ++k) threads.emplace_back(hammer, k, home, dev, std::ref(t), std::cref(stop));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
    }  // destroyed while the threads run
    stop.store(true);
    for (auto& th : threads) th.join();
    ASSERT_EQ(t.foreign.load(), 0) << "round " << round << ": " << t.first_foreign;
  }
  // Positive control: the operations did run before the labs went away, and were refused after.
  EXPECT_GT(t.completed.load(), rounds);
  EXPECT_GT(t.removed.load(), rounds);
  std::printf("rounds %d: completed %d, removed %d, other patchbay errors %d\n", rounds, t.completed.load(),
              t.removed.load(), t.other_errors.load());
}

TEST(Lifetime, ExplicitShutdownWhileAnotherThreadBuildsAndChanges) {
  for (int round = 0; round < iterations(10); ++round) {
    Lab lab;
    auto dc = lab.add_router("dc").build();
    std::atomic<int> foreign{0};
    std::thread builder([&] {
      for (int i = 0;; ++i) {
        try {
          auto r = lab.add_router("r" + std::to_string(i)).preset(RouterPreset::Home).build();
          lab.add_device("d" + std::to_string(i)).iface("eth0", r.id()).build();
        } catch (const Removed&) {
          return;
        } catch (const Error&) {
        } catch (...) {
          foreign.fetch_add(1);
          return;
        }
      }
    });
    std::this_thread::sleep_for(20ms);
    lab.shutdown();
    builder.join();
    EXPECT_EQ(foreign.load(), 0);
    EXPECT_THROW(lab.add_router("late").build(), Removed);
    EXPECT_THROW(dc.set_nat_mode(Nat::home()), Removed);
  }
}
