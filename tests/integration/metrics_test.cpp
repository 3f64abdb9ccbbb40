// /metrics as dashboards built for dcgm-exporter read it: its metric names and label names (plus customer),
// the GPM, energy, clock and XID fields agents now send, MIG instances, series kept apart across hosts and
// customers; the Grafana dashboard in deploy/ asks only for series /metrics produces, in PromQL that parses;
// and promtool finds nothing beyond dcgm-exporter's own camelCase label name.
#include <boost/json.hpp>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "common/time.hpp"
#include "integration/fixture.hpp"

namespace gpuopt::testing {
namespace {

boost::json::object Gpu(const std::string& uuid, const std::string& name) {
    return {{"gpu_index", 0},     {"uuid", uuid},          {"gpu_name", name},           {"gpu_util", 42},
            {"util_max", 80},     {"idle_fraction", 0.25}, {"idle_held_fraction", 0.25}, {"mem_used", 30000},
            {"mem_total", 81559}, {"power_w", 310.5},      {"power_limit_w", 700},       {"sm_clock_mhz", 1980},
            {"temperature", 51},  {"cost_per_hour", 6.88}};
}

std::string Report(const std::string& id, const std::string& host, boost::json::array gpus) {
    const auto end = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    boost::json::object body{
        {"report_id", id},
        {"agent", {{"id", host}, {"hostname", host}, {"version", "test"}, {"driver_version", "550.54.15"}}},
        {"window", {{"start", FormatUtc(end - std::chrono::seconds(60))}, {"end", FormatUtc(end)}, {"samples", 6}}},
        {"gpu_data", std::move(gpus)}};
    return boost::json::serialize(body);
}

// A fleet (two GPUs each, the free plan's limit): customer A's host with a whole H100 (every newer field)
// and a MIG instance of another; customer B with two hosts, one of the same name as A's, each with a GPU of
// the same UUID as A's (series must stay apart by host and by customer).
std::string PostFleet(RunningServer& server) {
    const std::string a = server.Signup("metrics-a@example.com");
    const std::string b = server.Signup("metrics-b@example.com");
    auto full = Gpu("GPU-h100", "NVIDIA H100 80GB HBM3");
    full["sm_active"] = 40;
    full["gr_engine_active"] = 55.5;
    full["mem_clock_mhz"] = 2619;
    full["energy_mj"] = 123456789;
    full["energy_j"] = 18630.5;
    full["pci_bus_id"] = "00000000:19:00.0";
    full["minor_number"] = 3;
    full["xid_errors"] = 2;
    full["xid_last"] = 79;
    auto mig = Gpu("MIG-3g", "NVIDIA H100 80GB HBM3 MIG 3g.40gb");
    mig["gpu_index"] = 1;
    mig["mem_total"] = 40192;
    mig["cost_per_hour"] = 2.948571;
    mig["sm_active"] = 61;
    mig["pci_bus_id"] = "00000000:2A:00.0";
    mig["minor_number"] = 1;
    mig["mig"] = {{"parent_uuid", "GPU-parent"}, {"gpu_instance_id", 2}, {"profile", "3g.40gb"}, {"fraction", 0.4286}};
    for (const auto& [key, body] : {std::pair{a, Report("ma:1", "node-1", {full, mig})},
                                    {b, Report("mb:1", "node-1", {Gpu("GPU-h100", "NVIDIA H100 80GB HBM3")})},
                                    {b, Report("mb:2", "node-2", {Gpu("GPU-h100", "NVIDIA H100 80GB HBM3")})}}) {
        auto res = PostJson(server.Url("/api/track-usage"), body, Bearer(key));
        EXPECT_EQ(res.status, 200) << res.body;
    }
    auto res = Get(server.Url("/metrics"));
    EXPECT_EQ(res.status, 200) << res.body;
    return res.body;
}

// Each series of `metric`: its label text ({...}) and value.
std::map<std::string, std::string> Series(const std::string& text, const std::string& metric) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(metric + "{", 0) != 0) continue;
        const size_t close = line.rfind("} ");
        out[line.substr(metric.size(), close + 1 - metric.size())] = line.substr(close + 2);
    }
    return out;
}

bool IdentChar(char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// The identifiers of a text (metric and label names, functions, keywords), each with what follows it.
std::vector<std::pair<std::string, std::string>> Identifiers(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t i = 0;
    bool in_string = false;
    while (i < text.size()) {
        if (text[i] == '"') {
            in_string = !in_string;
            ++i;
            continue;
        }
        if (in_string || !IdentChar(text[i], true) || (i > 0 && IdentChar(text[i - 1], false))) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && IdentChar(text[j], false)) ++j;
        size_t k = j;
        while (k < text.size() && text[k] == ' ') ++k;
        out.emplace_back(text.substr(i, j - i), text.substr(k));
        i = j;
    }
    return out;
}

// The label names of a series' label text {a="1",b="2"}.
std::set<std::string> LabelNames(const std::string& labels) {
    std::set<std::string> out;
    for (const auto& [name, rest] : Identifiers(labels)) {
        if (rest.rfind("=\"", 0) == 0) out.insert(name);
    }
    return out;
}

std::string CustomerOf(const std::string& labels) {
    const size_t at = labels.find("customer=\"");
    if (at == std::string::npos) return "";
    const size_t start = at + 10;
    return labels.substr(start, labels.find('"', start) - start);
}

// Grafana's variables as Prometheus sees them once substituted.
std::string Substituted(std::string q) {
    for (size_t at = q.find('$'); at != std::string::npos; at = q.find('$', at)) {
        size_t end = at + 1;
        while (end < q.size() && IdentChar(q[end], false)) ++end;
        const std::string name = q.substr(at, end - at);
        const std::string value = name == "$__rate_interval" ? "5m" : ".*";
        q.replace(at, end - at, value);
        at += value.size();
    }
    return q;
}

TEST(Metrics, GpuSeriesCarryDcgmExporterLabelsAndTheNewerFields) {
    RunningServer server;
    const std::string text = PostFleet(server);
    const auto util = Series(text, "DCGM_FI_DEV_GPU_UTIL");
    ASSERT_EQ(util.size(), 4u) << text;  // four series: nothing merged across hosts or customers
    std::string full_labels;
    for (const auto& [labels, value] : util) {
        EXPECT_EQ(value, "42");
        if (labels.find("device=\"nvidia3\"") != std::string::npos) full_labels = labels;
    }
    ASSERT_FALSE(full_labels.empty()) << text;
    const std::string a = CustomerOf(full_labels);
    EXPECT_EQ(full_labels,
              "{gpu=\"0\",UUID=\"GPU-h100\",pci_bus_id=\"00000000:19:00.0\",device=\"nvidia3\",modelName=\"NVIDIA H100 "
              "80GB HBM3\",Hostname=\"node-1\",DCGM_FI_DRIVER_VERSION=\"550.54.15\",customer=\"" +
                  a + "\"}");
    // GPM percent becomes DCGM's ratio; the energy counter, clocks and the last XID under their DCGM names.
    EXPECT_EQ(Series(text, "DCGM_FI_PROF_SM_ACTIVE").at(full_labels), "0.4");
    EXPECT_EQ(Series(text, "DCGM_FI_PROF_GR_ENGINE_ACTIVE").at(full_labels), "0.555");
    EXPECT_EQ(Series(text, "DCGM_FI_DEV_MEM_CLOCK").at(full_labels), "2619");
    EXPECT_EQ(Series(text, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION").at(full_labels), "123456789");
    EXPECT_EQ(Series(text, "DCGM_FI_DEV_XID_ERRORS").at(full_labels), "79");
    EXPECT_EQ(Series(text, "gpuopt_gpu_xid_errors").at(full_labels), "2");
    EXPECT_EQ(Series(text, "gpuopt_gpu_energy_joules").at(full_labels), "18630.5");
    // Only what was reported: the other GPUs have no GPM series, no sentinel.
    EXPECT_EQ(Series(text, "DCGM_FI_PROF_GR_ENGINE_ACTIVE").size(), 1u);
    EXPECT_EQ(Series(text, "DCGM_FI_PROF_SM_ACTIVE").size(), 2u);
    // The MIG instance: its profile and GPU instance id, as dcgm-exporter labels them.
    const auto mig = Series(text, "gpuopt_gpu_cost_per_hour");
    const auto it =
        std::find_if(mig.begin(), mig.end(), [](const auto& s) { return s.first.find("MIG-3g") != std::string::npos; });
    ASSERT_NE(it, mig.end()) << text;
    EXPECT_NE(it->first.find(",GPU_I_PROFILE=\"3g.40gb\",GPU_I_ID=\"2\",customer=\"" + a + "\"}"), std::string::npos)
        << it->first;
    EXPECT_EQ(it->second, "2.948571");
    // Without a driver version or bus id the label is there, empty: every series has the same label names.
    for (const auto& [labels, value] : util) {
        auto names = LabelNames(labels);
        names.erase("GPU_I_PROFILE");
        names.erase("GPU_I_ID");
        EXPECT_EQ(names, (std::set<std::string>{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname",
                                                "DCGM_FI_DRIVER_VERSION", "customer"}))
            << labels;
    }
}

TEST(Metrics, PromtoolFindsNothingButDcgmExportersCamelCaseLabel) {
    RunningServer server;
    const std::string text = PostFleet(server);
    TempDir dir;
    std::ofstream(dir.path() + "/metrics.txt") << text;
    std::string out;
    RunProgram("/bin/sh", {"-c", "promtool check metrics < " + dir.path() + "/metrics.txt"}, {}, out);
    ASSERT_EQ(out.find("not found"), std::string::npos) << "promtool is missing (scripts/setup --test installs it)";
    std::istringstream lines(out);
    std::string line;
    int camel = 0;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        // modelName is dcgm-exporter's label name, kept so its dashboards read these series unchanged.
        const size_t space = line.find(' ');
        ASSERT_NE(space, std::string::npos) << line;
        EXPECT_FALSE(Series(text, line.substr(0, space)).empty()) << line;
        EXPECT_EQ(line.substr(space), " label names should be written in 'snake_case' not 'camelCase'") << line;
        ++camel;
    }
    EXPECT_GT(camel, 0) << "promtool did not see the GPU series";
}

TEST(Metrics, TheGrafanaDashboardAsksOnlyForSeriesThatExistInPromqlThatParses) {
    RunningServer server;
    const std::string text = PostFleet(server);
    std::ifstream in(std::string(GPUOPT_SOURCE_DIR) + "/deploy/grafana/gpuopt-gpus.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const auto dashboard = boost::json::parse(ss.str()).as_object();

    std::vector<std::string> queries;
    for (const auto& panel : dashboard.at("panels").as_array()) {
        for (const auto& target : panel.at("targets").as_array()) queries.emplace_back(target.at("expr").as_string());
    }
    for (const auto& var : dashboard.at("templating").at("list").as_array()) {
        const auto& q = var.at("query");
        if (q.is_object()) queries.emplace_back(q.at("query").as_string());
    }
    ASSERT_GE(queries.size(), 16u);

    // Every label /metrics gives a GPU series.
    std::set<std::string> labels;
    for (const auto& [series, value] : Series(text, "gpuopt_gpu_cost_per_hour")) {
        for (const auto& n : LabelNames(series)) labels.insert(n);
    }
    std::set<std::string> used;
    std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
    int n = 0;
    for (const auto& q : queries) {
        bool in_by = false;
        for (const auto& [name, rest] : Identifiers(q)) {
            if (name == "by") {
                in_by = true;
                continue;
            }
            const bool is_metric = name.rfind("DCGM_FI_", 0) == 0 || name.rfind("gpuopt_", 0) == 0;
            const bool is_matcher = rest.rfind("=", 0) == 0 || rest.rfind("!=", 0) == 0 || rest.rfind("=~", 0) == 0 ||
                                    rest.rfind("!~", 0) == 0;
            if (is_matcher || in_by) {
                EXPECT_TRUE(labels.count(name)) << "label " << name << " in " << q;
            } else if (is_metric) {
                used.insert(name);
                EXPECT_FALSE(Series(text, name).empty()) << name << " in " << q << " is not in /metrics";
            }
            if (in_by && rest.rfind(")", 0) == 0) in_by = false;
        }
        if (q.rfind("label_values(", 0) == 0) {
            // label_values(metric, label): Grafana's, not PromQL.
            const size_t comma = q.find(',');
            std::string label = q.substr(comma + 1, q.find(')') - comma - 1);
            label.erase(0, label.find_first_not_of(' '));
            EXPECT_TRUE(labels.count(label)) << label << " in " << q;
            continue;
        }
        rules += "      - record: dashboard:query" + std::to_string(n++) + "\n        expr: '" + Substituted(q) + "'\n";
    }
    EXPECT_GE(used.size(), 12u);
    // promtool parses each query as it checks a rule file.
    TempDir dir;
    std::ofstream(dir.path() + "/rules.yml") << rules;
    std::string out;
    EXPECT_EQ(RunProgram("/usr/bin/promtool", {"check", "rules", dir.path() + "/rules.yml"}, {}, out), 0)
        << out << rules;
}

}  // namespace
}  // namespace gpuopt::testing
