# Registers one CTest test per GoogleTest suite of an executable (the suite's tests share what its fixture
# starts, such as a server). Run after each build of the executable, like gtest_discover_tests:
#   cmake -DTEST_EXECUTABLE=... -DTEST_PREFIX=integration. -DTEST_LABELS=integration -DTEST_TIMEOUT=600
#         -DCTEST_FILE=... -P register_suites.cmake
# The file it writes is included by CTest (TEST_INCLUDE_FILES), so every suite the binary has is run once,
# and a suite added to the sources is registered without editing any list.
# Optional: -DTEST_SUITES=A,B (only these suites), -DTEST_ENVIRONMENT=K=V|K=V (their environment),
# -DTEST_FIXTURES=name (a CTest fixture they need), -DTEST_COST=N (CTest's COST, which orders a first run
# that has no timings yet: 50 by default, so that suites of tens of seconds start before short tests).
cmake_policy(SET CMP0057 NEW)  # IN_LIST
if(NOT DEFINED TEST_COST)
  set(TEST_COST 50)
endif()
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE rc ERROR_VARIABLE errors)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${rc}): ${errors}")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(content "")
set(count 0)
foreach(line IN LISTS lines)
  # Suite lines start in the first column and end with '.' (a comment may follow for typed suites).
  if(line MATCHES "^([A-Za-z0-9_/]+)\\.")
    set(suite "${CMAKE_MATCH_1}")
    if(DEFINED TEST_SUITES)
      string(REPLACE "," ";" wanted "${TEST_SUITES}")
      if(NOT suite IN_LIST wanted)
        continue()
      endif()
    endif()
    string(APPEND content
      "add_test([=[${TEST_PREFIX}${suite}]=] [=[${TEST_EXECUTABLE}]=] [=[--gtest_filter=${suite}.*]=])\n"
      "set_tests_properties([=[${TEST_PREFIX}${suite}]=] PROPERTIES LABELS [=[${TEST_LABELS}]=] TIMEOUT ${TEST_TIMEOUT} COST ${TEST_COST})\n")
    if(DEFINED TEST_ENVIRONMENT)
      string(REPLACE "|" ";" environment "${TEST_ENVIRONMENT}")
      string(APPEND content
        "set_tests_properties([=[${TEST_PREFIX}${suite}]=] PROPERTIES ENVIRONMENT [=[${environment}]=])\n")
    endif()
    if(DEFINED TEST_FIXTURES)
      string(APPEND content
        "set_tests_properties([=[${TEST_PREFIX}${suite}]=] PROPERTIES FIXTURES_REQUIRED ${TEST_FIXTURES})\n")
    endif()
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test suites")
endif()
file(WRITE "${CTEST_FILE}" "${content}")
