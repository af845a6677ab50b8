#include "runner/download.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

namespace {

bool wanted_entry(const std::string& entry, const std::optional<std::string>& member) {
  std::string base = fs::path(entry).filename().string();
  if (member)
    return fs::path(entry).lexically_normal() == fs::path(*member).lexically_normal() || base == *member;
  return !base.empty() && base[0] != '.' && (fs::path(base).extension().empty() || base.ends_with(".bin"));
}

}  // namespace

void download(const std::string& url, const fs::path& dest, const std::string& ctx) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<FILE, decltype(&std::fclose)> out(std::fopen(dest.c_str(), "wb"), std::fclose);
  if (!out) sys::throw_errno(ctx, "create '" + dest.string() + "'", errno);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error(ctx, "fetch '" + url + "': curl_easy_init failed");
  char err[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out.get());  // libcurl's default writer fwrite()s here
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // a server must not redirect to file://
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // Abort a stalled transfer instead of hanging the whole invocation.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  CURLcode rc = curl_easy_perform(c);
  bool flushed = std::fflush(out.get()) == 0;
  if (rc != CURLE_OK) throw Error(ctx, "fetch '" + url + "': " + (err[0] ? err : curl_easy_strerror(rc)));
  if (!flushed) sys::throw_errno(ctx, "write '" + dest.string() + "'", errno);
}

fs::path extract_member(const fs::path& archive_path, const std::optional<std::string>& member,
                        const fs::path& dest_dir, const std::string& ctx) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(ctx, "open archive '" + archive_path.string() + "': " + archive_error_string(a.get()));
  archive_entry* entry = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const char* name = archive_entry_pathname(entry);
    if (archive_entry_filetype(entry) != AE_IFREG || !name || !wanted_entry(name, member)) continue;
    fs::path dest = dest_dir / fs::path(name).filename();
    std::unique_ptr<FILE, decltype(&std::fclose)> out(std::fopen(dest.c_str(), "wb"), std::fclose);
    if (!out) sys::throw_errno(ctx, "create '" + dest.string() + "'", errno);
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0)
      if (std::fwrite(buf, 1, static_cast<std::size_t>(n), out.get()) != static_cast<std::size_t>(n))
        sys::throw_errno(ctx, "write '" + dest.string() + "'", errno);
    if (n < 0) throw Error(ctx, "extract '" + std::string(name) + "': " + archive_error_string(a.get()));
    return dest;
  }
  if (r != ARCHIVE_EOF)
    throw Error(ctx, "read archive '" + archive_path.string() + "': " + archive_error_string(a.get()));
  throw Error(ctx, member ? "archive has no member '" + *member + "'"
                          : "archive has no regular file without extension or ending in .bin (set 'member')");
}

}  // namespace patchbay::runner
