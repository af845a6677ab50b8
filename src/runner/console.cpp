#include "runner/console.hpp"

#include <cstdio>

namespace patchbay::runner {

namespace {
std::string secs(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}
}  // namespace

Console::Console(bool live, bool verbose, std::FILE* out) : live_(live), verbose_(verbose), out_(out) {
  if (live_) ticker_ = std::thread([this] { ticker(); });
}

Console::~Console() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    erase_locked();
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Console::emit(std::string_view level, std::string_view msg) {
  std::lock_guard lk(mu_);
  erase_locked();
  std::fprintf(out_, "%.*s %.*s\n", int(level.size()), level.data(), int(msg.size()), msg.data());
  draw_locked();
  std::fflush(out_);
}

void Console::info(std::string_view msg) {
  emit(" INFO", msg);
}
void Console::warn(std::string_view msg) {
  emit(" WARN", msg);
}
void Console::error(std::string_view msg) {
  emit("ERROR", msg);
}

void Console::child_line(std::string_view device, bool is_stderr, std::string_view line) {
  if (!verbose_) return;
  std::string dev(device.substr(0, 10));
  dev.resize(10, ' ');
  std::lock_guard lk(mu_);
  erase_locked();
  std::fprintf(out_, "%s%s: %.*s\n", dev.c_str(), is_stderr ? "err" : "out", int(line.size()), line.data());
  draw_locked();
  std::fflush(out_);
}

void Console::print(std::string_view text) {
  std::lock_guard lk(mu_);
  erase_locked();
  std::fflush(out_);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  draw_locked();
}

void Console::set_sim(std::size_t index, std::size_t total, std::string name) {
  std::lock_guard lk(mu_);
  index_ = index;
  total_ = total;
  sim_ = std::move(name);
  step_.clear();
  sim_started_ = step_started_ = std::chrono::steady_clock::now();
  erase_locked();
  draw_locked();
}

void Console::set_step(std::string step) {
  std::lock_guard lk(mu_);
  step_ = std::move(step);
  step_started_ = std::chrono::steady_clock::now();
  erase_locked();
  draw_locked();
}

void Console::clear_status() {
  std::lock_guard lk(mu_);
  erase_locked();
  sim_.clear();
  step_.clear();
}

void Console::erase_locked() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  drawn_ = false;
}

void Console::draw_locked() {
  if (!live_ || sim_.empty() || stop_) return;
  auto now = std::chrono::steady_clock::now();
  std::string line = "[" + std::to_string(index_) + "/" + std::to_string(total_) + "] " + sim_ + " " +
                     secs(now - sim_started_);
  if (!step_.empty()) line += " | " + step_ + " " + secs(now - step_started_);
  if (line.size() > 150) line.resize(150);
  std::fprintf(out_, "\033[1m%s\033[0m", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void Console::ticker() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, std::chrono::milliseconds(200));
    if (stop_) break;
    erase_locked();
    draw_locked();
  }
}

}  // namespace patchbay::runner
