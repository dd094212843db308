# image_contents: the Dockerfile's runtime stage rebuilt in a debootstrapped Debian 12 root
# (image_test.sh): its packages, user and binary; `auditor --version` and a short worker run
# against the local broker from inside it. Root (chroot, mounts); the first run on a
# machine debootstraps (a few minutes), later ones unpack the cached root (about a minute).
add_test(NAME image_contents
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/image_test.sh ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:auditor>)
set_tests_properties(image_contents PROPERTIES LABELS "deploy;integration"
                                               FIXTURES_REQUIRED kafka
                                               RESOURCE_LOCK "kafka_broker;debian_root"
                                               TIMEOUT 900)
