# experiments_add_python_asan_test(NAME <test> PACKAGE <pkg> MODULE <target> [IGNORE <file>...])
#
# Registers a ctest that runs the calling folder's pytest suite (tests/) against <target>, an
# ASan+UBSan build of <pkg>'s extension module, with libasan and libubsan preloaded into the
# workspace interpreter (.venv/bin/python at the repository root). IGNORE names test files (in
# tests/) that cannot run there: ones that build wheels or read results with the lab.
function(experiments_add_python_asan_test)
  cmake_parse_arguments(ARG "" "NAME;PACKAGE;MODULE" "IGNORE" ${ARGN})
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE libasan OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libubsan.so
                  OUTPUT_VARIABLE libubsan OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(ignores "")
  foreach(file IN LISTS ARG_IGNORE)
    list(APPEND ignores "--ignore=${CMAKE_CURRENT_SOURCE_DIR}/tests/${file}")
  endforeach()
  add_test(NAME ${ARG_NAME}
           COMMAND ${EXPERIMENTS_ROOT}/cmake/run_python_under_asan.sh ${EXPERIMENTS_VENV_PYTHON}
                   $<TARGET_FILE:${ARG_MODULE}> ${CMAKE_CURRENT_SOURCE_DIR} ${ARG_PACKAGE}
                   ${ignores} -- ${libasan} ${libubsan})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT 300)
endfunction()
