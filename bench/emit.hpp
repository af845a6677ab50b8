// The one output format of every benchmark: a JSON object per line,
// {"bench":...,"metric":...,"value":...,"unit":...}, flushed at once so a killed run keeps what
// it measured.
#pragma once

#include <cstdio>
#include <string>

namespace bench {

// `precision`: digits after the decimal point.
inline void emit(const char* bench, const std::string& metric, double value, const char* unit,
                 int precision = 4) {
  std::printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.*f,\"unit\":\"%s\"}\n", bench, metric.c_str(),
              precision, value, unit);
  std::fflush(stdout);
}

}  // namespace bench
