#include "support/pg_database.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "store/postgres/connection.hpp"

namespace gpuopt::testing {

namespace {

std::atomic<int> counter{0};

std::string ReadUrl() {
    const char* dir = std::getenv("GPUOPT_TEST_SERVICES");
    if (dir == nullptr) return "";
    std::ifstream in(std::string(dir) + "/postgres/url");
    std::string url;
    std::getline(in, url);
    return url;
}

}  // namespace

PgTestDatabase::PgTestDatabase() {
    admin_url_ = ReadUrl();
    if (admin_url_.empty()) {
        ADD_FAILURE() << "no test PostgreSQL: no URL in $GPUOPT_TEST_SERVICES/postgres/url (run through CTest, "
                         "which starts tests/services/postgres.sh)";
        return;
    }
    // Lower case letters, digits and '_' only, so the name needs no quoting anywhere; at most 63 bytes.
    // The test's name, or its suite's outside a test (a server a suite shares).
    const auto* unit = ::testing::UnitTest::GetInstance();
    std::string test = unit->current_test_info() != nullptr    ? unit->current_test_info()->name()
                       : unit->current_test_suite() != nullptr ? unit->current_test_suite()->name()
                                                               : "shared";
    for (auto& c : test) c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + test;
    name_.resize(std::min<size_t>(name_.size(), 63));
    auto admin = store::postgres::Connection::Open({admin_url_});
    if (!admin) {
        ADD_FAILURE() << "cannot reach the test PostgreSQL at " << admin_url_;
        return;
    }
    auto made = (*admin)->Exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
    if (!made) {
        ADD_FAILURE() << "CREATE DATABASE " << name_ << " failed: " << made.error().message;
        return;
    }
    const size_t slash = admin_url_.rfind('/');
    url_ = admin_url_.substr(0, slash + 1) + name_;
}

PgTestDatabase::~PgTestDatabase() {
    if (url_.empty()) return;
    auto admin = store::postgres::Connection::Open({admin_url_});
    if (admin) (void)(*admin)->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
}

}  // namespace gpuopt::testing
