// The runner library's version string (the CLI's --version and manifest.json).
namespace patchbay::runner {
const char* version() {
  return PATCHBAY_VERSION;
}
}  // namespace patchbay::runner
