// The sim steps that change the running lab and finish at once (SPEC 15.4): link conditions,
// link up/down, default routes, replugging, NAT, firewall and region links. Steps that start
// processes, wait or write files stay with the executor.
#pragma once

#include <functional>
#include <string>

#include "patchbay/lab.hpp"
#include "runner/step_view.hpp"

namespace patchbay::runner {

using LabStepWarn = std::function<void(const std::string&)>;

// Applies `v` if its action is one of the above and returns true; false for any other action.
// Errors: ConfigError naming the step and key (unknown device, router or region, bad values),
// or the library's error of the operation. Unknown keys inside a `condition` / `impair` table
// (set-link-condition, set-downlink-condition) or a `nat = { custom = {...} }` table (set-nat) are
// dropped and reported through `warn` as "step N (<action>): unknown key 'condition.x' ignored",
// as lab files do; the firewall table stays strict, as in lab files.
bool run_lab_step(Lab& lab, const StepView& v, const LabStepWarn& warn);

// The lab node a step names under `key`; a ConfigError lists the known names when it is unknown.
Device step_device(Lab& lab, const StepView& v, const char* key = "device");
Router step_router(Lab& lab, const StepView& v, const char* key = "router");

}  // namespace patchbay::runner
