# omniroute_connector(<name> SOURCES <files...> [LIBS <private libs...>])
#
# Adds a channel connector: the library omniroute_connector_<name> on the SDK and the
# shared HTTP base (connectors/http), with the project's warnings. Connectors built into
# the product also call it with BUILTIN, which links them into the host; their factory is
# one line in connectors/registry.cc. A connector elsewhere (tests/connectors/echo) links
# its library where it runs and registers its factory there.
function(omniroute_connector name)
  cmake_parse_arguments(C "BUILTIN" "" "SOURCES;LIBS" ${ARGN})
  set(target omniroute_connector_${name})
  add_library(${target} STATIC ${C_SOURCES})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC omniroute_connector_sdk omniroute_connector_http
                        PRIVATE ${C_LIBS})
  omniroute_warnings(${target})
  if(C_BUILTIN)
    set_property(GLOBAL APPEND PROPERTY OMNIROUTE_BUILTIN_CONNECTORS ${target})
  endif()
endfunction()
