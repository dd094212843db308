# package_deb: the Debian package (cmake/package.cmake) built with cpack, inspected with
# dpkg-deb, installed with apt into a debootstrapped Debian 12 root, its units checked with
# that root's systemd-analyze (package_test.sh). Root (chroot, mounts); the debian_root lock
# because the roots share the apt caches with image_contents.
add_test(NAME package_deb
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/package_test.sh ${PROJECT_SOURCE_DIR}
                 ${PROJECT_BINARY_DIR} ${PROJECT_VERSION} $<TARGET_FILE:auditor>)
set_tests_properties(package_deb PROPERTIES LABELS deploy
                                            RESOURCE_LOCK debian_root
                                            TIMEOUT 900)
