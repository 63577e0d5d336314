# jetserve_warnings(target): the project's warning set; errors when JETSERVE_WERROR is on.
# Generated code (protobuf) is not passed through this. -Wshadow=local is GCC's (clang has
# no such option; the sanitizer/fuzz job builds with clang).
function(jetserve_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wshadow=local>
    $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wimplicit-fallthrough
      -Wno-missing-field-initializers>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${JETSERVE_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${JETSERVE_WERROR}>>:-Werror=all-warnings>)
endfunction()
