#include "sys/nft.hpp"

#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "patchbay/error.hpp"
#include "patchbay/fd.hpp"

namespace patchbay::sys {

namespace {

// libnftables renders xtables statements through libxtables, whose target/match registry is
// process-wide and unsynchronised; one lock around every call keeps contexts on different threads
// from corrupting it. The calls are netlink round trips, so the serialisation costs little.
std::mutex& lib_mutex() {
  static std::mutex mu;
  return mu;
}

// Writes the script to a memfd so nft reads it as a file. With buffer input nft 1.0.6 prints the
// first line of the script under every error, whatever line failed; with file input it names the
// line and column and quotes the right line.
UniqueFd script_file(std::string_view commands) {
  UniqueFd fd(::memfd_create("patchbay-nft", MFD_CLOEXEC));
  if (!fd) return {};
  std::size_t off = 0;
  while (off < commands.size()) {
    ssize_t n = ::write(fd.get(), commands.data() + off, commands.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    off += static_cast<std::size_t>(n);
  }
  return fd;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

std::string format_error(std::string err, std::string_view commands, const std::string& file_prefix) {
  if (!file_prefix.empty()) replace_all(err, file_prefix, "line ");
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  if (err.empty()) err = "nft failed without an error message";
  // Errors raised after parsing (e.g. a batch the kernel rejected as a whole) carry no location;
  // then the script itself is the only pointer to what went wrong.
  if (err.find('\n') == std::string::npos) {
    err += "\nin script:\n";
    err += commands;
    while (!err.empty() && err.back() == '\n') err.pop_back();
  }
  return err;
}

}  // namespace

NftContext NftContext::create() {
  // libnftables calls exit() when it cannot open its netlink socket, so find out first.
  UniqueFd probe(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!probe) throw NftError("nft", std::string("socket(NETLINK_NETFILTER): ") + std::strerror(errno));
  probe.reset();

  std::lock_guard lock(lib_mutex());
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) throw NftError("nft", "nft_ctx_new failed");
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    nft_ctx_free(ctx);
    throw NftError("nft", "cannot buffer libnftables output");
  }
  return NftContext(ctx);
}

NftContext::NftContext(NftContext&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}

NftContext& NftContext::operator=(NftContext&& o) noexcept {
  if (this != &o) {
    NftContext old(std::move(*this));
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

NftContext::~NftContext() {
  if (ctx_ == nullptr) return;
  std::lock_guard lock(lib_mutex());
  nft_ctx_free(ctx_);
}

void NftContext::run(std::string_view commands, const std::string& context) {
  execute(commands, context, Output::Text);
}

std::string NftContext::run_text(std::string_view command, const std::string& context) {
  return execute(command, context, Output::Text);
}

std::string NftContext::run_json(std::string_view command, const std::string& context) {
  return execute(command, context, Output::Json);
}

std::string NftContext::run_bytecode(std::string_view command, const std::string& context) {
  return execute(command, context, Output::Bytecode);
}

std::string NftContext::execute(std::string_view commands, const std::string& context, Output how) {
  if (ctx_ == nullptr) throw NftError(context, "nft context not open");
  UniqueFd file = script_file(commands);
  std::string path = file ? "/proc/self/fd/" + std::to_string(file.get()) : std::string();

  std::lock_guard lock(lib_mutex());
  nft_ctx_output_set_flags(ctx_, how == Output::Json ? NFT_CTX_OUTPUT_JSON : 0);
  nft_ctx_output_set_debug(ctx_, how == Output::Bytecode ? NFT_DEBUG_NETLINK : 0);
  int rc = file ? nft_run_cmd_from_filename(ctx_, path.c_str())
                : nft_run_cmd_from_buffer(ctx_, std::string(commands).c_str());
  // Reading a buffer also rewinds it, so both are drained on every run.
  std::string out = nft_ctx_get_output_buffer(ctx_);
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (rc != 0)
    throw NftError(context, format_error(std::move(err), commands, path.empty() ? "" : path + ":"));
  return out;
}

}  // namespace patchbay::sys
