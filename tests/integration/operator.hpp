// An operator in the integration suites: made with the real `gpuopt admin` command, signed in through
// POST /api/admin/login, writing with the session's CSRF token; the audit log read back.
#pragma once

#include <boost/json/serialize.hpp>

#include <string>
#include <vector>

#include "integration/fixture.hpp"

namespace gpuopt::testing {

// Runs `gpuopt admin <args> --data-dir <the server's>`, with `stdin_text` as its input when given.
inline int Admin(const RunningServer& s, std::vector<std::string> args, std::string& output, const Env& env = {},
                 const std::string& stdin_text = "") {
    args.insert(args.begin(), "admin");
    args.emplace_back("--data-dir");
    args.emplace_back(s.dir.path());
    if (stdin_text.empty()) return RunGpuopt(args, env, output);
    // Through a shell, so that the command reads its password from a pipe as a script would give it.
    std::string line = R"(printf '%s\n' "$ADMIN_PASSWORD" | "$GPUOPT")";
    for (const auto& a : args) line += " '" + a + "'";
    Env with = env;
    with["ADMIN_PASSWORD"] = stdin_text;
    with["GPUOPT"] = GPUOPT_SERVER_BIN;
    if (TestOnPostgres()) with.emplace("DATABASE_URL", StoreLocation(s.dir.path()));
    return RunProgram("/bin/sh", {"-c", line}, with, output);
}

struct Operator {
    std::string cookie;  // "Cookie: gpuopt_admin=..."
    std::string csrf;
};

inline HttpResponse SignIn(const RunningServer& s, const std::string& email, const std::string& password,
                           const std::string& code = "") {
    boost::json::object body{{"email", email}, {"password", password}};
    if (!code.empty()) body["code"] = code;
    return Send({"POST", s.Url("/api/admin/login"), boost::json::serialize(body), {"Content-Type: application/json"}});
}

inline Operator SignedIn(const RunningServer& s, const std::string& email, const std::string& password,
                         const std::string& code = "") {
    auto res = SignIn(s, email, password, code);
    EXPECT_EQ(res.status, 200) << res.body;
    if (res.status != 200) return {};
    return {"Cookie: " + CookiePair(res.Header("set-cookie")), std::string(res.Json().at("csrf_token").as_string())};
}

inline bool StillSignedIn(const RunningServer& s, const Operator& op) {
    auto res = Get(s.Url("/api/admin/session"), {op.cookie});
    EXPECT_EQ(res.status, 200) << res.body;
    return res.status == 200 && res.Json().at("signed_in").as_bool();
}

// The audit log's actions, oldest first, read with the operator token.
inline std::vector<std::string> AuditActions(const RunningServer& s) {
    auto res = Get(s.Url("/api/admin/audit?limit=500"), Bearer(kAdminToken));
    EXPECT_EQ(res.status, 200) << res.body;
    std::vector<std::string> out;
    if (res.status != 200) return out;
    const auto json = res.Json();
    for (const auto& e : json.at("entries").as_array()) {
        out.insert(out.begin(), std::string(e.at("action").as_string()) + " " +
                                    std::string(e.at("result").as_string()) + " by " +
                                    std::string(e.at("actor_type").as_string()));
    }
    return out;
}

// A write as the panel makes it: the session's cookie and CSRF token, from the same origin.
inline HttpResponse OperatorCall(const RunningServer& s, const Operator& op, const std::string& method,
                                 const std::string& path, const std::string& body = "") {
    return Call(s, method, path, body, {op.cookie, "X-CSRF-Token: " + op.csrf, "Sec-Fetch-Site: same-origin"});
}

}  // namespace gpuopt::testing
