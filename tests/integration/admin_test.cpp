// The operator's side against the real server and the real `gpuopt admin` commands: an operator made from
// the command line signs in with the password it printed; the admin cookie's flags; one answer for every
// failed sign-in; an admin session is refused on customer pages and a customer session on the operator
// API; ADMIN_TOKEN reads and never writes; a write without the CSRF token, or from a sibling site, is
// refused; the account locks after MAX_LOGIN_ATTEMPTS and unlocks from the host; TOTP enrolment, codes
// used once, a secret stored encrypted under ENCRYPTION_KEY; idle sessions end; every action is an audit
// row, the chain verifies, and the database refuses to change or remove a row.
#include <regex>

#include "common/fernet.hpp"
#include "common/time.hpp"
#include "common/totp.hpp"
#include "integration/fixture.hpp"
#include "integration/operator.hpp"

namespace gpuopt::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

std::string CodeAt(const std::string& secret, int64_t step) { return totp::Hotp(*totp::DecodeBase32(secret), step); }

TEST(Admin, AnOperatorMadeFromTheCommandLineSignsInAndTheSessionsStayApart) {
    RunningServer s;
    std::string out;
    ASSERT_EQ(Admin(s, {"create-user", "--email", "Ops@Example.com"}, out), 0) << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("generated password \\(shown once[^)]*\\): ([A-Za-z0-9]{24})")))
        << out;
    const std::string password = m[1];
    EXPECT_NE(Admin(s, {"create-user", "--email", "ops@example.com"}, out), 0) << "the address is taken";
    ASSERT_EQ(Admin(s, {"list-users"}, out), 0);
    EXPECT_NE(out.find("ops@example.com  active  second factor: off  last sign-in: never"), std::string::npos) << out;
    // Only the argon2id hash is stored.
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM admin_users WHERE password_hash LIKE '$argon2id$%'"), 1);
    EXPECT_EQ(
        CountRows(s.DbPath(), "SELECT COUNT(*) FROM admin_users WHERE password_hash LIKE ?1", "%" + password + "%"), 0);

    // One answer for an unknown address and a wrong password.
    auto wrong = SignIn(s, "ops@example.com", "not the password at all");
    auto unknown = SignIn(s, "nobody@example.com", "not the password at all");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(unknown.status, 401) << unknown.body;
    EXPECT_EQ(wrong.body, unknown.body);
    EXPECT_NE(wrong.body.find("UNAUTHENTICATED"), std::string::npos) << wrong.body;
    EXPECT_EQ(SignIn(s, "ops@example.com", "").status, 400);
    EXPECT_EQ(Call(s, "POST", "/api/admin/login", "[]", {}).status, 400);
    // Another site's page cannot sign an operator in.
    auto cross =
        Send({"POST",
              s.Url("/api/admin/login"),
              boost::json::serialize(boost::json::object{{"email", "ops@example.com"}, {"password", password}}),
              {"Content-Type: application/json", "Sec-Fetch-Site: cross-site"}});
    EXPECT_EQ(cross.status, 403) << cross.body;

    auto good = SignIn(s, " OPS@example.com ", password);
    ASSERT_EQ(good.status, 200) << good.body;
    const std::string set_cookie = good.Header("set-cookie");
    EXPECT_TRUE(set_cookie.starts_with("gpuopt_admin=")) << set_cookie;
    EXPECT_NE(set_cookie.find("; HttpOnly"), std::string::npos) << set_cookie;
    EXPECT_NE(set_cookie.find("; SameSite=Strict"), std::string::npos) << set_cookie;
    EXPECT_EQ(set_cookie.find("Max-Age"), std::string::npos) << "a browser-session cookie: " << set_cookie;
    EXPECT_EQ(good.Header("cache-control"), "no-store");
    EXPECT_EQ(good.Json().at("email").as_string(), "ops@example.com");
    EXPECT_FALSE(good.Json().at("second_factor").as_bool());
    const Operator op{"Cookie: " + CookiePair(set_cookie), std::string(good.Json().at("csrf_token").as_string())};
    const std::string admin_value = CookiePair(set_cookie).substr(std::string("gpuopt_admin=").size());
    EXPECT_TRUE(StillSignedIn(s, op));
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), {op.cookie}).status, 200);

    // The admin session is nothing on the customer's side, under either cookie name.
    EXPECT_EQ(Get(s.Url("/api/me"), {op.cookie}).status, 401);
    EXPECT_EQ(Get(s.Url("/api/me"), {"Cookie: gpuopt_session=" + admin_value}).status, 401);
    // And a customer's session is nothing here.
    const std::string key = s.Signup("customer@example.com");
    auto customer = PostJson(s.Url("/api/login/key"), R"({"api_key":")" + key + R"("})");
    ASSERT_EQ(customer.status, 200) << customer.body;
    const std::string customer_pair = CookiePair(customer.Header("set-cookie"));
    const std::string customer_value = customer_pair.substr(customer_pair.find('=') + 1);
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), {"Cookie: " + customer_pair}).status, 401);
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), {"Cookie: gpuopt_admin=" + customer_value}).status, 401);
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), {"Authorization: Bearer " + key}).status, 401) << "a customer's key";

    // ADMIN_TOKEN reads the operator API and writes nothing.
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), Bearer(kAdminToken)).status, 200);
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), Bearer("wrong-admin-token-000000")).status, 401);
    const std::string before = DatabaseSnapshot(s.DbPath());
    for (const char* method : {"PUT", "DELETE"}) {
        auto res = Call(s, method, "/api/admin/totp", R"({"password":"x","secret":"MZXW6YTBOI","code":"123456"})",
                        Bearer(kAdminToken));
        EXPECT_EQ(res.status, 403) << method << " " << res.body;
        EXPECT_NE(res.body.find("read-only"), std::string::npos) << res.body;
    }
    EXPECT_EQ(Get(s.Url("/api/admin/totp/new"), Bearer(kAdminToken)).status, 403);

    // Writes need the CSRF token and a same-origin request; refused ones change nothing.
    EXPECT_EQ(Call(s, "POST", "/api/admin/logout", "", {op.cookie}).status, 403);
    EXPECT_EQ(
        Call(s, "POST", "/api/admin/logout", "", {op.cookie, "X-CSRF-Token: " + op.csrf, "Sec-Fetch-Site: same-site"})
            .status,
        403);
    EXPECT_EQ(Call(s, "PUT", "/api/admin/totp", R"({"password":"x","secret":"MZXW6YTBOI","code":"123456"})",
                   {op.cookie, "X-CSRF-Token: wrong"})
                  .status,
              403);
    EXPECT_EQ(DatabaseSnapshot(s.DbPath()), before);
    EXPECT_TRUE(StillSignedIn(s, op));

    auto out_res = Call(s, "POST", "/api/admin/logout", "", {op.cookie, "X-CSRF-Token: " + op.csrf});
    ASSERT_EQ(out_res.status, 200) << out_res.body;
    EXPECT_EQ(out_res.Json().at("sessions_revoked").as_int64(), 1);
    EXPECT_NE(out_res.Header("set-cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_FALSE(StillSignedIn(s, op));
    EXPECT_EQ(Get(s.Url("/api/admin/audit"), {op.cookie}).status, 401);

    // Every action is in the audit log, the chain holds, and the database refuses to rewrite it.
    EXPECT_EQ(AuditActions(s),
              (std::vector<std::string>{"admin.create success by cli", "admin.sign_in failure by admin",
                                        "admin.sign_in success by admin", "admin.sign_out success by admin"}));
    auto verify = Get(s.Url("/api/admin/audit/verify"), Bearer(kAdminToken));
    ASSERT_EQ(verify.status, 200) << verify.body;
    EXPECT_TRUE(verify.Json().at("intact").as_bool()) << verify.body;
    EXPECT_EQ(verify.Json().at("rows").as_int64(), 4);
    EXPECT_ANY_THROW(Execute(s.DbPath(), "UPDATE audit_log SET actor = 'someone else'"));
    EXPECT_ANY_THROW(Execute(s.DbPath(), "DELETE FROM audit_log"));
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM audit_log"), 4);
    ASSERT_EQ(Admin(s, {"verify-audit"}, out), 0) << out;
    EXPECT_NE(out.find("4 audit rows, chain intact"), std::string::npos) << out;
}

TEST(Admin, TheAccountLocksAfterMaxLoginAttemptsAndTheSecondFactorIsStoredEncrypted) {
    const std::string encryption_key = Fernet::GenerateKey();
    const Env env{{"MAX_LOGIN_ATTEMPTS", "3"}, {"ENCRYPTION_KEY", encryption_key}, {"ADMIN_SESSION_TIMEOUT", "600"}};
    RunningServer s(env);
    std::string out;
    ASSERT_EQ(Admin(s, {"create-user", "--email", "ops@example.com", "--password-stdin"}, out, env, "short"), 2);
    EXPECT_NE(out.find("at least 15 characters"), std::string::npos) << out;
    ASSERT_EQ(Admin(s, {"create-user", "--email", "ops@example.com", "--password-stdin"}, out, env, kPassword), 0)
        << out;
    EXPECT_EQ(out.find(kPassword), std::string::npos) << "a chosen password is never printed";

    for (int i = 0; i < 3; ++i) EXPECT_EQ(SignIn(s, "ops@example.com", "a wrong password, try again").status, 401);
    // Locked: the right password is refused too, with the same answer.
    auto locked = SignIn(s, "ops@example.com", kPassword);
    EXPECT_EQ(locked.status, 401) << locked.body;
    ASSERT_EQ(Admin(s, {"list-users"}, out, env), 0);
    EXPECT_NE(out.find("locked until"), std::string::npos) << out;
    // The security log is written after the answer (it is no part of it): waited for, not raced.
    EXPECT_TRUE(WaitFor([&] {
        return CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'admin_locked'") == 1;
    }));
    ASSERT_EQ(Admin(s, {"unlock-user", "--email", "ops@example.com"}, out, env), 0) << out;
    Operator op = SignedIn(s, "ops@example.com", kPassword);
    ASSERT_FALSE(op.cookie.empty());

    // Enrol a second factor: a fresh secret, confirmed with a code it makes and the password.
    auto fresh = Get(s.Url("/api/admin/totp/new"), {op.cookie});
    ASSERT_EQ(fresh.status, 200) << fresh.body;
    EXPECT_EQ(fresh.Header("cache-control"), "no-store");
    const std::string secret(fresh.Json().at("secret").as_string());
    EXPECT_TRUE(std::string(fresh.Json().at("otpauth_uri").as_string())
                    .starts_with("otpauth://totp/GPUOptimizer:ops@example.com?secret=" + secret));
    const int64_t step = totp::StepAt(UtcNow());
    const auto enrol = [&](const std::string& code, const std::string& password) {
        return Call(
            s, "PUT", "/api/admin/totp",
            boost::json::serialize(boost::json::object{{"password", password}, {"secret", secret}, {"code", code}}),
            {op.cookie, "X-CSRF-Token: " + op.csrf});
    };
    EXPECT_EQ(enrol("000000", kPassword).status, 400) << "a code the secret did not make";
    EXPECT_EQ(enrol(CodeAt(secret, step), "not my password at all").status, 403);
    auto enrolled = enrol(CodeAt(secret, step), kPassword);
    ASSERT_EQ(enrolled.status, 200) << enrolled.body;
    EXPECT_TRUE(enrolled.Json().at("signed_out").as_bool());
    EXPECT_FALSE(StillSignedIn(s, op)) << "a factor change ends the sessions";
    // Stored sealed under ENCRYPTION_KEY: the secret is nowhere in the database.
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM admin_users WHERE totp_secret LIKE 'gAAAAA%'"), 1);
    EXPECT_EQ(CountRows(s.DbPath(), "SELECT COUNT(*) FROM admin_users WHERE totp_secret LIKE ?1", "%" + secret + "%"),
              0);

    // Now the password alone fails, the enrolment's code cannot be used again, the next one signs in once.
    EXPECT_EQ(SignIn(s, "ops@example.com", kPassword).status, 401);
    EXPECT_EQ(SignIn(s, "ops@example.com", kPassword, CodeAt(secret, step)).status, 401) << "used at enrolment";
    auto with_code = SignIn(s, "ops@example.com", kPassword, CodeAt(secret, step + 1));
    ASSERT_EQ(with_code.status, 200) << with_code.body;
    EXPECT_TRUE(with_code.Json().at("second_factor").as_bool());
    EXPECT_EQ(SignIn(s, "ops@example.com", kPassword, CodeAt(secret, step + 1)).status, 401) << "a code works once";
    op = {"Cookie: " + CookiePair(with_code.Header("set-cookie")),
          std::string(with_code.Json().at("csrf_token").as_string())};
    EXPECT_TRUE(StillSignedIn(s, op));

    // Idle longer than ADMIN_SESSION_TIMEOUT: the session has ended.
    Execute(s.DbPath(), "UPDATE admin_sessions SET last_seen_at = '2026-01-01T00:00:00Z' WHERE csrf_token = ?1",
            op.csrf);
    EXPECT_FALSE(StillSignedIn(s, op));

    // A lost phone: the host removes the factor, and the password signs in again.
    ASSERT_EQ(Admin(s, {"reset-totp", "--email", "ops@example.com"}, out, env), 0) << out;
    EXPECT_NE(out.find("second factor: off"), std::string::npos) << out;
    EXPECT_EQ(SignIn(s, "ops@example.com", kPassword).status, 200);
    ASSERT_EQ(Admin(s, {"disable-user", "--email", "ops@example.com"}, out, env), 0) << out;
    EXPECT_EQ(SignIn(s, "ops@example.com", kPassword).status, 401) << "a disabled operator";

    EXPECT_EQ(AuditActions(s),
              (std::vector<std::string>{
                  "admin.create success by cli", "admin.sign_in failure by admin", "admin.sign_in failure by admin",
                  "admin.sign_in failure by admin", "admin.sign_in denied by admin", "admin.unlock success by cli",
                  "admin.sign_in success by admin", "admin.totp.enable success by admin",
                  "admin.sign_in failure by admin", "admin.sign_in failure by admin", "admin.sign_in success by admin",
                  "admin.sign_in failure by admin", "admin.totp.reset success by cli", "admin.sign_in success by admin",
                  "admin.disable success by cli", "admin.sign_in denied by admin"}));
    auto verify = Get(s.Url("/api/admin/audit/verify"), Bearer(kAdminToken));
    EXPECT_TRUE(verify.Json().at("intact").as_bool()) << verify.body;
}

TEST(Admin, RotateEncryptionMovesEverySealedValueUnderTheNewFirstKey) {
    const std::string old_key = Fernet::GenerateKey();
    const std::string new_key = Fernet::GenerateKey();
    const Env env{{"ENCRYPTION_KEY", old_key}};
    RunningServer s(env);
    std::string out;
    ASSERT_EQ(Admin(s, {"create-user", "--email", "ops@example.com", "--password-stdin"}, out, env, kPassword), 0)
        << out;
    Operator op = SignedIn(s, "ops@example.com", kPassword);
    auto fresh = Get(s.Url("/api/admin/totp/new"), {op.cookie});
    ASSERT_EQ(fresh.status, 200) << fresh.body;
    const std::string secret(fresh.Json().at("secret").as_string());
    auto enrolled =
        Call(s, "PUT", "/api/admin/totp",
             boost::json::serialize(boost::json::object{
                 {"password", kPassword}, {"secret", secret}, {"code", CodeAt(secret, totp::StepAt(UtcNow()))}}),
             {op.cookie, "X-CSRF-Token: " + op.csrf});
    ASSERT_EQ(enrolled.status, 200) << enrolled.body;

    // Without the old key the sealed secret cannot be read: refused, naming no value.
    EXPECT_EQ(Admin(s, {"list-users"}, out, {{"ENCRYPTION_KEY", new_key}}), 2) << out;
    EXPECT_NE(out.find("opens with none of the ENCRYPTION_KEY keys"), std::string::npos) << out;
    EXPECT_EQ(out.find(secret), std::string::npos);
    EXPECT_EQ(Admin(s, {"rotate-encryption"}, out, {}), 2) << "no key to encrypt with";
    // The new key first, the old one after it: everything moves under the new one.
    ASSERT_EQ(Admin(s, {"rotate-encryption"}, out, {{"ENCRYPTION_KEY", new_key + "," + old_key}}), 0) << out;
    EXPECT_NE(out.find("1 value(s) sealed"), std::string::npos) << out;
    ASSERT_EQ(Admin(s, {"rotate-encryption"}, out, {{"ENCRYPTION_KEY", new_key + "," + old_key}}), 0) << out;
    EXPECT_NE(out.find("0 value(s) sealed"), std::string::npos) << "nothing left under the old key: " << out;
    ASSERT_EQ(Admin(s, {"list-users"}, out, {{"ENCRYPTION_KEY", new_key}}), 0) << out;
    EXPECT_NE(out.find("second factor: on"), std::string::npos) << out;
    EXPECT_EQ(AuditActions(s).back(), "crypto.rotate success by cli");
}

TEST(Admin, ASprayOfSignInsFromOneAddressBlocksIt) {
    RunningServer s(Env{{"AUTH_FAILURE_LIMIT", "5"}});
    int refused = 0;
    for (int i = 0; i < 6; ++i) {
        auto res = SignIn(s, "guess" + std::to_string(i) + "@example.com", "a guessed password, long enough");
        if (res.status == 401) ++refused;
        if (i == 5) {
            EXPECT_EQ(res.status, 429) << res.body;
            EXPECT_FALSE(res.Header("retry-after").empty());
        }
    }
    EXPECT_EQ(refused, 5);
    EXPECT_TRUE(WaitFor([&] {
        return CountRows(s.DbPath(), "SELECT COUNT(*) FROM security_events WHERE kind = 'admin_sign_in_failed'") == 5;
    }));
}

}  // namespace
}  // namespace gpuopt::testing
