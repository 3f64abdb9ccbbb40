// A table of malformed and hostile requests: each gets the right 4xx in the JSON envelope and leaves
// the database exactly as it was.
#include <functional>

#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

struct Outcome {
    int status = 0;
    std::string body;
};

struct Case {
    std::string name;
    std::function<Outcome(const RunningServer&, const std::string& key)> send;
    int status;
    std::string code;
};

Outcome FromCurl(const HttpResponse& r) { return {static_cast<int>(r.status), r.body}; }

Outcome FromRaw(const std::string& raw) {
    const size_t end = raw.find("\r\n\r\n");
    return {RawStatus(raw), end == std::string::npos ? std::string() : raw.substr(end + 4)};
}

// POST /api/track-usage with a valid key and the given raw body.
Case Track(std::string name, std::string body, int status = 400, std::string code = "VALIDATION_ERROR") {
    return {std::move(name),
            [body = std::move(body)](const RunningServer& s, const std::string& key) {
                return FromCurl(PostJson(s.Url("/api/track-usage"), body, Bearer(key)));
            },
            status, std::move(code)};
}

// A report with one GPU whose `field` is replaced by the raw JSON `value` (or removed when empty).
std::string WithGpuField(const std::string& field, const std::string& value) {
    auto g = Gpu(0, 50);
    g.erase(field);
    std::string gpu = boost::json::serialize(g);
    if (!value.empty()) gpu.insert(1, "\"" + field + "\":" + value + ",");
    return R"({"gpu_data":[)" + gpu + "]}";
}

std::string WithWindow(const std::string& start, const std::string& end) {
    return R"({"window":{"start":")" + start + R"(","end":")" + end + R"("},"gpu_data":[)" +
           boost::json::serialize(Gpu(0, 50)) + "]}";
}

std::string Iso(std::chrono::system_clock::duration offset) {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

Case Raw(std::string name, std::string bytes, int status, std::string code) {
    return {std::move(name),
            [bytes = std::move(bytes)](const RunningServer& s, const std::string&) {
                return FromRaw(RawExchange(s.server->port(), bytes));
            },
            status, std::move(code)};
}

Case Signup(std::string name, std::string body, int status = 400, std::string code = "VALIDATION_ERROR") {
    return {std::move(name),
            [body = std::move(body)](const RunningServer& s, const std::string&) {
                return FromCurl(PostJson(s.Url("/api/signup"), body));
            },
            status, std::move(code)};
}

std::vector<Case> Cases() {
    using namespace std::chrono_literals;
    std::vector<Case> c;
    // Bodies that are not a report.
    c.push_back(Track("BadJson", "{"));
    c.push_back(Track("TrailingGarbage", R"({"gpu_data":[]} x)"));
    c.push_back(Track("EmptyBody", ""));
    c.push_back(Track("TopLevelArray", "[]"));
    c.push_back(Track("TopLevelString", R"("report")"));
    c.push_back(Track("MissingGpuData", R"({"report_id":"a:1"})"));
    c.push_back(Track("GpuDataNotArray", R"({"gpu_data":{"gpu_index":0}})"));
    c.push_back(Track("GpuDataEmpty", R"({"gpu_data":[]})"));
    {
        boost::json::array many;
        for (int i = 0; i < 65; ++i) many.push_back(Gpu(i, 50));
        c.push_back(Track("SixtyFiveGpus", boost::json::serialize(boost::json::object{{"gpu_data", many}})));
    }
    c.push_back(Track("GpuEntryNotObject", R"({"gpu_data":[42]})"));
    // Field types and ranges.
    c.push_back(Track("UtilAsString", WithGpuField("gpu_util", R"("50")")));
    c.push_back(Track("UtilAbove100", WithGpuField("gpu_util", "100.5")));
    c.push_back(Track("UtilNegative", WithGpuField("gpu_util", "-1")));
    c.push_back(Track("UtilNaNLiteral", WithGpuField("gpu_util", "NaN")));
    c.push_back(Track("UtilHugeNumber", WithGpuField("gpu_util", "1e999")));
    c.push_back(Track("UtilMissing", WithGpuField("gpu_util", "")));
    c.push_back(Track("MemUsedNegative", WithGpuField("mem_used", "-5")));
    c.push_back(Track("MemUsedAboveTotal", WithGpuField("mem_used", "50000")));
    c.push_back(Track("MemTotalZero",
                      R"({"gpu_data":[{"gpu_index":0,"gpu_name":"x","gpu_util":1,"mem_used":0,"mem_total":0}]})"));
    c.push_back(Track("CostAbove1000", WithGpuField("cost_per_hour", "1000.01")));
    c.push_back(Track("CostNegative", WithGpuField("cost_per_hour", "-0.01")));
    c.push_back(Track("NameTooLong", WithGpuField("gpu_name", "\"" + std::string(101, 'x') + "\"")));
    c.push_back(Track("NameMissing", WithGpuField("gpu_name", "")));
    c.push_back(Track("NameWithControlCharacter", WithGpuField("gpu_name", R"("A100\u0000")")));
    c.push_back(Track("NameInvalidUtf8", WithGpuField("gpu_name", "\"A100\xff\xfe\"")));
    c.push_back(Track("IndexNegative", WithGpuField("gpu_index", "-1")));
    c.push_back(Track("IndexFractional", WithGpuField("gpu_index", "1.5")));
    c.push_back(Track("IndexBoolean", WithGpuField("gpu_index", "true")));
    c.push_back(Track("IndexHugeInteger", WithGpuField("gpu_index", "18446744073709551615")));
    c.push_back(Track("ProcessesNotArray", WithGpuField("processes", R"("python")")));
    c.push_back(Track("DuplicateGpu", R"({"gpu_data":[)" + boost::json::serialize(Gpu(0, 50)) + "," +
                                          boost::json::serialize(Gpu(0, 60)) + "]}"));
    c.push_back(Track("DeepNesting", R"({"extra":)" + std::string(100, '[') + std::string(100, ']') +
                                         R"(,"gpu_data":[)" + boost::json::serialize(Gpu(0, 50)) + "]}"));
    // Windows and report ids.
    c.push_back(Track("WindowInTheFuture", WithWindow(Iso(24h), Iso(24h + 60s))));
    c.push_back(Track("WindowOlderThanSevenDays", WithWindow(Iso(-24h * 8), Iso(-24h * 8 + 60s))));
    c.push_back(Track("WindowEndBeforeStart", WithWindow(Iso(-60s), Iso(-120s))));
    c.push_back(Track("WindowNotATimestamp", WithWindow("yesterday", "today")));
    c.push_back(Track("ReportIdInjection", R"({"report_id":"x'; DROP TABLE accounts; --","gpu_data":[)" +
                                               boost::json::serialize(Gpu(0, 50)) + "]}"));
    c.push_back(Track("ReportIdTooLong", R"({"report_id":")" + std::string(129, 'a') + R"(","gpu_data":[)" +
                                             boost::json::serialize(Gpu(0, 50)) + "]}"));
    // Authentication.
    const std::string report = R"({"gpu_data":[)" + boost::json::serialize(Gpu(0, 50)) + "]}";
    auto track_with = [&](std::string name, std::vector<std::string> headers, std::string body) {
        return Case{std::move(name),
                    [headers = std::move(headers), body = std::move(body)](const RunningServer& s, const std::string&) {
                        return FromCurl(PostJson(s.Url("/api/track-usage"), body, headers));
                    },
                    401, "INVALID_API_KEY"};
    };
    c.push_back(track_with("NoKey", {}, report));
    c.push_back(track_with("MalformedKey", {"Authorization: Bearer gopt_short"}, report));
    c.push_back(track_with("UnknownKey", {"Authorization: Bearer gopt_AAAAAAAAAAAAAAAAAAAAAAA"}, report));
    c.push_back(track_with("BasicAuthScheme", {"Authorization: Basic dXNlcjpwYXNz"}, report));
    c.push_back(track_with("BodyKeyNotString", {}, R"({"api_key":12345,"gpu_data":[]})"));
    c.push_back(track_with("KeyWithSqlInjection", {"X-API-Key: gopt_' OR '1'='1"}, report));
    c.push_back({"MeWithUnknownKey",
                 [](const RunningServer& s, const std::string&) {
                     return FromCurl(Get(s.Url("/api/me"), Bearer("gopt_BBBBBBBBBBBBBBBBBBBBBBB")));
                 },
                 401, "INVALID_API_KEY"});
    // Content types and sizes.
    auto typed = [&](std::string name, std::vector<std::string> headers) {
        return Case{std::move(name),
                    [headers = std::move(headers), report](const RunningServer& s, const std::string& key) {
                        auto h = headers;
                        h.push_back("Authorization: Bearer " + key);
                        return FromCurl(Send({"POST", s.Url("/api/track-usage"), report, h}));
                    },
                    415, "UNSUPPORTED_MEDIA_TYPE"};
    };
    c.push_back(typed("TextPlainContentType", {"Content-Type: text/plain"}));
    c.push_back(typed("FormContentType", {"Content-Type: application/x-www-form-urlencoded"}));
    c.push_back(typed("LookalikeContentType", {"Content-Type: application/jsonx"}));
    c.push_back({"TwoMebibyteBody",
                 [](const RunningServer& s, const std::string& key) {
                     const std::string body = R"({"pad":")" + std::string(2 * 1024 * 1024, 'a') + R"("})";
                     return FromCurl(PostJson(s.Url("/api/track-usage"), body, Bearer(key)));
                 },
                 413, "PAYLOAD_TOO_LARGE"});
    c.push_back(Raw("ChunkedBodyOverLimit",
                    "POST /api/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n200000\r\n" +
                        std::string(0x200000, 'a') + "\r\n0\r\n\r\n",
                    413, "PAYLOAD_TOO_LARGE"));
    // Routing.
    c.push_back({"UnknownApiRoute",
                 [](const RunningServer& s, const std::string&) { return FromCurl(Get(s.Url("/api/nope"))); }, 404,
                 "NOT_FOUND"});
    c.push_back({"DeleteSignup",
                 [](const RunningServer& s, const std::string&) {
                     return FromCurl(Send({"DELETE", s.Url("/api/signup"), "", {}}));
                 },
                 405, "METHOD_NOT_ALLOWED"});
    c.push_back({"GetTrackUsage",
                 [](const RunningServer& s, const std::string&) { return FromCurl(Get(s.Url("/api/track-usage"))); },
                 405, "METHOD_NOT_ALLOWED"});
    c.push_back(Raw("PathTraversal", "GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"));
    c.push_back(
        Raw("EncodedPathTraversal", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"));
    c.push_back(Raw("HiddenFile", "GET /.gitignore HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"));
    c.push_back(Raw("BackslashTraversal", "GET /..%5c..%5cetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404, "NOT_FOUND"));
    // Sign-up input.
    c.push_back(Signup("SignupInvalidEmail", R"({"email":"not-an-email"})"));
    c.push_back(Signup("SignupEmailTooLong", R"({"email":")" + std::string(250, 'a') + R"(@example.com"})"));
    c.push_back(Signup("SignupEmailNotString", R"({"email":12})"));
    c.push_back(Signup("SignupEmailMissing", R"({})"));
    c.push_back(Signup("SignupEmailWithNewline", R"({"email":"a@example.com\r\nBcc: victim@example.com"})"));
    c.push_back(Signup("SignupUnknownTier", R"({"email":"t1@example.com","tier":"gold"})"));
    c.push_back(Signup("SignupPaidTierWithoutGateway", R"({"email":"t2@example.com","tier":"professional"})"));
    c.push_back(Signup("SignupUnknownPaymentMethod", R"({"email":"t3@example.com","payment_method":"paypal"})"));
    // HTTP-level abuse.
    c.push_back(Raw("HugeHeader",
                    "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Fill: " + std::string(16 * 1024, 'a') + "\r\n\r\n", 431,
                    "HEADERS_TOO_LARGE"));
    c.push_back(Raw(
        "ManyHeaders",
        [] {
            std::string r = "GET /api/health HTTP/1.1\r\nHost: x\r\n";
            for (int i = 0; i < 1000; ++i) r += "X-H" + std::to_string(i) + ": v\r\n";
            return r + "\r\n";
        }(),
        431, "HEADERS_TOO_LARGE"));
    c.push_back(Raw("GarbageRequestLine", "GARBAGE\r\n\r\n", 400, "VALIDATION_ERROR"));
    c.push_back(Raw("HeaderWithoutColon", "GET /api/health HTTP/1.1\r\nHost x\r\n\r\n", 400, "VALIDATION_ERROR"));
    c.push_back(
        Raw("NonNumericContentLength",
            "POST /api/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}",
            400, "VALIDATION_ERROR"));
    c.push_back(Raw("AbsoluteFormTarget", "GET http://evil.example/api/health HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                    "VALIDATION_ERROR"));
    c.push_back(Raw("BadHttpVersion", "GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n", 400, "VALIDATION_ERROR"));
    return c;
}

class Hostile : public ::testing::TestWithParam<Case> {
protected:
    static void SetUpTestSuite() {
        server_ = new RunningServer(
            Env{{"RATE_LIMIT_FREE", "0"}, {"SIGNUP_RATE_LIMIT", "0"}, {"MAIL_INTERVAL_SECONDS", "1"}});
        key_ = new std::string(server_->Signup("victim@example.com"));
        // The welcome mail's delivery changes its row: the snapshot is taken once it is settled.
        EXPECT_TRUE(WaitFor(
            [] { return CountRows(server_->DbPath(), "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == 0; },
            std::chrono::seconds(30)));
        snapshot_ = new std::string(DatabaseSnapshot(server_->DbPath()));
    }
    static void TearDownTestSuite() {
        delete server_;
        delete key_;
        delete snapshot_;
    }
    static RunningServer* server_;
    static std::string* key_;
    static std::string* snapshot_;
};
RunningServer* Hostile::server_ = nullptr;
std::string* Hostile::key_ = nullptr;
std::string* Hostile::snapshot_ = nullptr;

TEST_P(Hostile, IsRejectedWithTheEnvelopeAndChangesNothing) {
    const Case& c = GetParam();
    const Outcome out = c.send(*server_, *key_);
    EXPECT_EQ(out.status, c.status) << out.body;
    boost::system::error_code ec;
    auto v = boost::json::parse(out.body, ec);
    ASSERT_FALSE(ec) << "not JSON: " << out.body;
    EXPECT_EQ(v.at("status"), "error");
    EXPECT_EQ(v.at("code"), c.code.c_str()) << out.body;
    EXPECT_FALSE(v.at("message").as_string().empty());
    if (c.code == "VALIDATION_ERROR" && out.body.find("\"details\"") == std::string::npos) {
        ADD_FAILURE() << "validation errors name the field: " << out.body;
    }
    EXPECT_EQ(DatabaseSnapshot(server_->DbPath()), *snapshot_);
    // The server is still healthy afterwards.
    EXPECT_EQ(Get(server_->Url("/api/health")).status, 200);
}

TEST(HostileTable, HasAtLeastFortyCases) { EXPECT_GE(Cases().size(), 40u); }

INSTANTIATE_TEST_SUITE_P(Requests, Hostile, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& param) { return param.param.name; });

}  // namespace
}  // namespace gpuopt::testing
