# jetserve_warnings(target): the project's warning set; errors when JETSERVE_WERROR is on.
# Generated code (protobuf) is not passed through this.
function(jetserve_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
      -Wimplicit-fallthrough -Wno-missing-field-initializers>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${JETSERVE_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${JETSERVE_WERROR}>>:-Werror=all-warnings>)
endfunction()
