#include "support/test_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace gpuopt::testing {

std::filesystem::path FreshTestDir(std::string_view prefix) {
    // Parameterised tests are named "Case/0": a slash is not a file name character.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    auto dir = std::filesystem::temp_directory_path() /
               ("gpuopt-" + std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace gpuopt::testing
