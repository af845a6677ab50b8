// The devtools UI page served at `/` (SPEC 14.2): one self-contained HTML file, embedded into the
// binary by the `patchbay_ui` target (ui/CMakeLists.txt). When the UI could not be built (no node or
// ui/node_modules at build time), ui/placeholder.html says how to build it.
#pragma once

#include <string_view>

namespace patchbay::server {

std::string_view ui_index_html();

}  // namespace patchbay::server
