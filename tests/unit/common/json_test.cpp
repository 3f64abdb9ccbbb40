#include "common/json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace gpuopt {
namespace {

TEST(Json, ParsesObjects) {
    auto v = ParseJson(R"({"a":[1,2.5,"x"],"b":{"c":null}})");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->at("a").as_array().size(), 3u);
}

TEST(Json, RejectsWhatIsNotStrictJson) {
    for (const char* bad : {"", "{", "{} {}", "[1,]", "{\"a\":1,}", "// c\n{}", "NaN", "[Infinity]", "[-Infinity]",
                            "[1e999]", "[-1e400]", "{'a':1}", "\"\xff\""}) {
        auto v = ParseJson(bad);
        EXPECT_FALSE(v.ok()) << bad;
        if (!v.ok()) {
            EXPECT_EQ(v.error().code, ErrorCode::kValidation);
        }
    }
}

TEST(Json, RefusesAnObjectThatRepeatsAKeyAtAnyDepth) {
    std::string many = "{";
    for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    for (const std::string& bad :
         {std::string(R"({"a":1,"a":2})"), std::string(R"({"gpu_util":5,"x":{},"gpu_util":90})"),
          std::string(R"({"o":{"b":[{"c":1,"c":1}]}})"),
          std::string(R"({"a\u0062":1,"ab":2})"),  // the same key, once escaped
          many + "\"k7\":0}"}) {
        auto v = ParseJson(bad);
        ASSERT_FALSE(v.ok()) << bad;
        EXPECT_EQ(v.error().code, ErrorCode::kValidation);
        EXPECT_NE(v.error().details.at("body").find("repeats the key"), std::string::npos)
            << v.error().details.at("body");
    }
    // Equal keys in different objects, and many distinct keys, are fine.
    EXPECT_TRUE(ParseJson(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})").ok());
    EXPECT_TRUE(ParseJson(many + "\"k40\":0}").ok());
    auto v = ParseJson(R"({"x\u00e9":1,"y":[1,2,{"z":null}]})");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), "{\"x\u00e9\":1,\"y\":[1,2,{\"z\":null}]}");
}

TEST(Json, LimitsNestingDepth) {
    const std::string ok = std::string(16, '[') + std::string(16, ']');
    const std::string deep = std::string(17, '[') + std::string(17, ']');
    EXPECT_TRUE(ParseJson(ok).ok());
    auto r = ParseJson(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().details.at("body").find("deeper"), std::string::npos);
    EXPECT_FALSE(ParseJson(std::string(100000, '[')).ok());
}

TEST(Json, WritesDoublesInPlainShortestForm) {
    boost::json::object o{{"a", 1101.6}, {"b", 1.53},    {"c", 3.0},    {"d", 0.1},
                          {"e", -2},     {"s", "q\"\n"}, {"n", nullptr}};
    EXPECT_EQ(ToJson(o), R"({"a":1101.6,"b":1.53,"c":3,"d":0.1,"e":-2,"s":"q\"\n","n":null})");
}

TEST(Json, EscapesStringsAsTheParserReadsThem) {
    const std::string awkward = std::string("tab\t quote\" slash\\ nl\n cr\r bell\x07 nul") + '\0' + " \xc3\xa9 /";
    std::string out;
    AppendJsonString(out, awkward);
    EXPECT_EQ(out, R"("tab\t quote\" slash\\ nl\n cr\r bell\u0007 nul\u0000 )"
                   "\xc3\xa9"
                   R"( /")");
    auto back = ParseJson(out);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(std::string(back->as_string()), awkward);
    EXPECT_EQ(ToJson(boost::json::object{{awkward, awkward}}), "{" + out + ":" + out + "}");  // keys too
}

TEST(Json, TheWriterPlacesCommasAndWritesWhatToJsonWrites) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("status").String("success");
    w.Key("n").Int(-42);
    w.Key("empty").BeginArray().EndArray();
    w.Key("series").BeginArray();
    for (int i = 0; i < 2; ++i) {
        w.BeginObject().Key("t").String("x" + std::to_string(i)).Key("v").Number(0.1 * (i + 1)).EndObject();
    }
    w.Number(std::nan(""));
    w.EndArray();
    w.Key("last").BeginObject().EndObject();
    w.EndObject();
    EXPECT_EQ(
        out,
        R"({"status":"success","n":-42,"empty":[],"series":[{"t":"x0","v":0.1},{"t":"x1","v":0.2},null],"last":{}})");
    auto parsed = ParseJson(out);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(ToJson(*parsed), out);
}

TEST(Json, FixedWritesExactlyWhatNumberWritesForTheRoundedValue) {
    auto expected = [](double v, int digits) {
        const double scale = std::pow(10.0, digits);
        std::string out;
        JsonWriter(out).Number(std::round(v * scale) / scale);
        return out;
    };
    auto fixed = [](double v, int digits) {
        std::string out;
        JsonWriter(out).Fixed(v, digits);
        return out;
    };
    // Hand-picked: ties, zeros of both signs, leading and trailing zeros, where the exponent form is shorter
    // (1e-04, 1e+06), the 15-digit edge, and what is not finite.
    const std::vector<double> picked{0,
                                     -0.0,
                                     0.5,
                                     -0.5,
                                     1.25,
                                     2.675,
                                     0.00005,
                                     0.0001,
                                     -0.0001,
                                     0.00049999,
                                     1000000,
                                     100000,
                                     123456789,
                                     3600,
                                     40960,
                                     0.1 + 0.2,
                                     -1e-12,
                                     1e14,
                                     999999999999999.4,
                                     1e15,
                                     1e300,
                                     std::numeric_limits<double>::infinity(),
                                     std::nan("")};
    for (double v : picked) {
        for (int digits = 0; digits <= 6; ++digits)
            EXPECT_EQ(fixed(v, digits), expected(v, digits)) << v << " " << digits;
    }
    // And a spread of magnitudes with both signs.
    std::mt19937_64 random(20261130);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int i = 0; i < 200000; ++i) {
        const double magnitude = std::pow(10.0, static_cast<int>(random() % 20) - 8);
        const double v = (random() % 2 == 0 ? 1 : -1) * unit(random) * magnitude;
        const int digits = static_cast<int>(random() % 7);
        ASSERT_EQ(fixed(v, digits), expected(v, digits)) << v << " " << digits;
    }
    // As a value in its place: the separator is written once.
    std::string out;
    JsonWriter w(out);
    w.BeginArray().Fixed(1.23456, 2).Fixed(0.0001, 4).Fixed(7, 1).EndArray();
    EXPECT_EQ(out, "[1.23,1e-04,7]");
    // AppendJsonFixed, the same text without a writer.
    std::string bare = "x=";
    AppendJsonFixed(bare, -0.125, 2);
    EXPECT_EQ(bare, "x=-0.13");
}

TEST(Json, ARawValueTakesItsPlaceAmongOthers) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("points").BeginArray();
    w.Raw(R"({"t":"a","v":1})").Raw(R"({"t":"b","v":2})");
    w.EndArray().Key("after").Raw("true").EndObject();
    EXPECT_EQ(out, R"({"points":[{"t":"a","v":1},{"t":"b","v":2}],"after":true})");
}

}  // namespace
}  // namespace gpuopt
