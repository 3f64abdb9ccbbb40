#include "common/config.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>

#include "common/email.hpp"

namespace gpuopt {

// ---------------------------------------------------------------------------------------------------
// Cidr

namespace {

std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text) {
    std::string s(text);
    std::array<uint8_t, 16> out{};
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        std::memcpy(out.data() + 12, &v4, 4);
        return out;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        std::memcpy(out.data(), &v6, 16);
        return out;
    }
    return std::nullopt;
}

}  // namespace

std::optional<Cidr> Cidr::Parse(std::string_view text) {
    const size_t slash = text.find('/');
    const std::string_view addr = text.substr(0, slash);
    auto bytes = ParseAddress(addr);
    if (!bytes) return std::nullopt;
    const bool v4 = addr.find(':') == std::string_view::npos;
    Cidr c;
    c.bytes = *bytes;
    c.prefix = 128;
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        int bits = -1;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
        if (ec != std::errc() || ptr != p.data() + p.size() || bits < 0 || bits > (v4 ? 32 : 128)) {
            return std::nullopt;
        }
        c.prefix = v4 ? bits + 96 : bits;
    }
    return c;
}

bool Cidr::Contains(std::string_view address) const {
    auto other = ParseAddress(address);
    if (!other) return false;
    int bits = prefix;
    for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        const auto mask = static_cast<uint8_t>(bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
        if (((*other)[i] & mask) != (bytes[i] & mask)) return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------------
// Key/value files

Result<std::map<std::string, std::string>> ParseKeyValueFile(std::string_view text, std::string_view file_name) {
    std::map<std::string, std::string> out;
    size_t line_no = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        auto trim = [](std::string_view s) {
            while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
            while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
            return s;
        };
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        if (line.substr(0, 7) == "export ") line = trim(line.substr(7));
        const size_t eq = line.find('=');
        const auto where = std::string(file_name) + ":" + std::to_string(line_no);
        if (eq == std::string_view::npos || eq == 0) {
            return Error::Validation(where, "expected KEY=VALUE");
        }
        const std::string_view key = trim(line.substr(0, eq));
        for (char c : key) {
            if (!(std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                  c == '_')) {
                return Error::Validation(where, "setting names are UPPER_CASE letters, digits and _");
            }
        }
        std::string_view value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        } else {
            // An unquoted value may carry a trailing " # comment".
            const size_t hash = value.find(" #");
            if (hash != std::string_view::npos) value = trim(value.substr(0, hash));
        }
        out[std::string(key)] = std::string(value);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Settings table

namespace {

using Apply = std::function<std::optional<std::string>(Config&, const std::string&)>;  // error text

struct Setting {
    const char* name;
    bool secret;
    Apply apply;
};

std::optional<long long> ToInt(const std::string& v, long long lo, long long hi) {
    long long out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size() || out < lo || out > hi) return std::nullopt;
    return out;
}

std::optional<double> ToDouble(const std::string& v, double lo, double hi) {
    if (v.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !std::isfinite(d) || d < lo || d > hi) return std::nullopt;
    return d;
}

std::string Range(long long lo, long long hi) {
    return "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
}

// A whole number in [lo, hi] into the field `at` finds in a Config (a member, or a member of a module's
// settings).
template <class At>
Apply IntAt(At at, long long lo, long long hi) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        auto n = ToInt(v, lo, hi);
        if (!n) return Range(lo, hi);
        auto& field = at(c);
        field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
        return std::nullopt;
    };
}

// Text into the field `at` finds, checked first by `check` when given and not empty.
template <class At>
Apply StringAt(At at, bool allow_empty, std::function<std::optional<std::string>(const std::string&)> check = {}) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        if (!allow_empty && v.empty()) return "must not be empty";
        if (check && !v.empty()) {
            if (auto err = check(v)) return err;
        }
        at(c) = v;
        return std::nullopt;
    };
}

template <class T>
Apply IntSetting(T Config::*field, long long lo, long long hi) {
    return IntAt([field](Config& c) -> T& { return c.*field; }, lo, hi);
}

Apply DoubleSetting(double Config::*field, double lo, double hi) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        auto d = ToDouble(v, lo, hi);
        if (!d) return "must be a number from " + std::to_string(lo) + " to " + std::to_string(hi);
        c.*field = *d;
        return std::nullopt;
    };
}

Apply StringSetting(std::string Config::*field, bool allow_empty = true) {
    return StringAt([field](Config& c) -> std::string& { return c.*field; }, allow_empty);
}

bool IsHttpUrl(const std::string& v) {
    auto u = boost::urls::parse_absolute_uri(v);
    if (!u) return false;
    return (u->scheme() == "http" || u->scheme() == "https") && u->has_authority() && !u->host().empty();
}

// A setting of one module's typed settings (Config::billing, Config::mail), checked first when given.
template <class Section>
Apply SectionString(Section Config::*section, std::string Section::*field,
                    std::function<std::optional<std::string>(const std::string&)> check = {}, bool allow_empty = true) {
    return StringAt([=](Config& c) -> std::string& { return c.*section.*field; }, allow_empty, std::move(check));
}

template <class Section, class T>
Apply SectionInt(Section Config::*section, T Section::*field, long long lo, long long hi) {
    return IntAt([=](Config& c) -> T& { return c.*section.*field; }, lo, hi);
}

// A setting of a feature that later code reads from `integrations`; validated now.
Apply Integration(const char* name, std::function<std::optional<std::string>(const std::string&)> check = {}) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        if (check && !v.empty()) {
            if (auto err = check(v)) return err;
        }
        if (!v.empty()) c.integrations[name] = v;
        return std::nullopt;
    };
}

std::optional<std::string> CheckUrl(const std::string& v) {
    if (!IsHttpUrl(v)) return "must be an absolute http:// or https:// URL";
    return std::nullopt;
}

Plan* FindPlanMut(Config& c, Tier tier) {
    for (auto& p : c.plans) {
        if (p.tier == tier) return &p;
    }
    return nullptr;
}

Apply PlanPrice(Tier tier) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        auto d = ToDouble(v, 0, 100000);
        if (!d) return "must be a price in USD from 0 to 100000";
        FindPlanMut(c, tier)->price_usd = *d;
        return std::nullopt;
    };
}

// 0 means unlimited.
Apply PlanRate(Tier tier) {
    return [=](Config& c, const std::string& v) -> std::optional<std::string> {
        auto n = ToInt(v, 0, 100000000);
        if (!n) return Range(0, 100000000) + " (0 = unlimited)";
        FindPlanMut(c, tier)->requests_per_hour = *n == 0 ? std::nullopt : std::optional<int>(static_cast<int>(*n));
        return std::nullopt;
    };
}

const std::vector<Setting>& Settings() {
    static const std::vector<Setting> settings = {
        {"HOST", false, StringSetting(&Config::host, false)},
        {"PORT", false, IntSetting(&Config::port, 0, 65535)},
        {"DATA_DIR", false, StringSetting(&Config::data_dir, false)},
        {"WEB_DIR", false, StringSetting(&Config::web_dir)},
        {"THREADS", false, IntSetting(&Config::threads, 0, 256)},
        {"BASE_URL", false,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             if (!IsHttpUrl(v)) return "must be an absolute http:// or https:// URL";
             c.base_url = v;
             while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
             return std::nullopt;
         }},
        {"DATABASE_URL", true,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             if (v.empty() || v.rfind("sqlite:", 0) == 0) {
                 c.database_url = v;
                 return std::nullopt;
             }
             if (v.rfind("postgresql://", 0) == 0 || v.rfind("postgres://", 0) == 0) {
                 c.database_url = v;
                 return std::nullopt;
             }
             return "must be sqlite:PATH, postgresql://... (or unset for the embedded store in DATA_DIR)";
         }},
        {"REDIS_URL", true,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             if (v.empty()) {
                 c.redis_url.clear();
                 return std::nullopt;
             }
             auto u = boost::urls::parse_absolute_uri(v);
             if (u && u->scheme() == "rediss")
                 return "rediss:// (TLS) is not supported by this build: reach Redis over a private network";
             if (!u || u->scheme() != "redis" || u->host().empty())
                 return "must be redis://[[user]:password@]host[:port][/db]";
             c.redis_url = v;
             return std::nullopt;
         }},
        {"REDIS_TIMEOUT_MS", false, IntSetting(&Config::redis_timeout_ms, 5, 10000)},
        {"LOG_LEVEL", false,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
             for (const char* l : kLevels) {
                 if (v == l) {
                     c.log_level = v;
                     return std::nullopt;
                 }
             }
             return "must be one of trace, debug, info, warn, error, critical, off";
         }},
        {"ACCESS_LOG", false, StringSetting(&Config::access_log)},
        {"READ_TIMEOUT_SECONDS", false, IntSetting(&Config::read_timeout_seconds, 1, 3600)},
        {"KEEPALIVE_TIMEOUT_SECONDS", false, IntSetting(&Config::keepalive_timeout_seconds, 1, 3600)},
        {"SHUTDOWN_GRACE_SECONDS", false, IntSetting(&Config::shutdown_grace_seconds, 0, 600)},
        {"ADMIN_TOKEN", true,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             if (!v.empty() && v.size() < 16) return "must be at least 16 characters";
             c.admin_token = v;
             return std::nullopt;
         }},
        {"SECRET_KEY", true,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             if (!v.empty() && v.size() < 32) return "must be at least 32 characters";
             c.secret_key = v;
             return std::nullopt;
         }},
        {"ENCRYPTION_KEY", true,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             // Fernet keys (32 bytes, URL-safe base64 with padding: 44 characters), newest first, separated
             // by commas: the first encrypts, every one decrypts (decision 0026).
             size_t position = 0;
             for (size_t start = 0; !v.empty() && start <= v.size();) {
                 const size_t comma = std::min(v.find(',', start), v.size());
                 std::string key = v.substr(start, comma - start);
                 key.erase(0, key.find_first_not_of(' '));
                 key.erase(key.find_last_not_of(' ') + 1);
                 ++position;
                 unsigned char raw[64];
                 size_t len = 0;
                 if (key.size() != 44 ||
                     sodium_base642bin(raw, sizeof raw, key.data(), key.size(), nullptr, &len, nullptr,
                                       sodium_base64_VARIANT_URLSAFE) != 0 ||
                     len != 32) {
                     return "key " + std::to_string(position) +
                            " is not a Fernet key: 32 bytes in URL-safe base64 (44 characters)";
                 }
                 sodium_memzero(raw, sizeof raw);
                 start = comma + 1;
             }
             c.encryption_key = v;
             return std::nullopt;
         }},
        {"SESSION_TIMEOUT", false, IntSetting(&Config::session_timeout_seconds, 60, 30 * 86400)},
        {"SESSION_MAX_AGE", false, IntSetting(&Config::session_max_age_seconds, 300, 90 * 86400)},
        {"ADMIN_SESSION_TIMEOUT", false, IntSetting(&Config::admin_session_timeout_seconds, 60, 86400)},
        {"ADMIN_SESSION_MAX_AGE", false, IntSetting(&Config::admin_session_max_age_seconds, 300, 86400)},
        {"MAX_LOGIN_ATTEMPTS", false, IntSetting(&Config::max_login_attempts, 1, 1000)},
        {"AUTH_FAILURE_LIMIT", false, IntSetting(&Config::auth_failure_limit, 0, 100000)},
        {"AUTH_FAILURE_WINDOW_SECONDS", false, IntSetting(&Config::auth_failure_window_seconds, 1, 86400)},
        {"AUTH_BLOCK_SECONDS", false, IntSetting(&Config::auth_block_seconds, 1, 7 * 86400)},
        {"TRUSTED_PROXIES", false,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             c.trusted_proxies.clear();
             size_t start = 0;
             while (start <= v.size()) {
                 const size_t comma = v.find(',', start);
                 std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                 item.erase(0, item.find_first_not_of(' '));
                 item.erase(item.find_last_not_of(' ') + 1);
                 if (!item.empty()) {
                     auto cidr = Cidr::Parse(item);
                     if (!cidr) return "'" + item + "' is not an IP address or CIDR network";
                     c.trusted_proxies.push_back(*cidr);
                 }
                 if (comma == std::string::npos) break;
                 start = comma + 1;
             }
             return std::nullopt;
         }},
        {"FREE_GPU_LIMIT", false,
         [](Config& c, const std::string& v) -> std::optional<std::string> {
             auto n = ToInt(v, 1, 100000);
             if (!n) return Range(1, 100000);
             FindPlanMut(c, Tier::kFree)->gpu_limit = static_cast<int>(*n);
             return std::nullopt;
         }},
        {"GPU_LIMIT_WINDOW_HOURS", false, IntSetting(&Config::gpu_limit_window_hours, 1, 24 * 31)},
        {"PROFESSIONAL_PRICE", false, PlanPrice(Tier::kProfessional)},
        {"ENTERPRISE_PRICE", false, PlanPrice(Tier::kEnterprise)},
        {"RATE_LIMIT_FREE", false, PlanRate(Tier::kFree)},
        {"RATE_LIMIT_PROFESSIONAL", false, PlanRate(Tier::kProfessional)},
        {"RATE_LIMIT_ENTERPRISE", false, PlanRate(Tier::kEnterprise)},
        {"SIGNUP_RATE_LIMIT", false, IntSetting(&Config::signup_per_minute_per_ip, 0, 1000000)},
        {"REPORTS_PER_HOST_PER_HOUR", false, IntSetting(&Config::reports_per_host_per_hour, 1, 1000000)},
        {"IMPLICIT_WINDOW_MAX_SECONDS", false, IntSetting(&Config::implicit_window_max_seconds, 1, 86400)},
        {"IDLE_THRESHOLD", false, DoubleSetting(&Config::idle_threshold_percent, 0, 100)},
        {"RECOVERABLE_FRACTION", false, DoubleSetting(&Config::recoverable_fraction, 0, 1)},
        {"DEFAULT_COST_PER_HOUR", false, DoubleSetting(&Config::default_cost_per_hour, 0, 1000)},
        {"COMMITTED_USE_DISCOUNT", false, DoubleSetting(&Config::committed_use_discount, 0, 0.9)},
        {"RAW_RETENTION_DAYS", false, IntSetting(&Config::raw_retention_days, 1, 90)},
        {"HOURLY_RETENTION_DAYS", false, IntSetting(&Config::hourly_retention_days, 30, 3650)},
        {"FREE_HISTORY_DAYS", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     auto n = ToInt(v, 1, 3650);
                                                     if (!n) return Range(1, 3650);
                                                     FindPlanMut(c, Tier::kFree)->history_days = static_cast<int>(*n);
                                                     return std::nullopt;
                                                 }},
        {"ROLLUP_INTERVAL_SECONDS", false, IntSetting(&Config::rollup_interval_seconds, 1, 3600)},
        {"ALERT_INTERVAL_SECONDS", false, IntSetting(&Config::alert_interval_seconds, 1, 3600)},
        {"REPORT_INTERVAL_SECONDS", false, IntSetting(&Config::report_interval_seconds, 1, 86400)},
        {"WEBHOOK_INTERVAL_SECONDS", false, IntSetting(&Config::webhook_interval_seconds, 1, 3600)},
        {"RECOMMENDATION_INTERVAL_SECONDS", false, IntSetting(&Config::recommendation_interval_seconds, 1, 24 * 3600)},
        {"IDLE_ALERT_MINUTES", false, IntSetting(&Config::idle_alert_minutes, 1, 24 * 60)},
        {"IDLE_ACTION_MIN_MINUTES", false, DoubleSetting(&Config::idle_action_min_minutes, 0.01, 24 * 60)},
        {"WEBHOOK_ALLOW_PRIVATE", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (v == "true" || v == "1") {
                                                         c.webhook_allow_private = true;
                                                     } else if (v == "false" || v == "0" || v.empty()) {
                                                         c.webhook_allow_private = false;
                                                     } else {
                                                         return "must be true or false";
                                                     }
                                                     return std::nullopt;
                                                 }},
        {"PAYMENT_CURRENCY", false,
         [](Config& c, const std::string&
                           v) -> std::
                                  optional<std::string> {
                                      if (v.size() != 3 || !std::all_of(v.begin(), v.end(), [](char ch) {
                                              return ch >= 'A' && ch <= 'Z';
                                          })) {
                                          return "must be a three-letter ISO currency code in capitals, such as USD";
                                      }
                                      c.billing.payment_currency = v;
                                      return std::nullopt;
                                  }},
        {"NOWPAYMENTS_MODE", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (v != "invoice" && v != "payment")
                                                         return "must be invoice or payment";
                                                     c.billing.nowpayments_mode = v;
                                                     return std::nullopt;
                                                 }},
        {"NOWPAYMENTS_PAY_CURRENCY", false,
         SectionString(&Config::billing, &BillingSettings::nowpayments_pay_currency, {}, false)},
        {"PAYMENT_EXPIRY_HOURS", false,
         SectionInt(&Config::billing, &BillingSettings::payment_expiry_hours, 1, 24 * 30)},
        {"OPERATOR_EMAIL", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (!v.empty() && !IsValidEmail(v))
                                                         return "must be an e-mail address";
                                                     c.billing.operator_email = v;
                                                     return std::nullopt;
                                                 }},
        {"GATEWAY_TIMEOUT_SECONDS", false,
         SectionInt(&Config::billing, &BillingSettings::gateway_timeout_seconds, 1, 120)},
        {"BILLING_INTERVAL_SECONDS", false,
         SectionInt(&Config::billing, &BillingSettings::billing_interval_seconds, 1, 3600)},
        {"LIFECYCLE_INTERVAL_SECONDS", false,
         SectionInt(&Config::billing, &BillingSettings::lifecycle_interval_seconds, 1, 86400)},
        {"MAIL_INTERVAL_SECONDS", false, SectionInt(&Config::mail, &MailSettings::mail_interval_seconds, 1, 3600)},
        {"SMTP_TLS", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (v != "starttls" && v != "smtps" && v != "none")
                                                         return "must be starttls, smtps or none";
                                                     c.mail.smtp_tls = v;
                                                     return std::nullopt;
                                                 }},
        {"SMTP_CA_FILE", false, SectionString(&Config::mail, &MailSettings::smtp_ca_file)},
        {"SENDGRID_BASE_URL", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (!IsHttpUrl(v))
                                                         return "must be an absolute http:// or https:// URL";
                                                     c.mail.sendgrid_base_url = v;
                                                     return std::nullopt;
                                                 }},
        {"PRICE_CATALOG", false, StringSetting(&Config::price_catalog)},
        {"GPU_CATALOG", false, StringSetting(&Config::gpu_catalog)},
        {"FLUTTERWAVE_SECRET_KEY", true, SectionString(&Config::billing, &BillingSettings::flutterwave_secret_key)},
        {"FLUTTERWAVE_PUBLIC_KEY", false, SectionString(&Config::billing, &BillingSettings::flutterwave_public_key)},
        {"FLUTTERWAVE_SECRET_HASH", true, SectionString(&Config::billing, &BillingSettings::flutterwave_secret_hash)},
        {"FLUTTERWAVE_BASE_URL", false,
         SectionString(&Config::billing, &BillingSettings::flutterwave_base_url, CheckUrl)},
        {"NOWPAYMENTS_API_KEY", true, SectionString(&Config::billing, &BillingSettings::nowpayments_api_key)},
        {"NOWPAYMENTS_IPN_SECRET", true, SectionString(&Config::billing, &BillingSettings::nowpayments_ipn_secret)},
        {"NOWPAYMENTS_SANDBOX", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     if (v != "true" && v != "false" && v != "1" && v != "0")
                                                         return "must be true or false";
                                                     c.billing.nowpayments_sandbox = v == "true" || v == "1";
                                                     return std::nullopt;
                                                 }},
        {"NOWPAYMENTS_BASE_URL", false,
         SectionString(&Config::billing, &BillingSettings::nowpayments_base_url, CheckUrl)},
        {"SMTP_SERVER", false, SectionString(&Config::mail, &MailSettings::smtp_server)},
        {"SMTP_PORT", false,
         [](Config& c, const std::string& v) -> std::
                                                 optional<std::string> {
                                                     auto n = ToInt(v, 1, 65535);
                                                     if (!n) return Range(1, 65535);
                                                     c.mail.smtp_port = static_cast<int>(*n);
                                                     return std::nullopt;
                                                 }},
        {"SENDER_EMAIL", false,
         SectionString(&Config::mail, &MailSettings::sender_email,
                       [](const std::string& v) -> std::optional<std::string> {
                           if (!IsValidEmail(v)) return "must be an e-mail address";
                           return std::nullopt;
                       })},
        {"SENDER_PASSWORD", true, SectionString(&Config::mail, &MailSettings::sender_password)},
        {"SENDGRID_API_KEY", true, SectionString(&Config::mail, &MailSettings::sendgrid_api_key)},
        {"ACQUISITION_CONFIG", false, SectionString(&Config::acquisition, &AcquisitionSettings::config_file)},
        {"GITHUB_TOKEN", true, SectionString(&Config::acquisition, &AcquisitionSettings::github_token)},
        {"GITHUB_API_URL", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::github_api_url, CheckUrl, false)},
        {"REDDIT_CLIENT_ID", false, SectionString(&Config::acquisition, &AcquisitionSettings::reddit_client_id)},
        {"REDDIT_CLIENT_SECRET", true, SectionString(&Config::acquisition, &AcquisitionSettings::reddit_client_secret)},
        {"REDDIT_USER_AGENT", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::reddit_user_agent,
                       [](const std::string& v) -> std::optional<std::string> {
                           // Reddit throttles generic agents; it asks for <platform>:<app id>:<version> (by /u/<name>).
                           if (!v.empty() && (v.size() > 200 || v.find(':') == std::string::npos)) {
                               return "must look like linux:com.example.gpucost:1.0 (by /u/yourname)";
                           }
                           return std::nullopt;
                       })},
        {"REDDIT_API_URL", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::reddit_api_url, CheckUrl, false)},
        {"REDDIT_AUTH_URL", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::reddit_auth_url, CheckUrl, false)},
        {"POSTAL_ADDRESS", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::postal_address,
                       [](const std::string& v) -> std::optional<std::string> {
                           if (v.size() > 300 || v.find_first_of("\r\n") != std::string::npos) {
                               return "must be one line of at most 300 characters";
                           }
                           return std::nullopt;
                       })},
        {"UNSUBSCRIBE_EMAIL", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::unsubscribe_email,
                       [](const std::string& v) -> std::optional<std::string> {
                           if (!v.empty() && !IsValidEmail(v)) return "must be an e-mail address";
                           return std::nullopt;
                       })},
        {"SENDGRID_WEBHOOK_PUBLIC_KEY", false,
         SectionString(&Config::acquisition, &AcquisitionSettings::sendgrid_webhook_public_key)},
        {"DISCOVERY_INTERVAL_SECONDS", false,
         SectionInt(&Config::acquisition, &AcquisitionSettings::discovery_interval_seconds, 60, 7 * 86400)},
        {"SEQUENCE_INTERVAL_SECONDS", false,
         SectionInt(&Config::acquisition, &AcquisitionSettings::sequence_interval_seconds, 1, 86400)},
        // The agent's settings may share a .env with the server; accepted here, used by gpuopt-agent.
        {"GPU_OPTIMIZER_API_KEY", true, Integration("GPU_OPTIMIZER_API_KEY")},
        {"GPU_OPTIMIZER_SERVER_URL", false, Integration("GPU_OPTIMIZER_SERVER_URL", CheckUrl)},
    };
    return settings;
}

// Features list only what the product does today; each feature adds itself here when it ships.
std::vector<Plan> DefaultPlans() {
    return {
        {Tier::kFree,
         "Free",
         0,
         2,
         100,
         30,
         false,
         false,
         false,
         false,
         false,
         {"GPU utilization and memory monitoring", "Idle detection, including GPUs idle while holding memory",
          "Idle cost and savings over your history", "Stop and auto-stop recommendations", "A weekly report by email",
          "30 days of history"}},
        {Tier::kProfessional,
         "Professional",
         49,
         std::nullopt,
         1000,
         395,
         true,
         true,
         true,
         true,
         false,
         {"Everything in Free", "Unlimited GPUs", "Idle alerts to Slack and by email", "A daily report by email",
          "Acting on idle GPUs: warn, then stop them or run your own command (dry run first)",
          "Right-sizing, consolidation and committed-use recommendations", "13 months of history"}},
        {Tier::kEnterprise,
         "Enterprise",
         199,
         std::nullopt,
         std::nullopt,
         395,
         true,
         true,
         true,
         true,
         true,
         {"Everything in Professional", "No API request limit",
          "Signed webhooks for alerts, recommendations, actions and payments"}},
    };
}

}  // namespace

const Plan* Config::FindPlan(Tier tier) const {
    for (const auto& p : plans) {
        if (p.tier == tier) return &p;
    }
    return nullptr;
}

std::vector<std::string> KnownSettingNames() {
    std::vector<std::string> names;
    for (const auto& s : Settings()) names.emplace_back(s.name);
    return names;
}

Result<Config> BuildConfig(const std::map<std::string, ConfigValue>& values) {
    Config config;
    config.plans = DefaultPlans();
    for (const auto& [name, cv] : values) {
        const Setting* setting = nullptr;
        for (const auto& s : Settings()) {
            if (name == s.name) setting = &s;
        }
        if (setting == nullptr) {
            if (cv.origin == ConfigOrigin::kConfigFile || cv.origin == ConfigOrigin::kDotEnv) {
                return Error::Validation(name, "unknown setting in " + cv.where);
            }
            continue;  // the environment holds many unrelated names
        }
        if (setting->secret && cv.origin == ConfigOrigin::kConfigFile) {
            return Error::Validation(name, "is a secret: set it in the environment or .env, not in " + cv.where);
        }
        if (auto err = setting->apply(config, cv.value)) {
            return Error::Validation(name, *err);
        }
    }
    return config;
}

}  // namespace gpuopt
