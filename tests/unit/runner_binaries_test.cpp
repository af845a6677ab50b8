// [[binary]] parsing, overrides and assembly (SPEC 15.6), and gen-certs (SPEC 15.4).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "patchbay/error.hpp"
#include "runner/binaries.hpp"
#include "runner/certs.hpp"
#include "runner_test_util.hpp"

using namespace patchbay;
using namespace patchbay::runner;
namespace fs = std::filesystem;
using nlohmann::json;
using runner_test::error_of;
using runner_test::TempDir;

namespace {

void write(const fs::path& p, const std::string& text, fs::perms perms = static_cast<fs::perms>(0644)) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  fs::permissions(p, perms);
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string sha256_of(const fs::path& p) {
  std::string data = read(p);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

struct Assembler {
  TempDir project, work;
  std::vector<std::string> lines;
  AssembleOpts opts() {
    return {project.path, work.path / "run", false, [this](const std::string& l) { lines.push_back(l); }};
  }
  std::string one(const json& table, const std::map<std::string, BinaryOverride>& overrides = {},
                  bool no_build = false) {
    auto spec = parse_binary(table, "sim.toml");
    auto o = opts();
    o.no_build = no_build;
    return assemble_binaries({spec}, overrides, o).at(spec.name);
  }
};

const char* kScript = "#!/bin/sh\necho hi\n";

}  // namespace

TEST(RunnerBinary, OverrideKeepsColonsInTheValue) {
  auto b = parse_binary_override("relay:build:.");
  EXPECT_EQ(b.name, "relay");
  EXPECT_EQ(b.mode, "build");
  EXPECT_EQ(b.value, ".");
  auto f = parse_binary_override("relay:fetch:https://example.com/x:y");
  EXPECT_EQ(f.mode, "fetch");
  EXPECT_EQ(f.value, "https://example.com/x:y");
  auto p = parse_binary_override("transfer:path:./bin");
  EXPECT_EQ(p.name, "transfer");
  EXPECT_EQ(p.mode, "path");
  EXPECT_EQ(p.value, "./bin");
}

TEST(RunnerBinary, OverrideRejectsMalformedArgumentsNamingThem) {
  EXPECT_TRUE(contains(error_of([] { parse_binary_override("relay:copy:x"); }), "'relay:copy:x'"));
  EXPECT_TRUE(contains(error_of([] { parse_binary_override("relay:path"); }), "'relay:path'"));
  EXPECT_TRUE(contains(error_of([] { parse_binary_override(":path:x"); }), "<name>:<mode>:<value>"));
}

TEST(RunnerBinary, DuplicateOverrideNameIsAnError) {
  auto ok = parse_binary_overrides({"a:path:x", "b:fetch:file:///y"});
  EXPECT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok.at("b").value, "file:///y");
  std::string err = error_of([] { parse_binary_overrides({"a:path:x", "a:build:."}); });
  EXPECT_EQ(err, "duplicate --binary override: 'a'");
}

TEST(RunnerBinary, InfersModeFromSourceKeys) {
  EXPECT_EQ(parse_binary({{"name", "a"}, {"build", "make"}, {"path", "out"}}, "s.toml").mode, "build");
  EXPECT_EQ(parse_binary({{"name", "a"}, {"path", "bin/a"}}, "s.toml").mode, "path");
  EXPECT_EQ(parse_binary({{"name", "a"}, {"url", "https://x/a"}}, "s.toml").mode, "fetch");
  EXPECT_EQ(parse_binary({{"name", "a"}, {"example", "transfer"}}, "s.toml").mode, "cargo");
  EXPECT_EQ(parse_binary({{"name", "a"}, {"mode", "build"}, {"bin", "relay"}}, "s.toml").mode, "cargo");
  auto argv = parse_binary({{"name", "a"}, {"build", {"sh", "-c", "true"}}, {"path", "o"}}, "s.toml");
  EXPECT_EQ(argv.build_argv, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_FALSE(argv.build_shell);
}

TEST(RunnerBinary, NoModeAndNoSourceIsAnError) {
  std::string err = error_of([] { parse_binary({{"name", "relay"}}, "sims/a.toml"); });
  EXPECT_TRUE(contains(err, "sims/a.toml"));
  EXPECT_TRUE(
      contains(err, "binary 'relay' has no mode and no source fields (expected build|path|fetch|target)"))
      << err;
}

TEST(RunnerBinary, WrongTypesAndUnknownModesNameTheBinaryAndKey) {
  std::string err = error_of([] { parse_binary({{"name", "relay"}, {"path", 3}}, "s.toml"); });
  EXPECT_TRUE(contains(err, "binary 'relay'") && contains(err, "'path'")) << err;
  err = error_of([] { parse_binary({{"name", "relay"}, {"mode", "teleport"}, {"path", "x"}}, "s.toml"); });
  EXPECT_TRUE(contains(err, "binary 'relay'") && contains(err, "'teleport'")) << err;
  err = error_of([] { parse_binary({{"name", "relay"}, {"build", "make"}}, "s.toml"); });
  EXPECT_TRUE(contains(err, "'path'")) << err;
  err = error_of([] { parse_binary({{"name", "relay"}, {"url", "ftp://x/y"}}, "s.toml"); });
  EXPECT_TRUE(contains(err, "'url'")) << err;
}

TEST(RunnerBinary, CargoKeysFailWhenCargoIsNotInPath) {
  const char* old = std::getenv("PATH");
  std::string saved = old ? old : "";
  ::setenv("PATH", "/usr/bin:/bin", 1);
  if (find_in_path("cargo")) {
    ::setenv("PATH", saved.c_str(), 1);
    GTEST_SKIP() << "cargo is installed in /usr/bin or /bin";
  }
  Assembler a;
  std::string err = error_of([&] { a.one({{"name", "transfer"}, {"example", "transfer"}}); });
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(err, "binary 'transfer' uses cargo-specific keys but cargo was not found in PATH");
}

TEST(RunnerBinary, GenericBuildRunsTheCommandThenUsesPath) {
  Assembler a;
  json spec = {
      {"name", "hello"},
      {"build", {"sh", "-c", "printf '#!/bin/sh\\necho hi\\n' > out.sh && chmod +x out.sh && echo built"}},
      {"path", "out.sh"}};
  std::string path = a.one(spec);
  EXPECT_EQ(path, (a.project.path / "out.sh").string());
  EXPECT_EQ(read(path), kScript);
  EXPECT_NE(std::find(a.lines.begin(), a.lines.end(), "built"), a.lines.end());
  EXPECT_NE(std::find(a.lines.begin(), a.lines.end(), "binary assembled: hello -> " + path), a.lines.end());
}

TEST(RunnerBinary, NoBuildSkipsTheCommandButNeedsTheArtifact) {
  Assembler a;
  json spec = {{"name", "hello"}, {"build", "echo ran > marker; cp /bin/true out"}, {"path", "out"}};
  std::string err = error_of([&] { a.one(spec, {}, true); });
  EXPECT_TRUE(contains(err, "binary 'hello'") && contains(err, "does not exist")) << err;
  write(a.project.path / "out", kScript, static_cast<fs::perms>(0755));
  EXPECT_EQ(a.one(spec, {}, true), (a.project.path / "out").string());
  EXPECT_FALSE(fs::exists(a.project.path / "marker"));
  a.one(spec);  // positive control: without --no-build the command runs
  EXPECT_TRUE(fs::exists(a.project.path / "marker"));
}

TEST(RunnerBinary, FailingBuildNamesBinaryCommandAndStatus) {
  Assembler a;
  std::string err = error_of([&] { a.one({{"name", "bad"}, {"build", "exit 3"}, {"path", "x"}}); });
  EXPECT_TRUE(contains(err, "binary 'bad'") && contains(err, "'exit 3'") && contains(err, "status 3")) << err;
}

namespace {

// Dead: gone, or a zombie nobody reaps (this machine's pid 1 does not).
bool exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto paren = line.rfind(')');
  return paren + 2 < line.size() && line[paren + 2] == 'Z';
}

bool exits_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!exited(pid) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return exited(pid);
}

}  // namespace

TEST(RunnerBinary, HungBuildIsKilledWithItsProcessGroupAtTheDeadline) {
  Assembler a;
  AssembleOpts o = a.opts();
  o.build_timeout = std::chrono::milliseconds(500);
  // The shell leaves a background sleep in its process group: the deadline must take both.
  auto spec = parse_binary({{"name", "slow"}, {"build", "sleep 30 & echo $! > bg.pid; wait"}, {"path", "x"}},
                           "sim.toml");
  auto started = std::chrono::steady_clock::now();
  std::string err = error_of([&] { assemble_binaries({spec}, {}, o); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_TRUE(contains(err, "build of binary 'slow' timed out after 500ms")) << err;
  EXPECT_TRUE(contains(err, "'sleep 30 & echo $! > bg.pid; wait'")) << err;
  pid_t bg = std::stoi(read(a.project.path / "bg.pid"));
  EXPECT_TRUE(exits_within(bg, std::chrono::seconds(5))) << "background sleep " << bg << " survived";
}

TEST(RunnerBinary, BuildWithinTheDeadlineSucceeds) {
  Assembler a;
  AssembleOpts o = a.opts();
  o.build_timeout = std::chrono::milliseconds(5000);
  auto spec = parse_binary({{"name", "quick"}, {"build", "cp /bin/true out"}, {"path", "out"}}, "sim.toml");
  EXPECT_EQ(assemble_binaries({spec}, {}, o).at("quick"), (a.project.path / "out").string());
}

TEST(RunnerBinary, BuildOverrideRunsTheSpecInTheGivenDirectory) {
  Assembler a;
  fs::create_directories(a.project.path / "checkout");
  json spec = {{"name", "hello"}, {"build", "cp /bin/true out"}, {"path", "out"}};
  std::string path = a.one(spec, {{"hello", {"hello", "build", "checkout"}}});
  EXPECT_EQ(path, (a.project.path / "checkout" / "out").string());
  EXPECT_FALSE(fs::exists(a.project.path / "out"));
}

namespace {

// A fake `cargo` first on PATH (and RUST_TARGET unset) for one test: it appends "<cwd>|<args>" to
// `log` and answers `cargo metadata` with `target` as the target directory.
struct FakeCargo {
  TempDir bin;
  fs::path log, target;
  std::string saved_path, saved_rust_target;
  bool had_rust_target = false;
  // `fail_on`: calls whose arguments contain it exit with 101, as cargo does for a missing target.
  explicit FakeCargo(const fs::path& target_dir, const std::string& fail_on = "")
      : log(bin.path / "cargo.log"), target(target_dir) {
    const std::string fail = fail_on.empty() ? ""
                                             : "case \"$*\" in *'" + fail_on +
                                                   "'*) echo 'error: no such target' >&2; exit 101;; esac\n";
    write(bin.path / "cargo",
          "#!/bin/sh\necho \"$(pwd -P)|$*\" >> '" + log.string() + "'\n" + fail +
              "[ \"$1\" = metadata ] && echo '{\"target_directory\": \"" + target.string() + "\"}'\nexit 0\n",
          static_cast<fs::perms>(0755));
    const char* p = std::getenv("PATH");
    saved_path = p ? p : "";
    ::setenv("PATH", (bin.path.string() + ":" + saved_path).c_str(), 1);
    if (const char* rt = std::getenv("RUST_TARGET")) {
      had_rust_target = true;
      saved_rust_target = rt;
      ::unsetenv("RUST_TARGET");
    }
  }
  ~FakeCargo() {
    ::setenv("PATH", saved_path.c_str(), 1);
    if (had_rust_target) ::setenv("RUST_TARGET", saved_rust_target.c_str(), 1);
  }
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    std::istringstream in(read(log));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

}  // namespace

TEST(RunnerBinary, CargoBuildModeBuildsInPathAsTheSourceDirectory) {
  Assembler a;
  fs::path src = a.project.path / "crates/transfer";
  fs::create_directories(src);
  FakeCargo cargo(a.work.path / "target");
  write(cargo.target / "release/examples/transfer", kScript, static_cast<fs::perms>(0755));
  std::string path =
      a.one({{"name", "transfer"}, {"mode", "build"}, {"path", "crates/transfer"}, {"example", "transfer"}});
  EXPECT_EQ(path, (cargo.target / "release/examples/transfer").string());
  const std::string dir = fs::canonical(src).string();
  const std::vector<std::string> want{
      dir + "|build --release --manifest-path " + src.string() + "/Cargo.toml --example transfer",
      dir + "|metadata --format-version 1 --no-deps"};
  EXPECT_EQ(cargo.calls(), want);
}

TEST(RunnerBinary, CargoBuildModeWithAMissingSourceDirectoryNamesIt) {
  Assembler a;
  FakeCargo cargo(a.work.path / "target");
  std::string err = error_of([&] {
    a.one({{"name", "transfer"}, {"mode", "build"}, {"path", "nowhere"}, {"bin", "transfer"}});
  });
  EXPECT_TRUE(contains(err, "binary 'transfer'") && contains(err, (a.project.path / "nowhere").string()) &&
              contains(err, "not a directory"))
      << err;
  EXPECT_TRUE(cargo.calls().empty());
}

TEST(RunnerBinary, CargoBuildWithoutPathStillBuildsInTheProjectRoot) {
  Assembler a;
  FakeCargo cargo(a.work.path / "target");
  write(cargo.target / "release/relay", kScript, static_cast<fs::perms>(0755));
  EXPECT_EQ(a.one({{"name", "relay"}, {"bin", "relay"}}), (cargo.target / "release/relay").string());
  const std::string root = fs::canonical(a.project.path).string();
  const std::vector<std::string> want{root + "|build --release --bin relay",
                                      root + "|metadata --format-version 1 --no-deps"};
  EXPECT_EQ(cargo.calls(), want);
}

TEST(RunnerBinary, GenericBuildWithASourceDirectoryPathRunsThereAndTakesPathSlashName) {
  Assembler a;
  fs::path src = a.project.path / "tools/hello-src";
  fs::create_directories(src);
  json spec = {
      {"name", "hello"}, {"build", "pwd -P > built-in; cp /bin/true hello"}, {"path", "tools/hello-src"}};
  EXPECT_EQ(a.one(spec), (src / "hello").string());
  EXPECT_EQ(read(src / "built-in"), fs::canonical(src).string() + "\n");
  EXPECT_FALSE(fs::exists(a.project.path / "built-in"));
  // `cwd` still decides where the command runs.
  Assembler b;
  fs::create_directories(b.project.path / "tools/hello-src");
  json with_cwd = spec;
  with_cwd["cwd"] = ".";
  with_cwd["build"] = "pwd -P > built-in; cp /bin/true tools/hello-src/hello";
  EXPECT_EQ(b.one(with_cwd), (b.project.path / "tools/hello-src/hello").string());
  EXPECT_EQ(read(b.project.path / "built-in"), fs::canonical(b.project.path).string() + "\n");
}

TEST(RunnerBinary, PathModeReportsTheMissingFile) {
  Assembler a;
  std::string err = error_of([&] { a.one({{"name", "relay"}, {"path", "bin/relay"}}); });
  EXPECT_TRUE(contains(err, "binary 'relay'")) << err;
  EXPECT_TRUE(contains(err, (a.project.path / "bin/relay").string())) << err;
  write(a.project.path / "bin/relay", kScript);
  EXPECT_TRUE(contains(error_of([&] {
                         a.one({{"name", "relay"}, {"path", "bin/relay"}});
                       }),
                       "not executable"));
  fs::permissions(a.project.path / "bin/relay", static_cast<fs::perms>(0755));
  EXPECT_EQ(a.one({{"name", "relay"}, {"path", "bin/relay"}}), (a.project.path / "bin/relay").string());
}

TEST(RunnerBinary, PathOverrideIsCopiedIntoTheRunRoot) {
  Assembler a;
  write(a.project.path / "mine", kScript);
  std::string path = a.one({{"name", "relay"}, {"url", "https://example.invalid/x"}},
                           {{"relay", {"relay", "path", "mine"}}});
  EXPECT_EQ(path, (a.work.path / "run/.assemble/bins/relay-override").string());
  EXPECT_EQ(read(path), kScript);
  EXPECT_EQ(::access(path.c_str(), X_OK), 0);
}

TEST(RunnerBinary, FetchesAPlainFileUrl) {
  Assembler a;
  write(a.project.path / "dl/tool", kScript);
  std::string url = "file://" + (a.project.path / "dl/tool").string();
  std::string path = a.one({{"name", "tool"}, {"url", url}});
  EXPECT_TRUE(contains(path, (a.work.path / "run/.assemble/.binary-cache/").string())) << path;
  EXPECT_EQ(fs::path(path).filename(), "tool");
  EXPECT_EQ(read(path), kScript);
  EXPECT_EQ(::access(path.c_str(), X_OK), 0);
  EXPECT_EQ(read(fs::path(path).parent_path().parent_path() / "resolved.path"), path);
}

TEST(RunnerBinary, ExtractsTheBinaryFromATarGzSkippingDirsAndDotfiles) {
  Assembler a;
  fs::path pkg = a.project.path / "pkg";
  write(pkg / ".hidden", "dot");
  write(pkg / "notes.txt", "text");
  write(pkg / "iroh-relay", kScript);
  fs::create_directories(pkg / "sub");
  // --no-recursion with an explicit order puts the directory entries and the dotfile first.
  run_program({"tar", "--no-recursion", "-czf", "relay.tar.gz", "pkg", "pkg/sub", "pkg/.hidden",
               "pkg/notes.txt", "pkg/iroh-relay"},
              a.project.path, nullptr, "tar");
  std::string url = "file://" + (a.project.path / "relay.tar.gz").string();
  std::string path = a.one({{"name", "relay"}, {"url", url}});
  EXPECT_EQ(fs::path(path).filename(), "iroh-relay");
  EXPECT_EQ(read(path), kScript);
  EXPECT_EQ(::access(path.c_str(), X_OK), 0);

  Assembler b;  // `member` picks a file the default rule would skip
  fs::copy(a.project.path / "relay.tar.gz", b.project.path / "relay.tgz");
  std::string url_b = "file://" + (b.project.path / "relay.tgz").string();
  EXPECT_EQ(read(b.one({{"name", "notes"}, {"url", url_b}, {"member", "pkg/notes.txt"}})), "text");
}

TEST(RunnerBinary, Sha256MismatchFailsAndMatchPasses) {
  Assembler a;
  write(a.project.path / "tool", kScript);
  std::string url = "file://" + (a.project.path / "tool").string();
  std::string wrong(64, '0');
  std::string err = error_of([&] { a.one({{"name", "tool"}, {"url", url}, {"sha256", wrong}}); });
  std::string actual = sha256_of(a.project.path / "tool");
  EXPECT_TRUE(contains(err, "binary 'tool'") && contains(err, wrong) && contains(err, actual)) << err;
  Assembler b;
  write(b.project.path / "tool", kScript);
  std::string url_b = "file://" + (b.project.path / "tool").string();
  EXPECT_EQ(read(b.one({{"name", "tool"}, {"url", url_b}, {"sha256", actual}})), kScript);
}

TEST(RunnerBinary, SecondAssembleReusesTheCache) {
  Assembler a;
  write(a.project.path / "tool", kScript);
  json spec = {{"name", "tool"}, {"url", "file://" + (a.project.path / "tool").string()}};
  std::string first = a.one(spec);
  fs::remove(a.project.path / "tool");
  a.lines.clear();
  EXPECT_EQ(a.one(spec), first);
  for (const auto& l : a.lines) EXPECT_FALSE(contains(l, "fetching")) << l;
  Assembler fresh;  // positive control: without a cache the missing source is an error
  EXPECT_TRUE(contains(error_of([&] { fresh.one(spec); }), "binary 'tool'"));
}

TEST(RunnerBinary, MergeRejectsOneNameWithDifferentSpecs) {
  auto a = parse_binary({{"name", "relay"}, {"path", "bin/relay"}}, "a.toml");
  auto same = parse_binary({{"name", "relay"}, {"path", "bin/relay"}}, "b.toml");
  auto other = parse_binary({{"name", "relay"}, {"path", "bin/other"}}, "c.toml");
  auto merged = merge_binary_specs({{"a.toml", a}, {"b.toml", same}});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(*merged[0].path, "bin/relay");
  std::string err = error_of([&] { merge_binary_specs({{"a.toml", a}, {"c.toml", other}}); });
  EXPECT_TRUE(contains(err, "binary 'relay'") && contains(err, "a.toml") && contains(err, "c.toml")) << err;
}

TEST(RunnerCerts, WritesCertWithCnSansAndMatchingKey) {
  TempDir dir;
  auto paths = gen_self_signed(dir.path / "certs/relay", "relay-cn", {"10.0.0.2", "relay.test", "fd00::1"});
  EXPECT_EQ(paths.cert, dir.path / "certs/relay/cert.pem");
  struct stat st {};
  ASSERT_EQ(::stat(paths.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  FILE* cf = std::fopen(paths.cert.c_str(), "r");
  ASSERT_NE(cf, nullptr);
  X509* cert = PEM_read_X509(cf, nullptr, nullptr, nullptr);
  std::fclose(cf);
  ASSERT_NE(cert, nullptr);
  FILE* kf = std::fopen(paths.key.c_str(), "r");
  ASSERT_NE(kf, nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
  std::fclose(kf);
  ASSERT_NE(key, nullptr);

  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "relay-cn");
  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.0.0.2", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "fd00::1", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "relay.test", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert, "other.test", 0, 0, nullptr), 1);  // negative control
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert)), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(cert)), 0);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// As the original: without `example` or `bin` the example of that name is tried first, then the binary.
TEST(RunnerBinary, CargoWithoutExampleOrBinTriesTheExampleThenTheBinary) {
  Assembler a;
  FakeCargo cargo(a.work.path / "target", "--example relay");
  write(cargo.target / "release/relay", kScript, static_cast<fs::perms>(0755));
  std::string path = a.one({{"name", "relay"}, {"mode", "cargo"}});
  EXPECT_EQ(path, (cargo.target / "release/relay").string());
  const std::string dir = fs::canonical(a.project.path).string();
  const std::vector<std::string> want{dir + "|build --release --example relay",
                                      dir + "|build --release --bin relay",
                                      dir + "|metadata --format-version 1 --no-deps"};
  EXPECT_EQ(cargo.calls(), want);
}

TEST(RunnerBinary, CargoWithoutExampleOrBinTakesTheExampleWhenItBuilds) {
  Assembler a;
  FakeCargo cargo(a.work.path / "target");
  write(cargo.target / "release/examples/relay", kScript, static_cast<fs::perms>(0755));
  std::string path = a.one({{"name", "relay"}, {"mode", "cargo"}});
  EXPECT_EQ(path, (cargo.target / "release/examples/relay").string());
  const std::string dir = fs::canonical(a.project.path).string();
  const std::vector<std::string> want{dir + "|build --release --example relay",
                                      dir + "|metadata --format-version 1 --no-deps"};
  EXPECT_EQ(cargo.calls(), want);
}
