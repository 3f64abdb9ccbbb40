#include "http/error_response.hpp"

#include "common/json.hpp"

namespace gpuopt::http {

bhttp::status StatusFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kValidation:
            return bhttp::status::bad_request;
        case ErrorCode::kInvalidApiKey:
        case ErrorCode::kUnauthenticated:
            return bhttp::status::unauthorized;
        case ErrorCode::kForbidden:
            return bhttp::status::forbidden;
        case ErrorCode::kTierLimitExceeded:
            return bhttp::status::forbidden;
        case ErrorCode::kNotFound:
            return bhttp::status::not_found;
        case ErrorCode::kMethodNotAllowed:
            return bhttp::status::method_not_allowed;
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kConflict:
            return bhttp::status::conflict;
        case ErrorCode::kPayloadTooLarge:
            return bhttp::status::payload_too_large;
        case ErrorCode::kUnsupportedMediaType:
            return bhttp::status::unsupported_media_type;
        case ErrorCode::kHeadersTooLarge:
            return bhttp::status::request_header_fields_too_large;
        case ErrorCode::kRateLimited:
            return bhttp::status::too_many_requests;
        case ErrorCode::kInternal:
            return bhttp::status::internal_server_error;
        case ErrorCode::kPaymentFailed:
            return bhttp::status::bad_gateway;
        case ErrorCode::kUnavailable:
            return bhttp::status::service_unavailable;
    }
    return bhttp::status::internal_server_error;
}

std::string_view WireCode(ErrorCode code) {
    switch (code) {
        case ErrorCode::kValidation:
            return "VALIDATION_ERROR";
        case ErrorCode::kInvalidApiKey:
            return "INVALID_API_KEY";
        case ErrorCode::kUnauthenticated:
            return "UNAUTHENTICATED";
        case ErrorCode::kForbidden:
            return "FORBIDDEN";
        case ErrorCode::kTierLimitExceeded:
            return "TIER_LIMIT_EXCEEDED";
        case ErrorCode::kNotFound:
            return "NOT_FOUND";
        case ErrorCode::kMethodNotAllowed:
            return "METHOD_NOT_ALLOWED";
        case ErrorCode::kAlreadyExists:
            return "ALREADY_EXISTS";
        case ErrorCode::kConflict:
            return "CONFLICT";
        case ErrorCode::kPayloadTooLarge:
            return "PAYLOAD_TOO_LARGE";
        case ErrorCode::kUnsupportedMediaType:
            return "UNSUPPORTED_MEDIA_TYPE";
        case ErrorCode::kHeadersTooLarge:
            return "HEADERS_TOO_LARGE";
        case ErrorCode::kRateLimited:
            return "RATE_LIMITED";
        case ErrorCode::kInternal:
            return "INTERNAL";
        case ErrorCode::kPaymentFailed:
            return "PAYMENT_FAILED";
        case ErrorCode::kUnavailable:
            return "UNAVAILABLE";
    }
    return "INTERNAL";
}

Response JsonResponse(bhttp::status status, const boost::json::object& body, unsigned version) {
    Response res{status, version};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = ToJson(body);
    res.prepare_payload();
    return res;
}

Response ErrorResponse(const Error& error, unsigned version) {
    boost::json::object body;
    body["status"] = "error";
    body["message"] = error.message.empty() ? std::string("Request failed") : error.message;
    body["code"] = WireCode(error.code);
    if (!error.details.empty()) {
        boost::json::object details;
        for (const auto& [field, what] : error.details) details[field] = what;
        body["details"] = std::move(details);
    }
    auto res = JsonResponse(StatusFor(error.code), body, version);
    // 503 means "nothing was changed, try again": say when.
    if (error.code == ErrorCode::kUnavailable)
        res.set(bhttp::field::retry_after, std::to_string(kUnavailableRetryAfterSeconds));
    return res;
}

}  // namespace gpuopt::http
