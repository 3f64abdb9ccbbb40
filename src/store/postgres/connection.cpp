#include "store/postgres/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace gpuopt::store::postgres {

namespace {

// SQLSTATEs after which the same work may succeed later or on another connection.
bool IsTransient(std::string_view state) {
    return state.starts_with("08") ||                                   // connection exception
           state == "57P01" || state == "57P02" || state == "57P03" ||  // shutdown, crash, cannot connect now
           state == "53300" ||                                          // too many connections
           state == "53100" || state == "53200" ||                      // disk full, out of memory
           state == "57014" ||                                          // statement cancelled (statement_timeout)
           state == "55P03" ||                                          // lock not available
           state == "40001" || state == "40P01";                        // serialization failure, deadlock
}

Error Unavailable() {
    return Error{ErrorCode::kUnavailable, "The store cannot write now; nothing was changed. Retry later", {}};
}

}  // namespace

// ---- Params -------------------------------------------------------------------------------------

Params& Params::Add(int64_t value) {
    values_.push_back(std::to_string(value));
    null_.push_back(false);
    return *this;
}

Params& Params::Add(double value) {
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    values_.emplace_back(buf.data(), ec == std::errc() ? end : buf.data());
    null_.push_back(false);
    return *this;
}

Params& Params::Add(bool value) {
    values_.emplace_back(value ? "true" : "false");
    null_.push_back(false);
    return *this;
}

Params& Params::Add(std::string_view value) {
    values_.emplace_back(value);
    null_.push_back(false);
    return *this;
}

Params& Params::AddBytes(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    text.reserve(2 + bytes.size() * 2);
    text += "\\x";
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        text += kDigits[b >> 4];
        text += kDigits[b & 15];
    }
    values_.push_back(std::move(text));
    null_.push_back(false);
    return *this;
}

Params& Params::AddNull() {
    values_.emplace_back();
    null_.push_back(true);
    return *this;
}

const char* const* Params::Values() const {
    pointers_.resize(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) pointers_[i] = null_[i] ? nullptr : values_[i].c_str();
    return pointers_.data();
}

// ---- ArrayLiteral -------------------------------------------------------------------------------

void ArrayLiteral::Separate() {
    if (count_++ > 0) body_ += ',';
}

ArrayLiteral& ArrayLiteral::Add(int64_t value) {
    Separate();
    body_ += std::to_string(value);
    return *this;
}

ArrayLiteral& ArrayLiteral::Add(double value) {
    Separate();
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    body_.append(buf.data(), ec == std::errc() ? end : buf.data());
    return *this;
}

ArrayLiteral& ArrayLiteral::Add(bool value) {
    Separate();
    body_ += value ? "t" : "f";
    return *this;
}

ArrayLiteral& ArrayLiteral::Add(std::string_view value) {
    Separate();
    // Always quoted, so that "NULL", empty strings, braces and commas stay text.
    body_ += '"';
    for (const char c : value) {
        if (c == '"' || c == '\\') body_ += '\\';
        body_ += c;
    }
    body_ += '"';
    return *this;
}

ArrayLiteral& ArrayLiteral::AddNull() {
    Separate();
    body_ += "NULL";
    return *this;
}

// ---- Rows ---------------------------------------------------------------------------------------

void Rows::Clear::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}
Rows::~Rows() = default;

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }
int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

int64_t Rows::Affected() const {
    if (!result_) return 0;
    const char* tuples = PQcmdTuples(result_.get());
    int64_t n = 0;
    std::from_chars(tuples, tuples + std::strlen(tuples), n);
    return n;
}

bool Rows::IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) == 1; }

std::string_view Rows::Text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column), static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

namespace {

// Type oids of the binary results read here (pg_type.dat).
constexpr unsigned kBoolOid = 16, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kFloat4Oid = 700, kFloat8Oid = 701;

template <class T>
T BigEndian(const char* p) {
    std::array<unsigned char, sizeof(T)> bytes;
    std::memcpy(bytes.data(), p, sizeof(T));
    if constexpr (std::endian::native == std::endian::little) std::reverse(bytes.begin(), bytes.end());
    return std::bit_cast<T>(bytes);
}

}  // namespace

int64_t Rows::Int(int row, int column) const {
    const std::string_view v = Text(row, column);
    if (PQfformat(result_.get(), column) == 1) {
        switch (PQftype(result_.get(), column)) {
            case kInt8Oid:
                return v.size() == 8 ? BigEndian<int64_t>(v.data()) : 0;
            case kInt4Oid:
                return v.size() == 4 ? BigEndian<int32_t>(v.data()) : 0;
            case kInt2Oid:
                return v.size() == 2 ? BigEndian<int16_t>(v.data()) : 0;
            default:
                return static_cast<int64_t>(Double(row, column));
        }
    }
    int64_t n = 0;
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
}

double Rows::Double(int row, int column) const {
    const std::string_view v = Text(row, column);
    if (PQfformat(result_.get(), column) == 1) {
        switch (PQftype(result_.get(), column)) {
            case kFloat8Oid:
                return v.size() == 8 ? BigEndian<double>(v.data()) : 0;
            case kFloat4Oid:
                return v.size() == 4 ? BigEndian<float>(v.data()) : 0;
            case kInt8Oid:
            case kInt4Oid:
            case kInt2Oid:
                return static_cast<double>(Int(row, column));
            default:
                return 0;
        }
    }
    double d = 0;
    std::from_chars(v.data(), v.data() + v.size(), d);
    return d;
}

bool Rows::Bool(int row, int column) const {
    if (PQfformat(result_.get(), column) == 1 && PQftype(result_.get(), column) == kBoolOid) {
        const std::string_view v = Text(row, column);
        return !v.empty() && v[0] != 0;
    }
    return Text(row, column) == "t";
}

// ---- Connection ---------------------------------------------------------------------------------

void Connection::Finish::operator()(pg_conn* c) const { PQfinish(c); }

Result<std::unique_ptr<Connection>> Connection::Open(const Options& options) {
    const std::string timeout = std::to_string(std::max<int64_t>(2, options.connect_timeout.count()));
    const std::string session =
        "-c TimeZone=UTC -c statement_timeout=" + std::to_string(options.statement_timeout.count()) +
        " -c idle_in_transaction_session_timeout=60000 -c client_min_messages=warning";
    // Later keywords override what the URL says; the URL is expanded first (expand_dbname = 1).
    const std::array<const char*, 5> keys{"dbname", "connect_timeout", "application_name", "options", nullptr};
    const std::array<const char*, 5> values{options.url.c_str(), timeout.c_str(), options.application_name.c_str(),
                                            session.c_str(), nullptr};
    std::unique_ptr<pg_conn, Finish> conn(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!conn) return Error{ErrorCode::kUnavailable, "out of memory connecting to PostgreSQL", {}};
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::string why = PQerrorMessage(conn.get());
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        spdlog::error("postgres: cannot connect to {}: {}", RedactUrl(options.url), why);
        return Error{ErrorCode::kUnavailable, "The database cannot be reached. Retry later", {}};
    }
    return std::unique_ptr<Connection>(new Connection(conn.release()));
}

Connection::~Connection() = default;

bool Connection::Healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

int Connection::BackendPid() const { return PQbackendPID(conn_.get()); }

Result<std::vector<std::string>> Connection::Notifications(std::chrono::milliseconds wait) {
    PGconn* c = conn_.get();
    std::vector<std::string> heard;
    auto drain = [&] {
        while (PGnotify* n = PQnotifies(c)) {
            heard.emplace_back(n->extra != nullptr ? n->extra : "");
            PQfreemem(n);
        }
    };
    drain();
    if (!heard.empty()) return heard;
    const int fd = PQsocket(c);
    if (fd < 0) return Error{ErrorCode::kUnavailable, "PostgreSQL: the listening connection is closed", {}};
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) return Error{ErrorCode::kUnavailable, "PostgreSQL: poll failed", {}};
    if (ready > 0) {
        if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK) {
            return Error{ErrorCode::kUnavailable, "PostgreSQL: the listening connection was lost", {}};
        }
        drain();
    }
    return heard;
}

Result<Rows> Connection::Check(pg_result* raw, std::string_view what) {
    Rows rows(raw);  // owns it from here
    const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        last_sqlstate_.clear();
        return rows;
    }
    const char* state = raw != nullptr ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate_ = state != nullptr ? state : "";
    if (last_sqlstate_ == "23505") return Error{ErrorCode::kAlreadyExists, "already exists", {}};
    std::string message = raw != nullptr ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get());
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    spdlog::error("postgres: {} failed: {} ({})", what, message,
                  last_sqlstate_.empty() ? "no SQLSTATE" : last_sqlstate_);
    // No SQLSTATE from the server means libpq lost the connection itself.
    if (last_sqlstate_.empty() || IsTransient(last_sqlstate_) || !Healthy()) return Unavailable();
    return Error{ErrorCode::kInternal, "internal error", {}};
}

Result<Rows> Connection::Exec(std::string_view sql) {
    const std::string text(sql);
    return Check(PQexec(conn_.get(), text.c_str()), "statement");
}

Result<const std::string*> Connection::Prepared(const std::string& sql) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        std::string name = "gpuopt_" + std::to_string(prepared_.size() + 1);
        auto made = Check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr), "prepare");
        if (!made) return made.error();
        it = prepared_.emplace(sql, std::move(name)).first;
    }
    return &it->second;
}

Result<Rows> Connection::Query(const std::string& sql, const Params& params) {
    auto name = Prepared(sql);
    if (!name) return name.error();
    return Check(PQexecPrepared(conn_.get(), (*name)->c_str(), params.size(), params.Values(), nullptr, nullptr, 0),
                 "query");
}

Result<Rows> Connection::QueryBinary(const std::string& sql, const Params& params) {
    auto name = Prepared(sql);
    if (!name) return name.error();
    return Check(PQexecPrepared(conn_.get(), (*name)->c_str(), params.size(), params.Values(), nullptr, nullptr, 1),
                 "query");
}

Result<Rows> Connection::QueryPlannedEachTime(const std::string& sql, const Params& params) {
    return Check(PQexecParams(conn_.get(), sql.c_str(), params.size(), nullptr, params.Values(), nullptr, nullptr, 0),
                 "query");
}

Result<std::vector<Rows>> Connection::Pipeline(const std::vector<Statement>& statements) {
    PGconn* c = conn_.get();
    // Statements not yet prepared on this connection are prepared first, each on its own (once).
    for (const Statement& s : statements) {
        if (s.plan_each_time) continue;
        if (auto name = Prepared(*s.sql); !name) return name.error();
    }
    if (PQenterPipelineMode(c) != 1) return Check(nullptr, "pipeline").error();
    size_t sent = 0;
    for (const Statement& s : statements) {
        const int n = s.params != nullptr ? s.params->size() : 0;
        const char* const* values = s.params != nullptr ? s.params->Values() : nullptr;
        const int ok = s.plan_each_time
                           ? PQsendQueryParams(c, s.sql->c_str(), n, nullptr, values, nullptr, nullptr, 0)
                           : PQsendQueryPrepared(c, prepared_.at(*s.sql).c_str(), n, values, nullptr, nullptr, 0);
        if (ok != 1) break;
        ++sent;
    }
    const bool synced = PQpipelineSync(c) == 1;
    std::vector<Rows> out;
    std::optional<Error> failure;
    if (sent < statements.size() || !synced) {
        failure = Check(nullptr, "pipeline").error();
    }
    // Each statement's result, then the end of its results (null); after all of them, the sync.
    for (size_t i = 0; i < sent && Healthy(); ++i) {
        pg_result* r = PQgetResult(c);
        if (r == nullptr) break;
        if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED || failure) {
            PQclear(r);
        } else if (auto rows = Check(r, "query"); rows) {
            out.push_back(std::move(*rows));
        } else {
            failure = rows.error();
        }
        while (pg_result* more = PQgetResult(c)) PQclear(more);
    }
    for (int nulls = 0; synced && nulls < 2 && Healthy();) {
        pg_result* r = PQgetResult(c);
        if (r == nullptr) {
            ++nulls;
            continue;
        }
        const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync) break;
    }
    if (PQexitPipelineMode(c) != 1 && !failure) failure = Check(nullptr, "pipeline").error();
    if (failure) return *failure;
    return out;
}

std::string RedactUrl(std::string_view url) {
    std::string out(url);
    const size_t scheme = out.find("://");
    if (scheme != std::string::npos) {
        const size_t at = out.find('@', scheme + 3);
        const size_t colon = out.find(':', scheme + 3);
        if (at != std::string::npos && colon != std::string::npos && colon < at) {
            out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
        const size_t end = out.find_first_of("& ", p);
        out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
    }
    return out;
}

}  // namespace gpuopt::store::postgres
