# What `cmake --install` puts where, the package that `find_package(patchbay)` finds, the
# pkg-config files, and the Debian package `cpack -G DEB` makes (docs/packaging.md).
#
#   bin/patchbay                                   the CLI (the devtools page embedded)
#   lib/libpatchbay.a, lib/libpatchbay_runner.a    patchbay::patchbay, patchbay::runner
#   include/patchbay/*.hpp                         the public headers (runner.hpp: patchbay::runner)
#   lib/cmake/patchbay/                            patchbayConfig.cmake and the exported targets
#   lib/pkgconfig/patchbay.pc, patchbay-runner.pc
#   share/patchbay/ui/index.html                   the devtools page as a file
include(CMakePackageConfigHelpers)

set(PATCHBAY_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/patchbay)

install(TARGETS patchbay patchbay_runner EXPORT patchbayTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(TARGETS patchbay_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/patchbay DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(FILES ${CMAKE_BINARY_DIR}/ui/index.html DESTINATION ${CMAKE_INSTALL_DATADIR}/patchbay/ui COMPONENT cli)
install(EXPORT patchbayTargets NAMESPACE patchbay:: DESTINATION ${PATCHBAY_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/patchbayConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/patchbayConfig.cmake
                              INSTALL_DESTINATION ${PATCHBAY_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/patchbayConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/patchbayConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/patchbayConfigVersion.cmake
        DESTINATION ${PATCHBAY_CMAKE_DIR} COMPONENT dev)

# Both libraries are static, so their own dependencies go into Requires (not Requires.private):
# a plain `pkg-config --libs patchbay` must be enough to link. The prefix is taken from where the
# .pc file lies, so the same files serve `cmake --install --prefix X` and the Debian package.
file(RELATIVE_PATH PATCHBAY_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" PATCHBAY_PC_TO_PREFIX "${PATCHBAY_PC_TO_PREFIX}")
foreach(pc patchbay patchbay-runner)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT dev)
endforeach()

# cpack -G DEB: one package with the CLI, the libraries, the headers and the page. The runtime
# Depends are the Debian 12 packages of the shared libraries the CLI links; building against the
# libraries needs their -dev packages, which are Recommends so a CLI-only install can skip them.
set(CPACK_PACKAGE_NAME patchbay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "patchbay")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "realistic networks from Linux namespaces: NAT, links, regions, sims")
set(CPACK_PACKAGE_CONTACT "patchbay developers <patchbay@localhost>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${PATCHBAY_DEB_DEPENDS}")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "pkg-config, libasio-dev, nlohmann-json3-dev, libnftables-dev, libnftnl-dev, libmnl-dev, libnetfilter-queue-dev, libpcap0.8-dev, libtomlplusplus-dev, libre2-dev, libarchive-dev, libcurl4-openssl-dev, libssl-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "iperf3, socat, tcpdump")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
set(CPACK_SET_DESTDIR OFF)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
