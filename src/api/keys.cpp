// An account's API keys (SPEC §4): several, named, each shown once when made, rotated or revoked alone.
//   GET    /api/me/keys                 the keys: name, prefix, created, last used, revoked
//   POST   /api/me/keys {"name"}        a new key (the answer is the only time it is shown)
//   POST   /api/me/keys/{id}/rotate     a new key in its place, same name; the old one stops at once
//   DELETE /api/me/keys/{id}            revokes it
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "common/crypto.hpp"
#include "http/await.hpp"
#include "http/error_response.hpp"

namespace gpuopt::api {

namespace {

constexpr size_t kMaxNameLength = 64;

boost::json::object KeyJson(const store::ApiKeyInfo& k) {
    boost::json::object o{{"id", k.id},
                          {"name", k.name},
                          {"key_prefix", k.key_prefix},
                          {"created_at", FormatUtc(k.created_at)},
                          {"active", !k.revoked_at.has_value()}};
    o["last_used_at"] = k.last_used_at ? boost::json::value(FormatUtc(*k.last_used_at)) : boost::json::value(nullptr);
    o["revoked_at"] = k.revoked_at ? boost::json::value(FormatUtc(*k.revoked_at)) : boost::json::value(nullptr);
    return o;
}

// A new key and what the store keeps of it.
struct MadeKey {
    std::string key;
    store::NewApiKey stored;
};
MadeKey MakeKey(int64_t account_id, std::string name) {
    MadeKey out{GenerateApiKey(), {}};
    out.stored = {account_id, std::move(name), HashApiKey(out.key), out.key.substr(0, kApiKeyShownPrefix), UtcNow()};
    return out;
}

Result<std::string> KeyName(const boost::json::object& body) {
    const auto* name = body.if_contains("name");
    if (name == nullptr || !name->is_string()) return Error::Validation("name", "is required: what the key is for");
    std::string_view v = name->get_string();
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.empty() || v.size() > kMaxNameLength) {
        return Error::Validation("name", "must be 1 to " + std::to_string(kMaxNameLength) + " characters");
    }
    if (std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        return Error::Validation("name", "must not contain control characters");
    }
    return std::string(v);
}

boost::json::object ShownOnce(const MadeKey& made, const store::ApiKeyInfo& info) {
    boost::json::object o = KeyJson(info);
    o["status"] = "success";
    o["api_key"] = made.key;
    o["message"] = "This is the only time the key is shown: store it now.";
    return o;
}

}  // namespace

http::Handler MakeListKeysHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto keys = s.store.accounts().ListApiKeys(caller.account.id);
        if (!keys) co_return CallerError(keys.error(), caller, version);
        boost::json::array list;
        for (const auto& k : *keys) list.push_back(KeyJson(k));
        co_return OkJson(
            boost::json::object{
                {"status", "success"}, {"keys", std::move(list)}, {"max_active", store::kMaxActiveApiKeys}},
            version, caller.limit);
    };
}

http::Handler MakeCreateKeyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        auto name = KeyName(body);
        if (!name) co_return CallerError(name.error(), caller, version);
        const MadeKey made = MakeKey(caller.account.id, *name);
        auto write = [&](store::Callback<store::ApiKeyInfo> done) {
            s.store.accounts().CreateApiKey(made.stored, std::move(done));
        };
        auto info = co_await http::AwaitCallback<store::ApiKeyInfo>(std::move(write));
        if (!info) co_return CallerError(info.error(), caller, version);
        co_return OkJson(ShownOnce(made, *info), version, caller.limit);
    };
}

http::Handler MakeRotateKeyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto id = IdParam(ctx);
        if (!id) co_return CallerError(Error::Validation("id", "must be a key id"), caller, version);
        const MadeKey made = MakeKey(caller.account.id, "");
        auto write = [&](store::Callback<std::optional<store::ApiKeyInfo>> done) {
            s.store.accounts().RotateApiKey(caller.account.id, *id, made.stored, std::move(done));
        };
        auto info = co_await http::AwaitCallback<std::optional<store::ApiKeyInfo>>(std::move(write));
        if (!info) co_return CallerError(info.error(), caller, version);
        if (!*info) co_return CallerError({ErrorCode::kNotFound, "No active key with that id", {}}, caller, version);
        auto body = ShownOnce(made, **info);
        body["replaces"] = *id;
        co_return OkJson(body, version, caller.limit);
    };
}

http::Handler MakeRevokeKeyHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeCustomer(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const Caller& caller = std::get<Caller>(auth);
        auto id = IdParam(ctx);
        if (!id) co_return CallerError(Error::Validation("id", "must be a key id"), caller, version);
        auto write = [&](store::Callback<bool> done) {
            s.store.accounts().RevokeApiKey(caller.account.id, *id, UtcNow(), std::move(done));
        };
        auto revoked = co_await http::AwaitCallback<bool>(std::move(write));
        if (!revoked) co_return CallerError(revoked.error(), caller, version);
        if (!*revoked) co_return CallerError({ErrorCode::kNotFound, "No active key with that id", {}}, caller, version);
        co_return OkJson(boost::json::object{{"status", "success"}, {"id", *id}, {"revoked", true}}, version,
                         caller.limit);
    };
}

}  // namespace gpuopt::api
