# The Debian package (CPack's DEB generator): `cpack --config build/CPackConfig.cmake`
# after building the `auditor` target writes auditor_<version>_<arch>.deb. Checked by the
# test package_deb (tests/deploy/package.cmake).
#
#   /usr/bin/auditor                              the binary (stripped)
#   /lib/systemd/system/auditor-worker@.service   one worker per instance (deploy/systemd/)
#   /lib/systemd/system/auditor-tick-api.service  the tick API
#   /etc/auditor/worker-example.conf              conffiles: an instance's settings, the
#   /etc/auditor/tick-api.conf                    tick API's (deploy/debian/)
#
# Depends is computed from the binary by dpkg-shlibdeps, plus adduser for the postinst,
# which creates the system user `auditor`.

install(TARGETS auditor RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/auditor-worker@.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/auditor-tick-api.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/worker-example.conf
              ${PROJECT_SOURCE_DIR}/deploy/debian/tick-api.conf
        DESTINATION /etc/auditor)
# The package holds only the binary: packaging must not wait for every test to build.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The conffiles list, written into the build directory: dpkg keeps an admin's edits to
# these on upgrade.
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles
     "/etc/auditor/worker-example.conf\n/etc/auditor/tick-api.conf\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME auditor)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "auditor maintainers <auditor@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kafka Streams-style aggregation of audit ticks")
set(CPACK_PACKAGE_DESCRIPTION
    "auditor counts audit ticks from Kafka per process and activity in tumbling windows \
(1 minute, 1 hour, 1 day) kept in RocksDB, exactly once, and publishes the rollups to \
Kafka. The package holds the auditor binary (worker, tick API, dashboard, tools), the \
systemd units auditor-worker@.service and auditor-tick-api.service, and their example \
configuration in /etc/auditor.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
