# jetserve_test(NAME SOURCES a.cc b.cc LIBS x y [LABELS l1 l2] [ARGS ...])
# A GoogleTest executable with the test utilities (status matchers) and gtest_main linked,
# registered with ctest (one ctest entry per executable; LABELS become ctest labels).
function(jetserve_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(NOT JETSERVE_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} jetserve_testutil GTest::gmock GTest::gtest_main)
  jetserve_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Sanitized Debug builds run several times slower (tokenizer tests: ~65 CPU-s under
  # ASan+UBSan); their limit scales so a busy CI machine does not turn that into a timeout.
  if(JETSERVE_SANITIZE)
    math(EXPR T_TIMEOUT "${T_TIMEOUT} * 3")
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "JETSERVE_SOURCE_DIR=${PROJECT_SOURCE_DIR};JETSERVE_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
