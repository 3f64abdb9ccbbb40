// A scratch directory of the running test: one per test name and process, so that tests run in
// parallel (ctest -j, several suites) never share files.
#pragma once

#include <filesystem>
#include <string_view>

namespace gpuopt::testing {

// temp/gpuopt-<prefix>-<pid>-<test name>, emptied and created. The caller removes it in TearDown.
std::filesystem::path FreshTestDir(std::string_view prefix);

}  // namespace gpuopt::testing
