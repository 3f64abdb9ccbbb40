#include "analysis/holders.hpp"

#include <boost/json/value.hpp>

#include <algorithm>

#include "common/json.hpp"

namespace gpuopt::analysis {

namespace json = boost::json;

namespace {

std::string TextOf(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::vector<Holder> ParseHolders(std::string_view processes_json) {
    std::vector<Holder> out;
    auto doc = ParseJson(processes_json, 4);
    if (!doc || !doc->is_array()) return out;
    for (const auto& e : doc->get_array()) {
        if (!e.is_object()) continue;
        const json::object& o = e.get_object();
        const json::value* pid = o.if_contains("pid");
        if (pid == nullptr || !pid->is_number()) continue;
        Holder h;
        h.pid = static_cast<uint32_t>(pid->to_number<double>());
        h.name = TextOf(o, "name");
        h.user = TextOf(o, "user");
        h.container = TextOf(o, "container");
        h.pod = TextOf(o, "pod");
        h.k8s_namespace = TextOf(o, "namespace");
        if (const json::value* mem = o.if_contains("used_mem"); mem != nullptr && mem->is_number())
            h.used_mib = mem->to_number<double>();
        out.push_back(std::move(h));
    }
    std::stable_sort(out.begin(), out.end(), [](const Holder& a, const Holder& b) { return a.used_mib > b.used_mib; });
    return out;
}

std::map<std::string, HeldBy> LatestHolders(const std::vector<store::StoredWindow>& windows, const IdleRules& rules) {
    std::map<std::string, const store::StoredWindow*> latest;
    for (const auto& w : windows) {
        if (w.processes_json.size() <= 2 || SliceOf(w, rules).idle_held_s <= 0) continue;
        auto& at = latest[w.gpu_key];
        if (at == nullptr || w.window_end >= at->window_end) at = &w;
    }
    std::map<std::string, HeldBy> out;
    for (const auto& [key, w] : latest) {
        HeldBy held{w->window_end, ParseHolders(w->processes_json)};
        if (!held.processes.empty()) out.emplace(key, std::move(held));
    }
    return out;
}

}  // namespace gpuopt::analysis
