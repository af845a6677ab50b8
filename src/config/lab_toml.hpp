// Building a lab from an already parsed TOML table: the runner's inline and external topologies
// (SPEC 15.2) share the lab-file loader with Lab::load.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "config/lab_plan.hpp"
#include "patchbay/lab.hpp"

namespace patchbay::config {

// Builds `root` ([[router]], [device.*], [region.*]) into `lab` in the SPEC 15.1 order. `source`
// names the file in errors and warnings.
void build_lab(Lab& lab, const toml::table& root, const std::string& source);
// Builds an already read plan (lab_plan.hpp); prints its warnings to stderr first.
void build_lab(Lab& lab, const LabPlan& plan);

}  // namespace patchbay::config
