// The sim steps that write files into the sim directory and record their paths as captures
// (SPEC 15.4): `gen-certs` (a self-signed certificate and key) and `gen-file` (interpolated text).
#pragma once

#include <filesystem>

#include "patchbay/lab.hpp"
#include "runner/captures.hpp"
#include "runner/interpolate.hpp"
#include "runner/step_view.hpp"

namespace patchbay::runner {

// certs/<id>/{cert,key}.pem for the step's device (its IP and the interpolated `san`s as
// subject alternative names); records <id>.cert_pem_path and <id>.key_pem_path.
void gen_certs_step(Lab& lab, const StepView& v, const InterpContext& ctx,
                    const std::filesystem::path& sim_dir, CaptureStore& store);
// files/<id>/content with the interpolated `content`; records <id>.path.
void gen_file_step(const StepView& v, const InterpContext& ctx, const std::filesystem::path& sim_dir,
                   CaptureStore& store);

}  // namespace patchbay::runner
