#!/usr/bin/env python3
"""Fails when a test would silently not run.

Checks, for `make test`:
  1. every tests/unit/**/*_test.cpp and tests/integration/*_test.cpp is compiled (named in tests/CMakeLists.txt);
  2. every TEST/TEST_F/TEST_P/TYPED_TEST those files define, and every TYPED_TEST_P they or the headers
     under tests/unit define (typed suites shared by several binaries), is in the listing of a test binary;
  3. every test a binary lists is run by exactly one CTest test (not zero: a filter that matches
     nothing; not two: overlapping filters), and by at most one more with its servers on PostgreSQL
     (GPUOPT_TEST_BACKEND=postgres in the test's environment: integration_pg.*).
"""
import argparse
import fnmatch
import json
import pathlib
import re
import subprocess
import sys

MACRO = re.compile(r"^\s*(TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\(\s*(\w+)\s*,\s*(\w+)\s*\)", re.M)


def gtest_list(binary):
    out = subprocess.run([binary, "--gtest_list_tests"], check=True, capture_output=True, text=True).stdout
    names, suite = [], None
    for line in out.splitlines():
        if not line.strip():
            continue
        text = line.split("#")[0].rstrip()
        if not line.startswith(" "):
            suite = text.strip()  # "Suite." or "Prefix/Suite." or "Suite/0."
        else:
            names.append(suite + text.strip())
    return names


def ctest_tests(build_dir):
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out).get("tests", [])


def filter_matches(flt, name):
    positive, _, negative = flt.partition("-")
    def any_of(patterns):
        return any(fnmatch.fnmatchcase(name, p) for p in patterns.split(":") if p)
    return (any_of(positive) if positive else True) and not any_of(negative)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--binary", action="append", required=True)
    args = parser.parse_args()
    source = pathlib.Path(args.source_dir)
    problems = []

    cmake_text = (source / "CMakeLists.txt").read_text()
    files = sorted(list(source.glob("unit/**/*_test.cpp")) + list(source.glob("integration/*_test.cpp")))
    for f in files:
        if str(f.relative_to(source)) not in cmake_text:
            problems.append(f"{f.relative_to(source)} is not compiled into any test binary (tests/CMakeLists.txt)")

    listed = {}
    for binary in args.binary:
        listed[binary] = gtest_list(binary)
    everything = [n for names in listed.values() for n in names]

    headers = sorted(source.glob("unit/**/*.hpp"))
    for f in files + headers:
        for kind, suite, name in MACRO.findall(f.read_text()):
            if kind in ("TEST", "TEST_F"):
                found = f"{suite}.{name}" in everything
            elif kind == "TEST_P":
                found = any(fnmatch.fnmatchcase(n, f"*{suite}.{name}/*") for n in everything)
            elif kind == "TYPED_TEST_P":  # instantiated as Prefix/Suite/N.Name
                found = any(fnmatch.fnmatchcase(n, f"*/{suite}/*.{name}") for n in everything)
            else:
                found = any(fnmatch.fnmatchcase(n, f"{suite}/*.{name}") for n in everything)
            if not found:
                problems.append(f"{f.relative_to(source)}: {suite}.{name} is in no test binary's listing")

    registered = ctest_tests(args.build_dir)
    for binary, names in listed.items():
        mine = []
        for t in registered:
            command = t.get("command") or []
            if not command or pathlib.Path(command[0]).resolve() != pathlib.Path(binary).resolve():
                continue
            flt = next((a.split("=", 1)[1] for a in command[1:] if a.startswith("--gtest_filter=")), "*")
            env = next((p.get("value") for p in t.get("properties", []) if p.get("name") == "ENVIRONMENT"), [])
            mine.append((t["name"], flt, "GPUOPT_TEST_BACKEND=postgres" in (env or [])))
        for name in names:
            runs = [ctest for ctest, flt, pg in mine if not pg and filter_matches(flt, name)]
            if len(runs) != 1:
                where = ", ".join(runs) if runs else "no CTest test"
                problems.append(f"{pathlib.Path(binary).name}: {name} is run by {where}")
            again = [ctest for ctest, flt, pg in mine if pg and filter_matches(flt, name)]
            if len(again) > 1:
                problems.append(f"{pathlib.Path(binary).name}: {name} is run on PostgreSQL by {', '.join(again)}")

    total = sum(len(n) for n in listed.values())
    if problems:
        for p in problems:
            print("registration:", p)
        print(f"registration: {len(problems)} problem(s) among {total} tests in {len(files)} files")
        return 1
    print(f"registration: {total} tests in {len(files)} files, each registered exactly once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
