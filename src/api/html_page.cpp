#include "api/html_page.hpp"

#include "mail/templates.hpp"

namespace gpuopt::api {

http::Response HtmlPage(http::bhttp::status status, const std::string& title, const std::string& headline,
                        const std::string& detail, const PageButton* button, unsigned version) {
    http::Response res{status, version};
    res.set(http::bhttp::field::content_type, "text/html; charset=utf-8");
    res.set(http::bhttp::field::cache_control, "no-store");
    std::string action = R"(<p><a class="button" href="/">Back to GPUOptimizer</a></p>)";
    if (button != nullptr) {
        action = R"(<form method="post" action=")" + mail::Html(button->action) +
                 R"("><button class="button" type="submit">)" + mail::Html(button->label) + "</button></form>";
    }
    res.body() =
        R"(<!doctype html><html lang="en"><head><meta charset="utf-8">)"
        R"(<meta name="viewport" content="width=device-width, initial-scale=1"><title>)" +
        mail::Html(title) +
        R"(</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/app.css">)"
        R"(</head><body><header class="top"><a class="brand" href="/">)"
        R"(<img src="/favicon.svg" alt="" width="28" height="28"> GPUOptimizer</a></header>)"
        R"(<main class="payment-return"><section class="status-card done"><h1>)" +
        mail::Html(headline) + "</h1><p>" + mail::Html(detail) + "</p>" + action + "</section></main></body></html>";
    return res;
}

bool WantsHtml(const http::Request& req) {
    auto accept = req.find(http::bhttp::field::accept);
    return accept != req.end() && accept->value().find("text/html") != std::string_view::npos;
}

}  // namespace gpuopt::api
