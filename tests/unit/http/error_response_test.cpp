#include "http/error_response.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace gpuopt::http {
namespace {

TEST(ErrorResponse, MapsEveryCodeToItsStatusAndWireName) {
    const std::vector<std::tuple<ErrorCode, int, std::string>> table = {
        {ErrorCode::kValidation, 400, "VALIDATION_ERROR"},
        {ErrorCode::kInvalidApiKey, 401, "INVALID_API_KEY"},
        {ErrorCode::kForbidden, 403, "FORBIDDEN"},
        {ErrorCode::kTierLimitExceeded, 403, "TIER_LIMIT_EXCEEDED"},
        {ErrorCode::kNotFound, 404, "NOT_FOUND"},
        {ErrorCode::kMethodNotAllowed, 405, "METHOD_NOT_ALLOWED"},
        {ErrorCode::kAlreadyExists, 409, "ALREADY_EXISTS"},
        {ErrorCode::kConflict, 409, "CONFLICT"},
        {ErrorCode::kPayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"},
        {ErrorCode::kUnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"},
        {ErrorCode::kHeadersTooLarge, 431, "HEADERS_TOO_LARGE"},
        {ErrorCode::kRateLimited, 429, "RATE_LIMITED"},
        {ErrorCode::kInternal, 500, "INTERNAL"},
        {ErrorCode::kPaymentFailed, 502, "PAYMENT_FAILED"},
        {ErrorCode::kUnavailable, 503, "UNAVAILABLE"},
    };
    for (const auto& [code, status, wire] : table) {
        auto res = ErrorResponse({code, "m", {}});
        EXPECT_EQ(res.result_int(), static_cast<unsigned>(status)) << wire;
        auto v = boost::json::parse(res.body());
        EXPECT_EQ(v.at("code"), wire.c_str());
        EXPECT_EQ(v.at("status"), "error");
        EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    }
}

TEST(ErrorResponse, ValidationErrorsCarryDetails) {
    auto res = ErrorResponse(Error::Validation("gpu_data[0].gpu_util", "must be between 0 and 100"));
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("details").at("gpu_data[0].gpu_util"), "must be between 0 and 100");
}

}  // namespace
}  // namespace gpuopt::http
