// How a part of the lab (LinkControl, NatControl, RaControl) reports a change: the event's kind
// and fields. LabCore::emit stamps, publishes and records it; the parts never see the bus.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace patchbay::detail {

using EmitEvent = std::function<void(const std::string& kind, nlohmann::json fields)>;

}  // namespace patchbay::detail
