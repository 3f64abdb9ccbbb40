// Deleting the account and its data (decision 0025):
//   DELETE /api/me {"confirm": "<the account's email address>"}
// Everything the account holds goes in one transaction (history, recommendations, alerts, webhooks, keys,
// sessions, mails not sent yet); the payments and the revenue ledger stay for the books, tied to a row with
// no address and no key. A mail says so to the address the account had. Its keys and sessions stop at once.
#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/auth.hpp"
#include "api/web_session.hpp"
#include "common/email.hpp"
#include "http/await.hpp"
#include "mail/templates.hpp"

namespace gpuopt::api {

http::Handler MakeDeleteAccountHandler(Services& s) {
    return [&s](http::RequestContext& ctx) -> boost::asio::awaitable<http::Response> {
        const unsigned version = ctx.request.version();
        auto auth = co_await AuthorizeWithBody(s, ctx);
        if (auto* refused = std::get_if<http::Response>(&auth)) co_return std::move(*refused);
        const auto& body = std::get<JsonCaller>(auth).body;
        const Caller& caller = std::get<JsonCaller>(auth).caller;
        // Typing the address is the confirmation: a stray request (or a script's typo) deletes nothing.
        const auto* confirm = body.if_contains("confirm");
        if (confirm == nullptr || !confirm->is_string() ||
            NormalizeEmail(std::string_view(confirm->get_string())) != caller.account.email) {
            co_return CallerError(
                Error::Validation("confirm", "must be the account's email address, to confirm the deletion"), caller,
                version);
        }
        const SysSeconds now = UtcNow();
        store::AccountDeletion deletion;
        deletion.account_id = caller.account.id;
        deletion.now = now;
        deletion.farewell = mail::AccountDeleted(mail::Brand{"GPUOptimizer", s.config.base_url}, caller.account.id,
                                                 caller.account.email, caller.account.tier, now);
        auto write = [&](store::Callback<store::DeletedAccount> done) {
            s.store.accounts().DeleteAccount(std::move(deletion), std::move(done));
        };
        auto deleted = co_await http::AwaitCallback<store::DeletedAccount>(std::move(write));
        if (!deleted) co_return CallerError(deleted.error(), caller, version);
        // The address is not logged: it is what was just deleted.
        spdlog::info("account {} deleted at its owner's request: {} rows removed, {} unpaid checkouts closed",
                     caller.account.id, deleted->rows_removed, deleted->checkouts_closed);
        auto res = OkJson(boost::json::object{{"status", "success"},
                                              {"deleted", true},
                                              {"rows_removed", deleted->rows_removed},
                                              {"checkouts_closed", deleted->checkouts_closed}},
                          version, caller.limit);
        if (SessionCookieValue(s.config, ctx.request))
            res.set(http::bhttp::field::set_cookie, SessionClearCookie(s.config));
        co_return res;
    };
}

}  // namespace gpuopt::api
