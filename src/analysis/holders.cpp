#include "analysis/holders.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>

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

namespace {

struct Accumulator {
    std::set<std::string> gpus;
    HolderGroup group;
};

std::vector<HolderGroup> Sorted(std::unordered_map<std::string, Accumulator>& by) {
    std::vector<HolderGroup> out;
    out.reserve(by.size());
    for (auto& [name, a] : by) {
        a.group.name = name;
        a.group.gpus = a.gpus.size();
        out.push_back(std::move(a.group));
    }
    std::sort(out.begin(), out.end(), [](const HolderGroup& a, const HolderGroup& b) {
        return std::tie(b.idle_held_cost, a.name) < std::tie(a.idle_held_cost, b.name);
    });
    return out;
}

}  // namespace

IdleHolders WhoHeldIdle(const std::vector<store::StoredWindow>& windows, const IdleRules& rules, const Range& range) {
    const double from = static_cast<double>(range.from.time_since_epoch().count());
    const double to = static_cast<double>(range.to.time_since_epoch().count());
    std::unordered_map<std::string, Accumulator> users, containers, namespaces;
    for (const auto& w : windows) {
        if (w.processes_json.size() <= 2) continue;
        const Slice s = Clip(SliceOf(w, rules), from, to);
        if (s.idle_held_s <= 0) continue;
        const auto holders = ParseHolders(w.processes_json);
        if (holders.empty()) continue;
        double total_mib = 0;
        for (const auto& h : holders) total_mib += h.used_mib;
        // What each group held on this GPU in this window, and its share of the window's idle-held time.
        std::unordered_map<std::string, std::pair<double, double>> user_part, container_part, namespace_part;
        for (const auto& h : holders) {
            const double share = total_mib > 0 ? h.used_mib / total_mib : 1.0 / static_cast<double>(holders.size());
            for (auto [part, key] : {std::pair{&user_part, &h.user},
                                     {&container_part, &h.container},
                                     {&namespace_part, &h.k8s_namespace}}) {
                auto& [mib, sh] = (*part)[*key];
                mib += h.used_mib;
                sh += share;
            }
        }
        for (auto [by, part] :
             {std::pair{&users, &user_part}, {&containers, &container_part}, {&namespaces, &namespace_part}}) {
            for (const auto& [key, figures] : *part) {
                Accumulator& a = (*by)[key];
                a.gpus.insert(w.gpu_key);
                a.group.idle_held_hours += s.idle_held_s * figures.second / 3600.0;
                a.group.idle_held_cost += s.idle_held_cost_usd * figures.second;
                a.group.held_mib_max = std::max(a.group.held_mib_max, figures.first);
            }
        }
    }
    return IdleHolders{Sorted(users), Sorted(containers), Sorted(namespaces)};
}

}  // namespace gpuopt::analysis
