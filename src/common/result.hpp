// Result<T>: the return type of every expected failure (validation, not found, conflict, store errors).
// Exceptions are kept for broken invariants only; see docs/decisions/0003-errors.md.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <variant>

namespace gpuopt {

// The closed set of failures a client can be told about. http/error_response.cpp maps each one to a
// status code and the wire code of the JSON envelope (SPEC §4).
enum class ErrorCode {
    kValidation,            // 400 VALIDATION_ERROR
    kInvalidApiKey,         // 401 INVALID_API_KEY
    kUnauthenticated,       // 401 UNAUTHENTICATED (an operator sign-in or session)
    kForbidden,             // 403 FORBIDDEN
    kTierLimitExceeded,     // 403 TIER_LIMIT_EXCEEDED
    kNotFound,              // 404 NOT_FOUND
    kMethodNotAllowed,      // 405 METHOD_NOT_ALLOWED
    kAlreadyExists,         // 409 ALREADY_EXISTS
    kConflict,              // 409 CONFLICT (the thing is not in a state the action applies to)
    kPayloadTooLarge,       // 413 PAYLOAD_TOO_LARGE
    kUnsupportedMediaType,  // 415 UNSUPPORTED_MEDIA_TYPE
    kHeadersTooLarge,       // 431 HEADERS_TOO_LARGE
    kRateLimited,           // 429 RATE_LIMITED
    kInternal,              // 500 INTERNAL
    kPaymentFailed,         // 502 PAYMENT_FAILED
    kUnavailable,           // 503 UNAVAILABLE
};

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;                         // safe to show a client
    std::map<std::string, std::string> details;  // field -> what is wrong (validation errors)

    static Error Validation(std::string field, std::string what) {
        Error e{ErrorCode::kValidation, "Invalid request", {}};
        e.details.emplace(std::move(field), std::move(what));
        return e;
    }
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T value() && { return std::get<0>(std::move(v_)); }  // by value: safe in range-for over a temporary
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

}  // namespace gpuopt
