// A database of its own for one test, on the PostgreSQL that CTest's `postgres` fixture started
// (tests/services/postgres.sh); its URL is in $GPUOPT_TEST_SERVICES/postgres/url. Dropped at the end.
#pragma once

#include <string>

namespace gpuopt::testing {

class PgTestDatabase {
public:
    // Creates the database; fails the test (ADD_FAILURE) when there is no server to create it on.
    PgTestDatabase();
    ~PgTestDatabase();
    PgTestDatabase(const PgTestDatabase&) = delete;
    PgTestDatabase& operator=(const PgTestDatabase&) = delete;

    bool Ready() const { return !url_.empty(); }
    const std::string& Url() const { return url_; }  // postgresql://...@127.0.0.1:PORT/<name>
    const std::string& Name() const { return name_; }
    // The server's own `postgres` database, for statements about other sessions.
    const std::string& AdminUrl() const { return admin_url_; }

private:
    std::string admin_url_;
    std::string name_;
    std::string url_;
};

}  // namespace gpuopt::testing
