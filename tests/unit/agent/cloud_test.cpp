// Cloud detection against local fakes of the AWS (IMDSv2), GCP and Azure metadata services, and a
// black hole standing in for 169.254.169.254 on a host that is on no cloud.
#include "agent/cloud.hpp"

#include <gtest/gtest.h>

#include "support/fake_http_server.hpp"

namespace gpuopt::agent {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;

FakeResponse NotFound() { return FakeResponse{404, "not found", {{"Content-Type", "text/plain"}}}; }

// IMDSv2: a PUT for a token, then GETs that must carry it (401 without).
FakeResponse Aws(const FakeRequest& r) {
    if (!r.Header("x-forwarded-for").empty()) return FakeResponse{403, "", {}};
    if (r.method == "PUT" && r.target == "/latest/api/token") {
        if (r.Header("x-aws-ec2-metadata-token-ttl-seconds").empty()) return FakeResponse{400, "", {}};
        return FakeResponse{200, "AQAEAtoken==", {{"Content-Type", "text/plain"}}};
    }
    if (r.method != "GET") return FakeResponse{405, "", {}};
    if (r.Header("x-aws-ec2-metadata-token") != "AQAEAtoken==") return FakeResponse{401, "", {}};
    if (r.target == "/latest/meta-data/instance-type")
        return FakeResponse{200, "p4d.24xlarge", {{"Content-Type", "text/plain"}}};
    if (r.target == "/latest/meta-data/placement/region")
        return FakeResponse{200, "us-east-1", {{"Content-Type", "text/plain"}}};
    return NotFound();
}

FakeResponse Gcp(const FakeRequest& r) {
    if (r.Header("metadata-flavor") != "Google") return FakeResponse{403, "", {}};
    const std::map<std::string, std::string> flavor{{"Metadata-Flavor", "Google"},
                                                    {"Content-Type", "application/text"}};
    if (r.target == "/computeMetadata/v1/instance/machine-type")
        return FakeResponse{200, "projects/123456789012/machineTypes/a2-highgpu-1g", flavor};
    if (r.target == "/computeMetadata/v1/instance/zone")
        return FakeResponse{200, "projects/123456789012/zones/us-central1-a", flavor};
    return NotFound();
}

FakeResponse Azure(const FakeRequest& r) {
    if (r.Header("metadata") != "true") return FakeResponse{400, R"({"error":"Bad request"})", {}};
    if (r.target.find("api-version=") == std::string::npos) return FakeResponse{400, R"({"error":"Bad request"})", {}};
    if (r.target.rfind("/metadata/instance/compute", 0) == 0) {
        return FakeResponse{
            200, R"({"vmSize":"Standard_NC24ads_A100_v4","location":"eastus","zone":"1","priority":"Regular"})", {}};
    }
    return NotFound();
}

FakeResponse Hang(const FakeRequest&) { return FakeResponse{200, "", {}, true}; }

FakeResponse Missing(const FakeRequest&) { return NotFound(); }

TEST(Cloud, FindsAnAwsInstanceThroughTheTokenStep) {
    FakeHttpServer aws(Aws), none(Missing);
    auto c = DetectCloud({aws.Url(), none.Url(), none.Url(), std::chrono::milliseconds(2000)});
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->provider, "aws");
    EXPECT_EQ(c->instance_type, "p4d.24xlarge");
    EXPECT_EQ(c->region, "us-east-1");
    auto requests = aws.Requests();
    ASSERT_GE(requests.size(), 2u);
    EXPECT_EQ(requests[0].method, "PUT");
}

TEST(Cloud, FindsAGcpInstanceFromItsMachineTypeAndZone) {
    FakeHttpServer gcp(Gcp), none(Missing);
    auto c = DetectCloud({none.Url(), gcp.Url(), none.Url(), std::chrono::milliseconds(2000)});
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->provider, "gcp");
    EXPECT_EQ(c->instance_type, "a2-highgpu-1g");
    EXPECT_EQ(c->region, "us-central1");
}

TEST(Cloud, FindsAnAzureInstanceFromTheComputeDocument) {
    FakeHttpServer azure(Azure), none(Missing);
    auto c = DetectCloud({none.Url(), none.Url(), azure.Url(), std::chrono::milliseconds(2000)});
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->provider, "azure");
    EXPECT_EQ(c->instance_type, "Standard_NC24ads_A100_v4");
    EXPECT_EQ(c->region, "eastus");
}

TEST(Cloud, AServerThatIsNotAMetadataServiceIsNoCloud) {
    // A web server that answers everything with 200 and HTML: no token, no flavor header, no JSON.
    FakeHttpServer web([](const FakeRequest&) {
        return FakeResponse{200, "<html>hello</html>", {{"Content-Type", "text/html"}}};
    });
    EXPECT_FALSE(DetectCloud({web.Url(), web.Url(), web.Url(), std::chrono::milliseconds(2000)}).has_value());
}

TEST(Cloud, OnNoCloudDetectionGivesUpWithinItsBudget) {
    FakeHttpServer black_hole(Hang);
    const auto start = std::chrono::steady_clock::now();
    auto c = DetectCloud({black_hole.Url(), black_hole.Url(), black_hole.Url(), std::chrono::milliseconds(300)});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(c.has_value());
    // The budget bounds the whole detection (three services asked at once), not each request.
    EXPECT_LT(took, std::chrono::milliseconds(300 + 250));
    EXPECT_GE(black_hole.Count(), 3u);
}

}  // namespace
}  // namespace gpuopt::agent
