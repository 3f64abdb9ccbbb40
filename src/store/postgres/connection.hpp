// RAII over one libpq connection (PGconn) and its results (PGresult), with parameterised statements that
// are prepared once per connection and reused. A Connection is used by one thread at a time: libpq
// allows several threads only on several connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"

struct pg_conn;
struct pg_result;

namespace gpuopt::store::postgres {

// The parameters of one statement ($1, $2 ... in order), sent as text: the statement casts where the
// type is not clear from the context ($1::bigint). Doubles are written in their shortest exact form.
class Params {
public:
    Params& Add(int64_t value);
    Params& Add(int value) { return Add(static_cast<int64_t>(value)); }
    Params& Add(double value);
    Params& Add(bool value);
    Params& Add(std::string_view value);
    Params& Add(const char* value) { return Add(std::string_view(value)); }
    Params& Add(const std::string& value) { return Add(std::string_view(value)); }
    template <class T>
    Params& Add(const std::optional<T>& value) {
        return value ? Add(*value) : AddNull();
    }
    Params& AddNull();
    // A bytea value, in PostgreSQL's hex form.
    Params& AddBytes(std::string_view bytes);

    int size() const { return static_cast<int>(values_.size()); }
    // Pointers for libpq, valid until the next Add.
    const char* const* Values() const;

private:
    std::vector<std::string> values_;
    std::vector<bool> null_;
    mutable std::vector<const char*> pointers_;
};

// A PostgreSQL array literal ("{1,NULL,\"a b\"}") built element by element: bulk statements take a
// column of values as one parameter (unnest($1::text[], $2::float8[], ...)). Doubles are exact as in Params.
class ArrayLiteral {
public:
    ArrayLiteral& Add(int64_t value);
    ArrayLiteral& Add(int value) { return Add(static_cast<int64_t>(value)); }
    ArrayLiteral& Add(double value);
    ArrayLiteral& Add(bool value);
    ArrayLiteral& Add(std::string_view value);
    ArrayLiteral& Add(const char* value) { return Add(std::string_view(value)); }
    ArrayLiteral& Add(const std::string& value) { return Add(std::string_view(value)); }
    template <class T>
    ArrayLiteral& Add(const std::optional<T>& value) {
        return value ? Add(*value) : AddNull();
    }
    ArrayLiteral& AddNull();

    size_t size() const { return count_; }
    // The literal, closed.
    std::string Text() const { return "{" + body_ + "}"; }

private:
    void Separate();
    std::string body_;
    size_t count_ = 0;
};

// A finished command's rows, in text form (or binary, from QueryBinary). Rows and columns are 0-based.
class Rows {
public:
    Rows() = default;
    explicit Rows(pg_result* result);
    Rows(Rows&&) noexcept = default;
    Rows& operator=(Rows&&) noexcept = default;
    ~Rows();

    int size() const;
    int columns() const;
    bool empty() const { return size() == 0; }
    // Rows an INSERT, UPDATE or DELETE touched (its command tag), 0 for other commands.
    int64_t Affected() const;
    bool IsNull(int row, int column) const;
    std::string_view Text(int row, int column) const;
    int64_t Int(int row, int column) const;  // 0 for NULL
    double Double(int row, int column) const;
    bool Bool(int row, int column) const;

private:
    struct Clear {
        void operator()(pg_result* r) const;
    };
    std::unique_ptr<pg_result, Clear> result_;
};

class Connection {
public:
    struct Options {
        std::string url;  // postgresql://user@host:port/db?...
        std::chrono::seconds connect_timeout{5};
        std::chrono::milliseconds statement_timeout{30000};  // 0: none
        std::string application_name = "gpuopt";
    };

    // Connects and sets the session's time zone to UTC and its timeouts. Fails with kUnavailable when the
    // server cannot be reached or refuses us (the reason is logged, without the password).
    static Result<std::unique_ptr<Connection>> Open(const Options& options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // One or more statements without parameters (schema changes, BEGIN, COMMIT), simple protocol.
    Result<Rows> Exec(std::string_view sql);
    // One statement with parameters, prepared on first use on this connection and reused after.
    Result<Rows> Query(const std::string& sql, const Params& params = {});
    // One statement with parameters, parsed and planned for these values on every run. For a statement
    // whose best plan depends on how large its tables have grown: a prepared statement's generic plan is
    // made from the statistics of the moment it is chosen, which for a new database means empty tables.
    Result<Rows> QueryPlannedEachTime(const std::string& sql, const Params& params);
    // As Query, with the rows in binary form: the server does not format each number as text nor the
    // client parse it back, which is most of the work in reading tens of thousands of rows of doubles.
    // Rows reads bigint, integer, smallint, double precision, real, boolean and text columns in it.
    Result<Rows> QueryBinary(const std::string& sql, const Params& params);

    // One statement of a Pipeline: prepared on this connection (as Query) or planned each time (as
    // QueryPlannedEachTime).
    struct Statement {
        const std::string* sql;
        const Params* params;  // null: none
        bool plan_each_time = false;
    };
    // Several statements sent together and answered together (libpq's pipeline mode): one round trip for
    // all of them instead of one each. The server runs them in order; once one fails, the rest are not run
    // and the first failure is the result. Rows for each statement, in order.
    Result<std::vector<Rows>> Pipeline(const std::vector<Statement>& statements);

    // Errors: unique violations are kAlreadyExists; a lost connection, a shutting-down server, too many
    // connections, a cancelled statement and serialization failures or deadlocks are kUnavailable;
    // anything else is kInternal. The SQLSTATE of the last failure, or "".
    const std::string& LastSqlState() const { return last_sqlstate_; }
    // Payloads of the notifications (LISTEN) that arrived, waiting up to `wait` for the first one; empty
    // when none came. kUnavailable when the connection is lost.
    Result<std::vector<std::string>> Notifications(std::chrono::milliseconds wait);
    // The connection is usable (not lost). A lost one is not repaired: open a new one.
    bool Healthy() const;
    // The server's process id for this session (pg_backend_pid), for tests and logs.
    int BackendPid() const;

private:
    struct Finish {
        void operator()(pg_conn* c) const;
    };
    explicit Connection(pg_conn* conn) : conn_(conn) {}
    Result<Rows> Check(pg_result* result, std::string_view what);
    // The name `sql` is prepared under on this connection, preparing it on first use.
    Result<const std::string*> Prepared(const std::string& sql);

    std::unique_ptr<pg_conn, Finish> conn_;
    std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
    std::string last_sqlstate_;
};

// The URL with any password replaced by "***", for logs.
std::string RedactUrl(std::string_view url);

}  // namespace gpuopt::store::postgres
