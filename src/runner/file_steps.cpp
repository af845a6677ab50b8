#include "runner/file_steps.hpp"

#include <fstream>
#include <string>
#include <vector>

#include "runner/certs.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

void gen_certs_step(Lab& lab, const StepView& v, const InterpContext& ctx, const fs::path& sim_dir,
                    CaptureStore& store) {
  auto id = v.str("id");
  std::string dev_name = v.opt_str("device").value_or(id);
  std::vector<std::string> sans;
  auto d = lab.device_by_name(dev_name);
  if (!d) throw ConfigError(v.where("device"), "unknown device '" + dev_name + "'");
  if (auto ip = d->ip()) sans.push_back(ip->to_string());
  for (auto& s : v.strings("san")) sans.push_back(interpolate(s, ctx));
  auto paths = gen_self_signed(sim_dir / "certs" / id, v.opt_str("cn").value_or("patchbay"), sans);
  store.record(id + ".cert_pem_path", fs::absolute(paths.cert).string());
  store.record(id + ".key_pem_path", fs::absolute(paths.key).string());
}

void gen_file_step(const StepView& v, const InterpContext& ctx, const fs::path& sim_dir,
                   CaptureStore& store) {
  auto id = v.str("id");
  auto content = interpolate(v.str("content"), ctx);
  auto dir = sim_dir / "files" / id;
  fs::create_directories(dir);
  auto path = dir / "content";
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f.flush()) throw StepFailed("gen-file '" + id + "': cannot write " + path.string());
  store.record(id + ".path", fs::absolute(path).string());
}

}  // namespace patchbay::runner
