// CSV as RFC 4180 writes it (fields quoted when they hold a comma, a quote or a line break; quotes doubled;
// CRLF between records), with text cells guarded against formula injection: a cell that a spreadsheet
// would run as a formula (it starts with =, +, -, @, a tab or a carriage return) gets a leading apostrophe,
// OWASP's advice for CSV exports. Numbers are written as they are.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace gpuopt::csv {

// One text cell, guarded and quoted as needed.
std::string Text(std::string_view value);
// One number cell ("49", "-49.5"); never guarded, so a refund stays a negative number.
std::string Number(double value);
std::string Number(long long value);

// Appends one record of cells already made by Text or Number, and CRLF.
void AppendRow(std::string& out, std::initializer_list<std::string> cells);

}  // namespace gpuopt::csv
