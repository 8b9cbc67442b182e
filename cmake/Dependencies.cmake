# Every third-party dependency is found here, once, and exposed as an imported target.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(RocksDB REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)
find_package(date CONFIG REQUIRED)           # libhowardhinnant-date-dev: time zones (tz database)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)  # routing rules: linear-time regex
find_path(CLD2_INCLUDE_DIR cld2/public/compact_lang_det.h REQUIRED)  # language detection
find_library(CLD2_LIBRARY NAMES cld2 REQUIRED)
add_library(cld2::cld2 INTERFACE IMPORTED)
target_include_directories(cld2::cld2 INTERFACE ${CLD2_INCLUDE_DIR})
target_link_libraries(cld2::cld2 INTERFACE ${CLD2_LIBRARY})
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0)  # email: MIME parsing and writing
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)  # workspace: argon2id password hashes
find_package(LibXml2 REQUIRED)                               # email: HTML bodies to text
find_path(PHONENUMBER_INCLUDE_DIR phonenumbers/phonenumberutil.h REQUIRED)  # SMS, WhatsApp: E.164
find_library(PHONENUMBER_LIBRARY NAMES phonenumber REQUIRED)
add_library(phonenumber::phonenumber INTERFACE IMPORTED)
target_include_directories(phonenumber::phonenumber INTERFACE ${PHONENUMBER_INCLUDE_DIR})
target_link_libraries(phonenumber::phonenumber INTERFACE ${PHONENUMBER_LIBRARY})
