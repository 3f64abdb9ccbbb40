#include "api/report_parser.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <cmath>
#include <set>

#include "common/json.hpp"

namespace gpuopt::api {

namespace {

namespace json = boost::json;

// Reads fields of one JSON object, remembering the path for error messages.
class Fields {
public:
    Fields(const json::object& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

    std::string Path(std::string_view key) const { return prefix_ + std::string(key); }

    const json::value* Find(std::string_view key) const {
        const json::value* v = obj_.if_contains(key);
        return (v == nullptr || v->is_null()) ? nullptr : v;
    }

    Result<std::optional<double>> Number(std::string_view key, double lo, double hi) const {
        const json::value* v = Find(key);
        if (v == nullptr) return std::optional<double>{};
        if (!v->is_number()) return Error::Validation(Path(key), "must be a number");
        const double d = v->to_number<double>();
        if (!std::isfinite(d) || d < lo || d > hi) {
            return Error::Validation(Path(key), "must be between " + Fmt(lo) + " and " + Fmt(hi));
        }
        return std::optional<double>(d);
    }

    Result<double> RequiredNumber(std::string_view key, double lo, double hi) const {
        auto r = Number(key, lo, hi);
        if (!r) return r.error();
        if (!*r) return Error::Validation(Path(key), "is required");
        return **r;
    }

    Result<std::optional<int64_t>> Integer(std::string_view key, int64_t lo, int64_t hi) const {
        const json::value* v = Find(key);
        if (v == nullptr) return std::optional<int64_t>{};
        int64_t n = 0;
        if (v->is_int64()) {
            n = v->get_int64();
        } else if (v->is_uint64()) {
            if (v->get_uint64() > static_cast<uint64_t>(hi)) return OutOfRange(key, lo, hi);
            n = static_cast<int64_t>(v->get_uint64());
        } else if (v->is_double() && std::trunc(v->get_double()) == v->get_double() &&
                   std::fabs(v->get_double()) < 9e15) {
            n = static_cast<int64_t>(v->get_double());
        } else {
            return Error::Validation(Path(key), "must be a whole number");
        }
        if (n < lo || n > hi) return OutOfRange(key, lo, hi);
        return std::optional<int64_t>(n);
    }

    Result<std::optional<std::string>> String(std::string_view key, size_t max_chars, bool printable = true) const {
        const json::value* v = Find(key);
        if (v == nullptr) return std::optional<std::string>{};
        if (!v->is_string()) return Error::Validation(Path(key), "must be a string");
        const json::string& s = v->get_string();
        if (Utf8Length(s) > max_chars) {
            return Error::Validation(Path(key), "must be at most " + std::to_string(max_chars) + " characters");
        }
        if (printable) {
            for (unsigned char c : s) {
                if (c < 0x20 || c == 0x7f) return Error::Validation(Path(key), "must not contain control characters");
            }
        }
        return std::optional<std::string>(std::string(s));
    }

private:
    static std::string Fmt(double d) {
        std::string s = std::to_string(d);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
    static size_t Utf8Length(const json::string& s) {
        size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    }
    Error OutOfRange(std::string_view key, int64_t lo, int64_t hi) const {
        return Error::Validation(Path(key), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }

    const json::object& obj_;
    std::string prefix_;
};

#define GPUOPT_TRY(var, expr)                       \
    auto var##_result = (expr);                     \
    if (!var##_result) return var##_result.error(); \
    auto var = std::move(var##_result.value())

bool IsIdChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '_' || c == '-';
}

Result<void> ParseProcesses(const json::value* v, const std::string& path, const ReportRules& rules,
                            std::string& out_json) {
    if (v == nullptr) {
        out_json = "[]";
        return {};
    }
    if (!v->is_array()) return Error::Validation(path, "must be an array");
    const json::array& arr = v->get_array();
    if (arr.size() > rules.max_processes) {
        return Error::Validation(path, "must list at most " + std::to_string(rules.max_processes) + " processes");
    }
    json::array clean;
    for (size_t i = 0; i < arr.size(); ++i) {
        const std::string p = path + "[" + std::to_string(i) + "]";
        if (!arr[i].is_object()) return Error::Validation(p, "must be an object");
        Fields f(arr[i].get_object(), p + ".");
        GPUOPT_TRY(pid, f.Integer("pid", 0, 4294967295LL));
        GPUOPT_TRY(name, f.String("name", 256));
        GPUOPT_TRY(mem, f.Number("used_mem", 0, 1e9));
        if (!pid) return Error::Validation(p + ".pid", "is required");
        // Who runs it, where the agent attributed it: the user, the container and the Kubernetes pod and
        // namespace, and the command line when the host's operator let the agent send it.
        GPUOPT_TRY(uid, f.Integer("uid", 0, 4294967295LL));
        GPUOPT_TRY(user, f.String("user", 64));
        GPUOPT_TRY(container, f.String("container", 128));
        GPUOPT_TRY(pod, f.String("pod", 253));
        GPUOPT_TRY(ns, f.String("namespace", 63));
        GPUOPT_TRY(cmdline, f.String("cmdline", 1024));
        json::object o;
        o["pid"] = *pid;
        if (name) o["name"] = *name;
        if (mem) o["used_mem"] = *mem;
        if (uid) o["uid"] = *uid;
        if (user) o["user"] = *user;
        if (container) o["container"] = *container;
        if (pod) o["pod"] = *pod;
        if (ns) o["namespace"] = *ns;
        if (cmdline) o["cmdline"] = *cmdline;
        clean.push_back(std::move(o));
    }
    out_json = ToJson(clean);
    return {};
}

// What the agent warned of and did about idle GPUs (store/idle_actions.hpp): each keyed by the report and
// its place in it, so only a report with a report_id can carry them.
Result<void> ParseIdleEvents(const json::value* v, store::UsageReport& report, const std::string& host,
                             const ReportRules& rules, SysSeconds now) {
    if (v == nullptr) return {};
    if (!v->is_array()) return Error::Validation("idle_events", "must be an array");
    const json::array& arr = v->get_array();
    if (arr.empty()) return {};
    if (!report.report_id) return Error::Validation("idle_events", "need the report's report_id");
    if (arr.size() > 64) return Error::Validation("idle_events", "must list at most 64 events");
    for (size_t i = 0; i < arr.size(); ++i) {
        const std::string p = "idle_events[" + std::to_string(i) + "]";
        if (!arr[i].is_object()) return Error::Validation(p, "must be an object");
        Fields f(arr[i].get_object(), p + ".");
        store::IdleEvent e;
        e.event_key = *report.report_id + "#" + std::to_string(i);
        e.host = host;
        GPUOPT_TRY(index, f.Integer("gpu_index", 0, 1023));
        if (!index) return Error::Validation(p + ".gpu_index", "is required");
        GPUOPT_TRY(uuid, f.String("uuid", 96));
        e.uuid = uuid.value_or("");
        e.gpu_key = host + "/" + (e.uuid.empty() ? "index:" + std::to_string(*index) : e.uuid);
        GPUOPT_TRY(kind, f.String("kind", 16));
        const auto k = kind ? store::IdleEventKindNamed(*kind) : std::nullopt;
        if (!k) return Error::Validation(p + ".kind", "must be warned, snoozed, acted, would_act, failed or cleared");
        e.kind = *k;
        GPUOPT_TRY(action, f.String("action", 16));
        if (action && !action->empty() && !store::IdleActionNamed(*action)) {
            return Error::Validation(p + ".action", "must be notify, signal or exec");
        }
        e.action = action.value_or("");
        if (const json::value* dry = f.Find("dry_run")) {
            if (!dry->is_bool()) return Error::Validation(p + ".dry_run", "must be true or false");
            e.dry_run = dry->get_bool();
        }
        GPUOPT_TRY(detail, f.String("detail", 500));
        e.detail = detail.value_or("");
        GPUOPT_TRY(at_text, f.String("at", 40));
        const auto at = at_text ? ParseUtcMillis(*at_text) : std::nullopt;
        if (!at) return Error::Validation(p + ".at", "must be an RFC 3339 UTC timestamp");
        e.at = std::chrono::floor<std::chrono::seconds>(*at);
        if (e.at > now + rules.max_future_skew || e.at < now - rules.max_age) {
            return Error::Validation(p + ".at", "must be within the time a report may cover");
        }
        if (auto r = ParseProcesses(f.Find("processes"), p + ".processes", rules, e.processes_json); !r) {
            return r.error();
        }
        report.idle_events.push_back(std::move(e));
    }
    return {};
}

// The GPU's own account beyond the analysed figures, kept as one JSON object of known, checked fields.
Result<void> ParseTelemetry(const Fields& g, const std::string& p, const std::string& driver_version,
                            std::string& out) {
    json::object t;
    for (auto [key, hi] :
         {std::pair{"gr_engine_active", 100.0}, {"mem_clock_mhz", 100000.0}, {"energy_mj", 1e18}, {"energy_j", 1e12}}) {
        GPUOPT_TRY(v, g.Number(key, 0, hi));
        if (v) t[key] = *v;
    }
    for (auto [key, hi] : {std::pair{"minor_number", int64_t{4095}}, {"xid_errors", int64_t{1000000}}}) {
        GPUOPT_TRY(v, g.Integer(key, 0, hi));
        if (v) t[key] = *v;
    }
    GPUOPT_TRY(xid_last, g.Integer("xid_last", 0, 65535));
    if (xid_last) {
        if (!t.contains("xid_errors")) return Error::Validation(g.Path("xid_last"), "needs xid_errors");
        t["xid_last"] = *xid_last;
    }
    GPUOPT_TRY(bus, g.String("pci_bus_id", 32));
    if (bus && !bus->empty()) {
        for (char c : *bus) {
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
                return Error::Validation(g.Path("pci_bus_id"), "must look like 00000000:07:00.0");
            }
        }
        t["pci_bus_id"] = *bus;
    }
    if (const json::value* mig = g.Find("mig")) {
        if (!mig->is_object()) return Error::Validation(g.Path("mig"), "must be an object");
        Fields m(mig->get_object(), p + "mig.");
        json::object clean;
        GPUOPT_TRY(parent, m.String("parent_uuid", 96));
        if (!parent || parent->empty()) return Error::Validation(m.Path("parent_uuid"), "is required");
        clean["parent_uuid"] = *parent;
        GPUOPT_TRY(gi, m.Integer("gpu_instance_id", 0, 1023));
        if (gi) clean["gpu_instance_id"] = *gi;
        GPUOPT_TRY(profile, m.String("profile", 32));
        if (profile) clean["profile"] = *profile;
        GPUOPT_TRY(fraction, m.Number("fraction", 0, 1));
        if (!fraction || *fraction <= 0) return Error::Validation(m.Path("fraction"), "must be above 0 and at most 1");
        clean["fraction"] = *fraction;
        t["mig"] = std::move(clean);
    }
    if (!driver_version.empty()) t["driver_version"] = driver_version;
    out = t.empty() ? std::string() : ToJson(t);
    return {};
}

}  // namespace

Result<store::UsageReport> ParseUsageReport(const json::object& body, const ReportRules& rules, SysSeconds now,
                                            std::string_view client_address) {
    store::UsageReport report;
    Fields top(body, "");

    GPUOPT_TRY(report_id, top.String("report_id", 128));
    if (report_id) {
        if (report_id->empty()) return Error::Validation("report_id", "must not be empty");
        for (char c : *report_id) {
            if (!IsIdChar(c)) return Error::Validation("report_id", "may contain only letters, digits and : . _ -");
        }
    }
    report.report_id = report_id;

    std::string driver_version;  // the agent's, kept with each GPU window
    if (const json::value* agent = top.Find("agent")) {
        if (!agent->is_object()) return Error::Validation("agent", "must be an object");
        Fields a(agent->get_object(), "agent.");
        GPUOPT_TRY(id, a.String("id", 128));
        GPUOPT_TRY(hostname, a.String("hostname", 253));
        GPUOPT_TRY(version, a.String("version", 32));
        report.agent_id = id.value_or("");
        report.hostname = hostname.value_or("");
        report.agent_version = version.value_or("");
        GPUOPT_TRY(driver, a.String("driver_version", 32));
        if (driver) {
            for (char c : *driver) {
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') {
                    return Error::Validation("agent.driver_version", "may contain only letters, digits, . and -");
                }
            }
            driver_version = *driver;
        }
        if (const json::value* cloud = a.Find("cloud")) {
            if (!cloud->is_object()) return Error::Validation("agent.cloud", "must be an object");
            Fields c(cloud->get_object(), "agent.cloud.");
            json::object clean;
            for (const char* key : {"provider", "instance_type", "region"}) {
                GPUOPT_TRY(val, c.String(key, 64));
                if (val) clean[key] = *val;
            }
            report.cloud_json = ToJson(clean);
        }
    }

    report.window_end = now;
    report.window_start = now - rules.default_window;
    report.window_end_ms = SysMillis(now);
    report.window_start_ms = report.window_end_ms - rules.default_window;
    report.implicit_window = true;
    if (const json::value* window = top.Find("window")) {
        if (!window->is_object()) return Error::Validation("window", "must be an object");
        Fields w(window->get_object(), "window.");
        GPUOPT_TRY(start_text, w.String("start", 40));
        GPUOPT_TRY(end_text, w.String("end", 40));
        GPUOPT_TRY(samples, w.Integer("samples", 1, 100000));
        if (!start_text || !end_text) {
            return Error::Validation(start_text ? "window.end" : "window.start", "is required when window is given");
        }
        auto start = ParseUtcMillis(*start_text);
        auto end = ParseUtcMillis(*end_text);
        if (!start) return Error::Validation("window.start", "must be an RFC 3339 UTC timestamp");
        if (!end) return Error::Validation("window.end", "must be an RFC 3339 UTC timestamp");
        if (*end <= *start) return Error::Validation("window.end", "must be after window.start");
        if (*end - *start > rules.max_window) return Error::Validation("window", "must be at most 24 hours long");
        if (*end > now + rules.max_future_skew) return Error::Validation("window.end", "is in the future");
        if (*start < now - rules.max_age) {
            return Error::Validation("window.start",
                                     "is older than " + std::to_string(rules.max_age.count() / 24) + " days");
        }
        report.window_start_ms = *start;
        report.window_end_ms = *end;
        report.window_start = std::chrono::floor<std::chrono::seconds>(*start);
        report.window_end = std::chrono::floor<std::chrono::seconds>(*end);
        report.implicit_window = false;
        if (samples) report.samples = static_cast<int>(*samples);
    }

    const json::value* gpu_data = top.Find("gpu_data");
    if (gpu_data == nullptr) return Error::Validation("gpu_data", "is required");
    if (!gpu_data->is_array()) return Error::Validation("gpu_data", "must be an array");
    const json::array& gpus = gpu_data->get_array();
    if (gpus.empty()) return Error::Validation("gpu_data", "must list at least one GPU");
    if (gpus.size() > rules.max_gpus) {
        return Error::Validation("gpu_data", "must list at most " + std::to_string(rules.max_gpus) + " GPUs");
    }
    if (report.hostname.empty() && report.agent_id.empty() && !client_address.empty()) {
        report.hostname = std::string(client_address);
        report.host_from_address = true;
    }
    const std::string host = report.hostname.empty() ? report.agent_id : report.hostname;
    std::set<std::string> keys;
    report.gpus.reserve(gpus.size());
    for (size_t i = 0; i < gpus.size(); ++i) {
        const std::string p = "gpu_data[" + std::to_string(i) + "]";
        if (!gpus[i].is_object()) return Error::Validation(p, "must be an object");
        Fields g(gpus[i].get_object(), p + ".");
        store::GpuWindow w;
        GPUOPT_TRY(index, g.Integer("gpu_index", 0, 1023));
        if (!index) return Error::Validation(p + ".gpu_index", "is required");
        w.gpu_index = static_cast<int>(*index);
        GPUOPT_TRY(uuid, g.String("uuid", 96));
        w.uuid = uuid.value_or("");
        GPUOPT_TRY(name, g.String("gpu_name", rules.max_name_chars));
        if (!name || name->empty()) return Error::Validation(p + ".gpu_name", "is required");
        w.name = *name;
        GPUOPT_TRY(util, g.RequiredNumber("gpu_util", 0, 100));
        w.util_avg = util;
        GPUOPT_TRY(util_max, g.Number("util_max", 0, 100));
        if (util_max && *util_max + 1e-9 < util) {
            return Error::Validation(p + ".util_max", "must not be below gpu_util");
        }
        w.util_max = util_max;
        GPUOPT_TRY(idle_fraction, g.Number("idle_fraction", 0, 1));
        w.idle_fraction = idle_fraction;
        GPUOPT_TRY(idle_held, g.Number("idle_held_fraction", 0, 1));
        if (idle_held && (!idle_fraction || *idle_held > *idle_fraction + 1e-9)) {
            return Error::Validation(p + ".idle_held_fraction", "must not exceed idle_fraction");
        }
        w.idle_held_fraction = idle_held;
        GPUOPT_TRY(mem_util, g.Number("mem_util", 0, 100));
        w.mem_util = mem_util;
        GPUOPT_TRY(mem_total, g.RequiredNumber("mem_total", 0, 16 * 1024 * 1024));
        if (mem_total <= 0) return Error::Validation(p + ".mem_total", "must be greater than 0");
        GPUOPT_TRY(mem_used, g.RequiredNumber("mem_used", 0, 16 * 1024 * 1024));
        if (mem_used > mem_total) return Error::Validation(p + ".mem_used", "must not exceed mem_total");
        w.mem_total_mib = mem_total;
        w.mem_used_mib = mem_used;
        GPUOPT_TRY(temperature, g.Number("temperature", -50, 150));
        w.temperature_c = temperature;
        GPUOPT_TRY(power, g.Number("power_w", 0, 5000));
        w.power_w = power;
        GPUOPT_TRY(power_limit, g.Number("power_limit_w", 0, 5000));
        w.power_limit_w = power_limit;
        GPUOPT_TRY(sm_clock, g.Number("sm_clock_mhz", 0, 10000));
        w.sm_clock_mhz = sm_clock;
        GPUOPT_TRY(sm_active, g.Number("sm_active", 0, 100));
        w.sm_active = sm_active;
        GPUOPT_TRY(cost, g.Number("cost_per_hour", 0, rules.max_cost_per_hour));
        w.cost_per_hour = cost.value_or(rules.default_cost_per_hour);
        if (auto r = ParseProcesses(g.Find("processes"), p + ".processes", rules, w.processes_json); !r) {
            return r.error();
        }
        if (auto r = ParseTelemetry(g, p + ".", driver_version, w.telemetry_json); !r) return r.error();
        w.gpu_key = host + "/" + (w.uuid.empty() ? "index:" + std::to_string(w.gpu_index) : w.uuid);
        if (!keys.insert(w.gpu_key).second) {
            return Error::Validation(p, "repeats a GPU already in this report");
        }
        report.gpus.push_back(std::move(w));
    }
    if (auto r = ParseIdleEvents(top.Find("idle_events"), report, host, rules, now); !r) return r.error();
    return report;
}

}  // namespace gpuopt::api
