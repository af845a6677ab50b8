// patchbay/error.hpp: the exception hierarchy.
//
// Every failure in patchbay throws a subclass of patchbay::Error. The message names the object and
// the step that failed, then the cause, so it can be shown to a user unchanged:
//
//   try {
//     lab.add_router("home").upstream(NodeId{999}).build();
//   } catch (const patchbay::NotFound& e) {
//     // e.what() == "router 'home': build: upstream router 999 does not exist"
//   }
//
// context() returns the "object: step" prefix alone; the kernel's own message (netlink extended ack,
// nftables error output) is kept in the text, never replaced.
#pragma once

#include <stdexcept>
#include <string>

namespace patchbay {

class Error : public std::runtime_error {
 public:
  Error(std::string context, const std::string& cause)
      : std::runtime_error(context.empty() ? cause : context + ": " + cause), context_(std::move(context)) {}
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // "router 'home': set_nat_mode" (may be empty).
  const std::string& context() const { return context_; }

 private:
  std::string context_;
};

#define PATCHBAY_ERROR_CLASS(Name) \
  class Name : public Error {      \
   public:                         \
    using Error::Error;            \
  }

PATCHBAY_ERROR_CLASS(InvalidArgument);  // bad input (names the field and the value)
PATCHBAY_ERROR_CLASS(ConfigError);      // TOML / sim file errors (file, table, key)
PATCHBAY_ERROR_CLASS(NotFound);         // unknown name or id
PATCHBAY_ERROR_CLASS(Removed);          // node removed or lab destroyed
PATCHBAY_ERROR_CLASS(AlreadyExists);    // duplicate name
PATCHBAY_ERROR_CLASS(InUse);            // "still connected"
PATCHBAY_ERROR_CLASS(PoolExhausted);    // names the pool and its owner
PATCHBAY_ERROR_CLASS(Unsupported);      // names the missing kernel feature
PATCHBAY_ERROR_CLASS(CapabilityError);  // not enough privilege, with remediation text
PATCHBAY_ERROR_CLASS(NftError);         // kernel message + rule
PATCHBAY_ERROR_CLASS(ImpairmentError);  // a link condition could not be applied
PATCHBAY_ERROR_CLASS(ProcessError);     // spawning or controlling a child failed
PATCHBAY_ERROR_CLASS(TimeoutError);
PATCHBAY_ERROR_CLASS(Cancelled);  // awaited task aborted or lab shut down

#undef PATCHBAY_ERROR_CLASS

// A failed system call. errnum() is the errno value.
class SystemError : public Error {
 public:
  SystemError(std::string context, const std::string& cause, int errnum)
      : Error(std::move(context), cause), errnum_(errnum) {}
  int errnum() const { return errnum_; }

 private:
  int errnum_;
};

// A failed netlink request; the message names the request and the interface.
class NetlinkError : public SystemError {
 public:
  using SystemError::SystemError;
};

}  // namespace patchbay
