#include "api/report_parser.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace gpuopt::api {
namespace {

using namespace std::chrono;
const SysSeconds kNow = sys_days{2026y / 11 / 25} + 10h + 1min;

Result<store::UsageReport> Parse(const std::string& text) {
    return ParseUsageReport(boost::json::parse(text).as_object(), ReportRules{}, kNow);
}

std::string FieldOf(const Result<store::UsageReport>& r) { return r.ok() ? "" : r.error().details.begin()->first; }

TEST(ReportParser, AcceptsThePrototypesMinimalForm) {
    auto r = Parse(R"({"api_key":"gopt_x","gpu_data":[
        {"gpu_index":0,"gpu_name":"Tesla V100","gpu_util":85.5,"mem_used":12000,"mem_total":16384,"temperature":70},
        {"gpu_index":1,"gpu_name":"Tesla V100","gpu_util":10,"mem_used":500,"mem_total":16384,"cost_per_hour":2.5}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    ASSERT_EQ(r->gpus.size(), 2u);
    EXPECT_FALSE(r->report_id.has_value());
    EXPECT_DOUBLE_EQ(r->gpus[0].cost_per_hour, 3.06);  // the default
    EXPECT_DOUBLE_EQ(r->gpus[1].cost_per_hour, 2.5);
    EXPECT_EQ(r->gpus[0].temperature_c, 70);
    EXPECT_EQ(r->gpus[0].gpu_key, "/index:0");
    EXPECT_EQ(r->window_end, kNow);
    EXPECT_EQ(r->window_end - r->window_start, seconds(60));
    EXPECT_EQ(r->gpus[0].processes_json, "[]");
}

TEST(ReportParser, WindowsKeepTheirMillisecondsAndTheWindowlessFormIsMarked) {
    auto r = Parse(R"({"agent":{"id":"fast","hostname":"fast"},
     "window":{"start":"2026-11-25T10:00:00.100Z","end":"2026-11-25T10:00:00.200Z","samples":2},
     "gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    EXPECT_EQ(r->window_end_ms - r->window_start_ms, milliseconds(100));
    EXPECT_FALSE(r->implicit_window);
    EXPECT_FALSE(r->host_from_address);
    auto proto = ParseUsageReport(
        boost::json::parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2}]})")
            .as_object(),
        ReportRules{}, kNow, "203.0.113.5");
    ASSERT_TRUE(proto.ok());
    EXPECT_TRUE(proto->implicit_window);
    EXPECT_TRUE(proto->host_from_address);
    EXPECT_EQ(proto->hostname, "203.0.113.5");
    EXPECT_EQ(proto->gpus[0].gpu_key, "203.0.113.5/index:0");  // two such machines are two hosts
}

TEST(ReportParser, ReadsTheFullReport) {
    auto r =
        Parse(R"({"report_id":"host-7f3a:000412","agent":{"id":"host-7f3a","hostname":"trainer-1","version":"1.0.0",
      "cloud":{"provider":"aws","instance_type":"p4d.24xlarge","region":"us-east-1"}},
     "window":{"start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:01:00Z","samples":6},
     "gpu_data":[{"gpu_index":0,"uuid":"GPU-8d1c","gpu_name":"NVIDIA A100-SXM4-40GB","gpu_util":3.5,
       "util_max":9.0,"idle_fraction":1.0,"mem_used":1200,"mem_total":40960,"temperature":34,
       "power_w":55.1,"power_limit_w":400,"cost_per_hour":2.74,
       "processes":[{"pid":4121,"name":"python","used_mem":1100}]}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    EXPECT_EQ(r->report_id, "host-7f3a:000412");
    EXPECT_EQ(r->hostname, "trainer-1");
    EXPECT_EQ(r->samples, 6);
    EXPECT_EQ(FormatUtc(r->window_start), "2026-11-25T10:00:00Z");
    EXPECT_EQ(r->cloud_json, R"({"provider":"aws","instance_type":"p4d.24xlarge","region":"us-east-1"})");
    const auto& g = r->gpus[0];
    EXPECT_EQ(g.gpu_key, "trainer-1/GPU-8d1c");
    EXPECT_EQ(g.util_max, 9.0);
    EXPECT_EQ(g.idle_fraction, 1.0);
    EXPECT_EQ(g.power_limit_w, 400);
    EXPECT_EQ(g.processes_json, R"([{"pid":4121,"name":"python","used_mem":1100}])");
}

TEST(ReportParser, KeepsWhoRunsEachProcessAndNothingElse) {
    auto r = Parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2,
       "processes":[{"pid":7,"name":"python","used_mem":1,"uid":1000,"user":"alice","container":"3f2a9c1b7d0e",
       "pod":"train-0","namespace":"research","cmdline":"python train.py --lr 3e-4","env":"SECRET=1"}]}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    EXPECT_EQ(r->gpus[0].processes_json,
              R"([{"pid":7,"name":"python","used_mem":1,"uid":1000,"user":"alice","container":"3f2a9c1b7d0e",)"
              R"("pod":"train-0","namespace":"research","cmdline":"python train.py --lr 3e-4"}])");
    for (const char* bad :
         {R"("user":7)", R"("namespace":"this-namespace-name-is-far-longer-than-the-sixty-three-characters-allowed")",
          R"("uid":-1)"}) {
        auto refused = Parse(std::string(R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,)") +
                             R"("mem_total":2,"processes":[{"pid":7,)" + bad + "}]}]}");
        EXPECT_FALSE(refused.ok()) << bad;
    }
}

TEST(ReportParser, ReadsWhatTheAgentAddsAndWindowsUpToAWeekOld) {
    auto r = Parse(R"({"report_id":"h-1:000001","agent":{"id":"h-1","hostname":"h","version":"0.1.0","source":"nvml"},
     "window":{"start":"2026-11-19T10:00:00Z","end":"2026-11-19T10:01:00Z","samples":6},
     "gpu_data":[{"gpu_index":0,"uuid":"GPU-1","gpu_name":"NVIDIA L4","gpu_util":4,"idle_fraction":0.5,
       "idle_held_fraction":0.5,"mem_util":2.5,"sm_clock_mhz":2040,"mem_used":9000,"mem_total":23034}],
     "lost_gpus":[{"gpu_index":1,"error":"GPU is lost"}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    EXPECT_EQ(r->gpus[0].idle_held_fraction, 0.5);
    EXPECT_EQ(r->gpus[0].mem_util, 2.5);
    EXPECT_EQ(r->gpus[0].sm_clock_mhz, 2040);
    EXPECT_EQ(FormatUtc(r->window_start), "2026-11-19T10:00:00Z");  // a spooled report, replayed days later
}

TEST(ReportParser, KeepsWhatTheGpuSaysOfItselfAsCheckedJson) {
    auto r = Parse(R"({"agent":{"id":"h","hostname":"h","driver_version":"550.54.15","junk":1},
     "window":{"start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:01:00Z","samples":6},
     "gpu_data":[{"gpu_index":0,"uuid":"MIG-b","gpu_name":"NVIDIA H100 80GB HBM3 MIG 3g.40gb","gpu_util":20,
       "mem_used":9000,"mem_total":40192,"sm_active":12.5,"gr_engine_active":20,"mem_clock_mhz":2619,
       "energy_mj":123456,"energy_j":2.5,"pci_bus_id":"00000000:19:00.0","minor_number":3,"xid_errors":2,
       "xid_last":79,"mig":{"parent_uuid":"GPU-p","gpu_instance_id":2,"profile":"3g.40gb","fraction":0.4286,"x":1},
       "unknown":"dropped"},
      {"gpu_index":1,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2}]})");
    ASSERT_TRUE(r.ok()) << r.error().details.begin()->second;
    auto t = boost::json::parse(r->gpus[0].telemetry_json).as_object();
    // SM activity is analysed (right-sizing), so it is a figure of the window, not telemetry.
    EXPECT_EQ(r->gpus[0].sm_active, 12.5);
    EXPECT_FALSE(t.contains("sm_active"));
    EXPECT_FALSE(r->gpus[1].sm_active);
    EXPECT_EQ(t.at("gr_engine_active").to_number<double>(), 20);
    EXPECT_EQ(t.at("mem_clock_mhz").to_number<double>(), 2619);
    EXPECT_EQ(t.at("energy_mj").to_number<double>(), 123456);
    EXPECT_EQ(t.at("energy_j").to_number<double>(), 2.5);
    EXPECT_EQ(t.at("pci_bus_id"), "00000000:19:00.0");
    EXPECT_EQ(t.at("minor_number"), 3);
    EXPECT_EQ(t.at("xid_errors"), 2);
    EXPECT_EQ(t.at("xid_last"), 79);
    EXPECT_EQ(t.at("driver_version"), "550.54.15");
    EXPECT_EQ(t.at("mig").as_object().size(), 4u);  // only the known fields
    EXPECT_EQ(t.at("mig").at("profile"), "3g.40gb");
    EXPECT_EQ(t.size(), 10u);
    // The driver version is all the second GPU has; none at all leaves the column empty.
    EXPECT_EQ(r->gpus[1].telemetry_json, R"({"driver_version":"550.54.15"})");
    auto bare = Parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2}]})");
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->gpus[0].telemetry_json, "");
}

TEST(ReportParser, RejectsBadGpuTelemetryNamingTheField) {
    const std::string head = R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":1,"mem_used":1,"mem_total":2,)";
    for (auto [body, field] : {std::pair{R"("sm_active":101)", "gpu_data[0].sm_active"},
                               {R"("gr_engine_active":-1)", "gpu_data[0].gr_engine_active"},
                               {R"("energy_j":"lots")", "gpu_data[0].energy_j"},
                               {R"("pci_bus_id":"00:07.0; DROP")", "gpu_data[0].pci_bus_id"},
                               {R"("minor_number":1.5)", "gpu_data[0].minor_number"},
                               {R"("xid_last":79)", "gpu_data[0].xid_last"},
                               {R"("mig":{"gpu_instance_id":1,"fraction":0.5})", "gpu_data[0].mig.parent_uuid"},
                               {R"("mig":{"parent_uuid":"GPU-p","fraction":0})", "gpu_data[0].mig.fraction"},
                               {R"("mig":[])", "gpu_data[0].mig"}}) {
        auto r = Parse(head + body + "}]}");
        EXPECT_EQ(FieldOf(r), field) << body;
    }
    auto r = Parse(R"({"agent":{"driver_version":"550\n54"},"gpu_data":[]})");
    EXPECT_EQ(FieldOf(r), "agent.driver_version");
}

TEST(ReportParser, RejectsAgentStatisticsOutOfRange) {
    const std::string head = R"({"gpu_data":[{"gpu_index":0,"gpu_name":"L4","gpu_util":4,"mem_used":1,"mem_total":2,)";
    EXPECT_EQ(FieldOf(Parse(head + R"("idle_fraction":0.2,"idle_held_fraction":0.5}]})")),
              "gpu_data[0].idle_held_fraction");
    EXPECT_EQ(FieldOf(Parse(head + R"("idle_held_fraction":0.5}]})")), "gpu_data[0].idle_held_fraction");
    EXPECT_EQ(FieldOf(Parse(head + R"("mem_util":101}]})")), "gpu_data[0].mem_util");
    EXPECT_EQ(FieldOf(Parse(head + R"("sm_clock_mhz":-1}]})")), "gpu_data[0].sm_clock_mhz");
    EXPECT_EQ(
        FieldOf(Parse(R"({"window":{"start":"2026-11-18T09:00:00Z","end":"2026-11-18T09:01:00Z"},"gpu_data":[]})")),
        "window.start");  // more than 7 days back
    EXPECT_EQ(
        FieldOf(Parse(R"({"window":{"start":"2026-11-25T10:05:00Z","end":"2026-11-25T10:07:00Z"},"gpu_data":[]})")),
        "window.end");  // beyond the tolerated clock skew
}

TEST(ReportParser, NullMeansNotMeasured) {
    auto r = Parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2,
        "temperature":null,"power_w":null,"cost_per_hour":null}]})");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->gpus[0].temperature_c.has_value());
    EXPECT_DOUBLE_EQ(r->gpus[0].cost_per_hour, 3.06);
}

TEST(ReportParser, NamesTheFirstBadField) {
    const std::string ok_gpu = R"({"gpu_index":0,"gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2})";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({})", "gpu_data"},
        {R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":101,"mem_used":1,"mem_total":2}]})",
         "gpu_data[0].gpu_util"},
        {R"({"gpu_data":[)" + ok_gpu + R"(,{"gpu_index":1,"gpu_name":"T4","gpu_util":5,"mem_used":3,"mem_total":2}]})",
         "gpu_data[1].mem_used"},
        {R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"util_max":4,"mem_used":1,"mem_total":2}]})",
         "gpu_data[0].util_max"},
        {R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"idle_fraction":1.5,"mem_used":1,"mem_total":2}]})",
         "gpu_data[0].idle_fraction"},
        {R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2,"processes":[{"name":"x"}]}]})",
         "gpu_data[0].processes[0].pid"},
        {R"({"gpu_data":[{"gpu_index":0,"gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2,"power_w":9000}]})",
         "gpu_data[0].power_w"},
        {R"({"agent":"x","gpu_data":[)" + ok_gpu + "]}", "agent"},
        {R"({"agent":{"hostname":7},"gpu_data":[)" + ok_gpu + "]}", "agent.hostname"},
        {R"({"window":{"start":"2026-11-25T10:00:00Z"},"gpu_data":[)" + ok_gpu + "]}", "window.end"},
        {R"({"window":{"start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:07:00Z"},"gpu_data":[)" + ok_gpu + "]}",
         "window.end"},  // more than 5 minutes ahead of kNow
        {R"({"window":{"start":"2026-11-17T10:00:00Z","end":"2026-11-17T10:01:00Z"},"gpu_data":[)" + ok_gpu + "]}",
         "window.start"},
        {R"({"window":{"start":"2026-11-24T09:00:00Z","end":"2026-11-25T10:00:00Z"},"gpu_data":[)" + ok_gpu + "]}",
         "window"},
        {R"({"window":{"start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:01:00Z","samples":0},"gpu_data":[)" +
             ok_gpu + "]}",
         "window.samples"},
        {R"({"report_id":"","gpu_data":[)" + ok_gpu + "]}", "report_id"},
        {R"({"report_id":"a b","gpu_data":[)" + ok_gpu + "]}", "report_id"},
    };
    for (const auto& [text, field] : cases) {
        auto r = Parse(text);
        EXPECT_FALSE(r.ok()) << text;
        EXPECT_EQ(FieldOf(r), field) << text;
    }
}

TEST(ReportParser, GpusAreDistinctByUuidElseIndexPerHost) {
    auto same_index_other_uuid = Parse(R"({"gpu_data":[
        {"gpu_index":0,"uuid":"GPU-a","gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2},
        {"gpu_index":0,"uuid":"GPU-b","gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2}]})");
    EXPECT_TRUE(same_index_other_uuid.ok());
    auto same_uuid = Parse(R"({"gpu_data":[
        {"gpu_index":0,"uuid":"GPU-a","gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2},
        {"gpu_index":1,"uuid":"GPU-a","gpu_name":"T4","gpu_util":5,"mem_used":1,"mem_total":2}]})");
    EXPECT_EQ(FieldOf(same_uuid), "gpu_data[1]");
}

TEST(ReportParser, CountsNameLengthInCharactersNotBytes) {
    const std::string name(100, 'x');
    std::string utf8;
    for (int i = 0; i < 100; ++i) utf8 += "\xc3\xa9";  // é, two bytes each
    for (const auto& n : {name, utf8}) {
        auto r = Parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":")" + n +
                       R"(","gpu_util":5,"mem_used":1,"mem_total":2}]})");
        EXPECT_TRUE(r.ok());
    }
    auto r = Parse(R"({"gpu_data":[{"gpu_index":0,"gpu_name":")" + name +
                   R"(y","gpu_util":5,"mem_used":1,"mem_total":2}]})");
    EXPECT_EQ(FieldOf(r), "gpu_data[0].gpu_name");
}

TEST(ReportParser, AcceptsSixtyFourGpusAndNoMore) {
    auto make = [](int n) {
        boost::json::array a;
        for (int i = 0; i < n; ++i) {
            a.push_back({{"gpu_index", i}, {"gpu_name", "T4"}, {"gpu_util", 1}, {"mem_used", 1}, {"mem_total", 2}});
        }
        return boost::json::serialize(boost::json::object{{"gpu_data", a}});
    };
    EXPECT_TRUE(Parse(make(64)).ok());
    EXPECT_EQ(FieldOf(Parse(make(65))), "gpu_data");
}

}  // namespace
}  // namespace gpuopt::api
