// The devtools UI page served at `/` (SPEC 14.2): one self-contained HTML file, embedded into the
// binary by the `patchbay_ui` target (ui/CMakeLists.txt). When the UI was not built (no npm at
// build time), a short placeholder page says how to build it.
#pragma once

#include <string_view>

namespace patchbay::server {

std::string_view ui_index_html();
bool ui_is_placeholder();

}  // namespace patchbay::server
