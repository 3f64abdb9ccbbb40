// The few pages the server writes itself rather than serving from web/: the unsubscribe and sign-in link
// landings (a GET that shows one button; only the button's POST acts, as mail scanners open every link).
#pragma once

#include <string>

#include "http/types.hpp"

namespace gpuopt::api {

struct PageButton {
    std::string action;  // the form's POST target
    std::string label;
};

// A small page in the site's style: a headline, a paragraph, then the button (when given) or a link home.
http::Response HtmlPage(http::bhttp::status status, const std::string& title, const std::string& headline,
                        const std::string& detail, const PageButton* button, unsigned version);

// True when the request prefers an HTML answer (a browser's form post) to JSON.
bool WantsHtml(const http::Request& req);

}  // namespace gpuopt::api
