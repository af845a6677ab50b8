// The usage examples at the top of every public header compile (this file links the generated
// translation unit); the count guards against an example silently dropping out of the extraction.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

int pb_example_count();

TEST(HeaderExamples, EveryHeaderWithAUsageBlockIsCompiled) {
  int with_block = 0;
  for (auto& e : std::filesystem::directory_iterator(PATCHBAY_INCLUDE_DIR "/patchbay")) {
    if (e.path().extension() != ".hpp") continue;
    std::ifstream f(e.path());
    std::string line;
    while (std::getline(f, line) && line.rfind("#pragma once", 0) != 0)
      if (line.rfind("//   ", 0) == 0) {
        ++with_block;
        break;
      }
  }
  EXPECT_GE(with_block, 20);  // every header documents itself with an example
  EXPECT_EQ(pb_example_count(), with_block);
}
