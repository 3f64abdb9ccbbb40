// The operator's API (/api/admin/...) and how it is entered (decision 0027).
//
// An operator signs in with an email, a password and, once enrolled, a TOTP code; the session that starts
// is kept in its own table and carried by its own cookie (`__Host-gpuopt_admin` over https, else
// `gpuopt_admin`; HttpOnly, SameSite=Strict, Path=/, no Max-Age), so it is never valid on a customer's
// pages, nor a customer's session here. It ends when idle ADMIN_SESSION_TIMEOUT (15 min), at
// ADMIN_SESSION_MAX_AGE (8 h) after sign-in, on sign-out, and when the operator's password, factor or
// account changes. Writes need the session's X-CSRF-Token and a same-site request.
//
// `Authorization: Bearer <ADMIN_TOKEN>` reads the same operator API (scripts, /metrics) and changes nothing:
// a write with it is refused with 403. Every operator action, and every sign-in, is an audit row.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "api/api.hpp"
#include "http/types.hpp"
#include "store/admin.hpp"

namespace gpuopt::api {

// Who is calling the operator API.
struct OperatorCaller {
    std::optional<store::AdminUser> admin;  // nullopt: the ADMIN_TOKEN bearer (read-only)
    std::optional<store::AdminSession> session;
    std::string actor_type;  // "admin" or "token"
    std::string actor;       // the admin's email, or "ADMIN_TOKEN"
};

// Authorizes an operator call: an admin session (with the CSRF rule for a write), or the ADMIN_TOKEN bearer
// for a read. On refusal, the answer to send: 401 without either, 403 for a write with the token or a
// failed CSRF check. Sets ctx.principal.
boost::asio::awaitable<std::variant<OperatorCaller, http::Response>> AuthorizeOperator(Services& s,
                                                                                       http::RequestContext& ctx);

// An audit row for an action of `caller` in this request: time, actor, address, request id filled in.
store::AuditEntry AuditFor(const OperatorCaller& caller, const http::RequestContext& ctx, std::string action,
                           std::string target);

// The admin session cookie's name for this server's BASE_URL.
std::string AdminCookieName(const Config& config);

http::Handler MakeAdminLoginHandler(Services& s);
http::Handler MakeAdminLogoutHandler(Services& s);
http::Handler MakeAdminSessionHandler(Services& s);
http::Handler MakeAdminTotpBeginHandler(Services& s);
http::Handler MakeAdminTotpConfirmHandler(Services& s);
http::Handler MakeAdminAuditHandler(Services& s);
http::Handler MakeAdminAuditVerifyHandler(Services& s);

// The panel's pages (api/admin_customers.cpp, admin_payments.cpp, admin_security.cpp, admin_revenue.cpp,
// admin_exports.cpp).
http::Handler MakeAdminCustomersHandler(Services& s);
http::Handler MakeAdminCustomerHandler(Services& s);
http::Handler MakeAdminCustomerPlanHandler(Services& s);
http::Handler MakeAdminCustomerExtendHandler(Services& s);
http::Handler MakeAdminCustomerDisableHandler(Services& s, bool disable);
http::Handler MakeAdminCustomerWelcomeHandler(Services& s);
http::Handler MakeAdminCustomerDeleteHandler(Services& s);
// `what`: "customers", "payments" or "ledger".
http::Handler MakeAdminExportHandler(Services& s, std::string what);
http::Handler MakeAdminPaymentsHandler(Services& s);
http::Handler MakeAdminVerifyPaymentHandler(Services& s);
http::Handler MakeAdminRefundPaymentHandler(Services& s);
http::Handler MakeAdminGatewayEventsHandler(Services& s);
http::Handler MakeAdminMailHandler(Services& s);
// `retry`: send again; else cancel.
http::Handler MakeAdminMailActionHandler(Services& s, bool retry);
http::Handler MakeAdminSecurityEventsHandler(Services& s);
// Hands the guard the addresses blocked by hand that have not ended (at start, every 30 s, after a change).
Result<void> LoadAddressBlocks(store::Database& db, http::AddressGuard& guard);
http::Handler MakeAdminBlocksHandler(Services& s);
http::Handler MakeAdminBlockHandler(Services& s);
http::Handler MakeAdminUnblockHandler(Services& s);
http::Handler MakeAdminRevenueHandler(Services& s);
http::Handler MakeAdminSystemHandler(Services& s);

// Acquisition (api/admin_acquisition.cpp).
http::Handler MakeAdminFunnelHandler(Services& s);
http::Handler MakeAdminLeadsHandler(Services& s);
// `download`: the history as an audited JSON attachment.
http::Handler MakeAdminLeadHandler(Services& s, bool download);
http::Handler MakeAdminLeadMarkHandler(Services& s);
http::Handler MakeAdminLeadEraseHandler(Services& s);
// `conversations`: Reddit's, else GitHub's prospects.
http::Handler MakeAdminProspectsHandler(Services& s, bool conversations);
http::Handler MakeAdminDecideHandler(Services& s, bool conversation);
http::Handler MakeAdminSequencesHandler(Services& s);
http::Handler MakeAdminSequencePauseHandler(Services& s, bool pause);
// `csv`: every entry as an audited CSV attachment.
http::Handler MakeAdminSuppressionsHandler(Services& s, bool csv);
http::Handler MakeAdminSuppressHandler(Services& s);
http::Handler MakeAdminReferralsHandler(Services& s);
http::Handler MakeAdminCreateReferralHandler(Services& s);
http::Handler MakeAdminDiscoverHandler(Services& s);

}  // namespace gpuopt::api
