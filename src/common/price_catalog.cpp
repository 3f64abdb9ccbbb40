#include "common/price_catalog.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/json.hpp"

namespace gpuopt {

// Defined in the generated catalog_data.cpp (src/common/CMakeLists.txt).
extern const char* const kBuiltinPriceCatalog;
extern const char* const kBuiltinGpuCatalog;

namespace {

namespace json = boost::json;

Result<std::string> Text(const json::object& o, std::string_view key, const std::string& where, bool required) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        if (required) return Error::Validation(where + "." + std::string(key), "is required");
        return std::string();
    }
    if (!v->is_string()) return Error::Validation(where + "." + std::string(key), "must be a string");
    return std::string(v->get_string());
}

Result<double> Number(const json::object& o, std::string_view key, const std::string& where) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_number()) return Error::Validation(where + "." + std::string(key), "must be a number");
    const double d = v->to_number<double>();
    if (!std::isfinite(d) || d <= 0) return Error::Validation(where + "." + std::string(key), "must be positive");
    return d;
}

Result<const json::array*> Entries(const json::value& doc, std::string_view key, std::string_view file) {
    const std::string where(file);
    if (!doc.is_object()) return Error::Validation(where, "must be a JSON object");
    const json::value* v = doc.get_object().if_contains(key);
    if (v == nullptr || !v->is_array()) return Error::Validation(where + "." + std::string(key), "must be an array");
    return &v->get_array();
}

std::string Lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string> Tokens(std::string_view name) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : name) {
        if (c == ' ' || c == '-' || c == '_' || c == '\t') {
            if (!cur.empty()) out.push_back(Lower(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(Lower(cur));
    return out;
}

Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::Validation(path, "cannot be read");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

Result<PriceCatalog> PriceCatalog::Parse(std::string_view instances_json, std::string_view gpus_json) {
    PriceCatalog c;
    auto inst_doc = ParseJson(instances_json, 8);
    if (!inst_doc) return Error::Validation("price catalog", inst_doc.error().details.begin()->second);
    auto inst = Entries(*inst_doc, "instances", "price catalog");
    if (!inst) return inst.error();
    for (size_t i = 0; i < (*inst)->size(); ++i) {
        const std::string where = "price catalog instances[" + std::to_string(i) + "]";
        const json::value& e = (**inst)[i];
        if (!e.is_object()) return Error::Validation(where, "must be an object");
        const json::object& o = e.get_object();
        InstancePrice p;
        for (auto [field, key, required] : {std::tuple{&p.provider, "provider", true},
                                            {&p.instance_type, "instance_type", true},
                                            {&p.region, "region", false},
                                            {&p.gpu_model, "gpu_model", true},
                                            {&p.source, "source", true},
                                            {&p.as_of, "as_of", true},
                                            {&p.note, "note", false}}) {
            auto t = Text(o, key, where, required);
            if (!t) return t.error();
            *field = std::move(*t);
        }
        auto gpus = Number(o, "gpus", where);
        if (!gpus) return gpus.error();
        if (*gpus != std::floor(*gpus) || *gpus > 64)
            return Error::Validation(where + ".gpus", "must be a whole number up to 64");
        p.gpus = static_cast<int>(*gpus);
        auto price = Number(o, "usd_per_hour", where);
        if (!price) return price.error();
        p.usd_per_hour = *price;
        c.instances_.push_back(std::move(p));
    }

    auto gpu_doc = ParseJson(gpus_json, 8);
    if (!gpu_doc) return Error::Validation("GPU catalog", gpu_doc.error().details.begin()->second);
    auto models = Entries(*gpu_doc, "models", "GPU catalog");
    if (!models) return models.error();
    for (size_t i = 0; i < (*models)->size(); ++i) {
        const std::string where = "GPU catalog models[" + std::to_string(i) + "]";
        const json::value& e = (**models)[i];
        if (!e.is_object()) return Error::Validation(where, "must be an object");
        const json::object& o = e.get_object();
        GpuModel m;
        for (auto [field, key] : {std::pair{&m.model, "model"}, {&m.source, "source"}, {&m.as_of, "as_of"}}) {
            auto t = Text(o, key, where, true);
            if (!t) return t.error();
            *field = std::move(*t);
        }
        const json::value* match = o.if_contains("match");
        if (match == nullptr || !match->is_array() || match->get_array().empty()) {
            return Error::Validation(where + ".match", "must be a non-empty array of strings");
        }
        for (const auto& t : match->get_array()) {
            if (!t.is_string() || t.get_string().empty()) {
                return Error::Validation(where + ".match", "must be a non-empty array of strings");
            }
            m.match.push_back(Lower(t.get_string()));
        }
        auto mem = Number(o, "memory_gib", where);
        if (!mem) return mem.error();
        m.memory_gib = *mem;
        if (o.if_contains("fp16_tflops") != nullptr) {
            auto tflops = Number(o, "fp16_tflops", where);
            if (!tflops) return tflops.error();
            m.fp16_tflops = *tflops;
        }
        if (o.if_contains("memory_bandwidth_gbs") != nullptr) {
            auto bandwidth = Number(o, "memory_bandwidth_gbs", where);
            if (!bandwidth) return bandwidth.error();
            m.memory_bandwidth_gbs = *bandwidth;
        }
        auto gpu_class = Text(o, "class", where, false);
        if (!gpu_class) return gpu_class.error();
        if (!gpu_class->empty()) {
            m.gpu_class = GpuClassNamed(*gpu_class);
            if (!m.gpu_class) return Error::Validation(where + ".class", "must be inference, universal or datacenter");
        }
        auto price = Number(o, "usd_per_gpu_hour", where);
        if (!price) return price.error();
        m.usd_per_gpu_hour = *price;
        c.models_.push_back(std::move(m));
    }
    for (const auto& p : c.instances_) {
        if (c.FindModel(p.gpu_model) == nullptr) {
            return Error::Validation("price catalog " + p.provider + "/" + p.instance_type + ".gpu_model",
                                     "'" + p.gpu_model + "' is not a model of the GPU catalog");
        }
    }
    return c;
}

const PriceCatalog& PriceCatalog::Builtin() {
    static const PriceCatalog catalog = [] {
        auto c = Parse(kBuiltinPriceCatalog, kBuiltinGpuCatalog);
        if (!c) std::abort();  // the repo's own files are checked by the unit tests
        return std::move(*c);
    }();
    return catalog;
}

Result<PriceCatalog> PriceCatalog::Load(const std::string& instances_path, const std::string& gpus_path) {
    std::string instances = kBuiltinPriceCatalog;
    std::string gpus = kBuiltinGpuCatalog;
    if (!instances_path.empty()) {
        auto t = ReadFile(instances_path);
        if (!t) return t.error();
        instances = std::move(*t);
    }
    if (!gpus_path.empty()) {
        auto t = ReadFile(gpus_path);
        if (!t) return t.error();
        gpus = std::move(*t);
    }
    return Parse(instances, gpus);
}

const InstancePrice* PriceCatalog::FindInstance(std::string_view provider, std::string_view instance_type) const {
    for (const auto& p : instances_) {
        if (p.provider == provider && p.instance_type == instance_type) return &p;
    }
    return nullptr;
}

const GpuModel* PriceCatalog::FindModel(std::string_view model) const {
    for (const auto& m : models_) {
        if (m.model == model) return &m;
    }
    return nullptr;
}

const GpuModel* PriceCatalog::MatchGpu(std::string_view name, double mem_total_mib) const {
    const auto tokens = Tokens(name);
    const GpuModel* best = nullptr;
    double best_distance = 0;
    for (const auto& m : models_) {
        const bool all = std::all_of(m.match.begin(), m.match.end(), [&](const std::string& t) {
            return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
        });
        if (!all) continue;
        const double distance = mem_total_mib > 0 ? std::fabs(m.memory_gib * 1024 - mem_total_mib) : 0;
        if (best == nullptr || m.match.size() > best->match.size() ||
            (m.match.size() == best->match.size() && distance < best_distance)) {
            best = &m;
            best_distance = distance;
        }
    }
    return best;
}

}  // namespace gpuopt
