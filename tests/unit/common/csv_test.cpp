#include "common/csv.hpp"

#include <gtest/gtest.h>

namespace gpuopt::csv {
namespace {

TEST(Csv, PlainTextIsWrittenAsItIs) {
    EXPECT_EQ(Text("ada@example.com"), "ada@example.com");
    EXPECT_EQ(Text(""), "");
    EXPECT_EQ(Text("two words"), "two words");
}

TEST(Csv, FieldsWithCommasQuotesOrLineBreaksAreQuotedAndQuotesDoubled) {
    EXPECT_EQ(Text("a, b"), "\"a, b\"");
    EXPECT_EQ(Text("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(Text("line\r\nnext"), "\"line\r\nnext\"");
    EXPECT_EQ(Text("line\nnext"), "\"line\nnext\"");
}

TEST(Csv, CellsASpreadsheetWouldRunAsFormulasGetAnApostrophe) {
    EXPECT_EQ(Text("=1+2"), "'=1+2");
    EXPECT_EQ(Text("+1"), "'+1");
    EXPECT_EQ(Text("-1"), "'-1");
    EXPECT_EQ(Text("@SUM(A1)"), "'@SUM(A1)");
    EXPECT_EQ(Text("\tcmd"), "'\tcmd");
    EXPECT_EQ(Text("=HYPERLINK(\"http://x\",\"a, b\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"a, b\"\")\"");
    EXPECT_EQ(Text("a=b"), "a=b") << "only the first character counts";
}

TEST(Csv, NumbersAreNeverGuarded) {
    EXPECT_EQ(Number(-49.0), "-49");
    EXPECT_EQ(Number(49.5), "49.5");
    EXPECT_EQ(Number(0.1 + 0.2), "0.3");
    EXPECT_EQ(Number(-0.0), "0");
    EXPECT_EQ(Number(42LL), "42");
}

TEST(Csv, RecordsEndWithCrLf) {
    std::string out;
    AppendRow(out, {Text("id"), Text("email")});
    AppendRow(out, {Number(1LL), Text("a,b@example.com")});
    EXPECT_EQ(out, "id,email\r\n1,\"a,b@example.com\"\r\n");
}

}  // namespace
}  // namespace gpuopt::csv
