// nftables scripts applied in-process through libnftables.
//
// An NftContext owns one libnftables context, whose netlink socket is opened by create() in the
// network namespace of the calling thread and stays bound to it. So create() must run on a thread
// inside the target namespace (the setup thread, or a worker living there); afterwards run() may
// be called from any thread and still configures that namespace:
//
//   NftContext nft = NftContext::create();            // on a thread inside the router's netns
//   nft.run("add table ip pb_nat\n"
//           "add chain ip pb_nat post { type nat hook postrouting priority 100; }\n",
//           "router 'home': set_nat_mode(home)");      // from any thread, one transaction
//   std::string j = nft.run_json("list map ip pb_nat own_udp", "router 'home': nat state");
//
// A script is applied as one transaction: either every command takes effect or none does. On
// failure run() throws NftError "context: line 3:16-22: Error: Could not process rule: No such
// file or directory" followed by the offending line and nft's caret markers.
//
// Rules with xtables statements (nft_compat, e.g. NfnlSocket::add_queue_rule) render as text
// through libxtables, which asks the kernel which target revisions exist from the *calling
// thread's* namespace and caches the answer for the whole process. In a rootless process a thread
// in the host namespace gets EPERM there, the rule prints as an empty line for the rest of the
// process, and libxtables writes "Warning: Extension NFQUEUE is not supported" to stderr. So call
// run_text() on such rules only from a thread inside a lab namespace, or read them with
// run_json(), which names the target ({"xt": {"type": "target", "name": "NFQUEUE"}}) without
// asking libxtables.
//
// Thread safety: one NftContext must not be used by two threads at once (callers serialise).
// Different contexts may be used concurrently; calls into libnftables are serialised internally
// because its xtables support keeps process-wide state.
#pragma once

#include <string>
#include <string_view>

struct nft_ctx;

namespace patchbay::sys {

class NftContext {
 public:
  NftContext() = default;
  // Binds to the calling thread's current network namespace. Throws NftError if libnftables
  // cannot open its netlink socket.
  static NftContext create();

  NftContext(NftContext&& o) noexcept;
  NftContext& operator=(NftContext&& o) noexcept;
  NftContext(const NftContext&) = delete;
  NftContext& operator=(const NftContext&) = delete;
  ~NftContext();

  // Runs a (multi-line) nft script as one transaction. Throws NftError(context, nft's error text
  // with the offending lines).
  void run(std::string_view commands, const std::string& context);
  // Runs a command (typically "list ...") and returns nft's plain-text output; an xtables NFQUEUE
  // target prints as "queue num 3 bypass" (see above for the thread this needs).
  std::string run_text(std::string_view command, const std::string& context);
  // Runs a list command with netlink debugging on: the kernel's bytecode of every rule and set
  // element as `nft --debug=netlink` prints it, then the listing (tests compare rule sets with it).
  std::string run_bytecode(std::string_view command, const std::string& context);
  // Runs a command with JSON output enabled and returns the JSON text.
  std::string run_json(std::string_view command, const std::string& context);

  bool valid() const { return ctx_ != nullptr; }

 private:
  explicit NftContext(nft_ctx* ctx) : ctx_(ctx) {}
  enum class Output { Text, Json, Bytecode };
  std::string execute(std::string_view commands, const std::string& context, Output how);

  nft_ctx* ctx_ = nullptr;
};

}  // namespace patchbay::sys
