// The phase a sim failure belongs to (SPEC 15.7), carried by the error that ended the sim.
#pragma once

#include <string>

#include "patchbay/error.hpp"

namespace patchbay::runner {

// Phase names as written to sim.json: read-sim, parse-sim, load-extends, load-topology,
// configure-lab, expand-steps, step, write-results.
class PhaseError : public ConfigError {
 public:
  PhaseError(std::string phase, const std::string& message)
      : ConfigError(message), phase_(std::move(phase)) {}
  const std::string& phase() const { return phase_; }

 private:
  std::string phase_;
};

const char* version();  // PATCHBAY_VERSION

}  // namespace patchbay::runner
