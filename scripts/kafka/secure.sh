# Sourced by scripts/kafka.sh for `--secure`: the secured local broker's jars, key
# material, SCRAM users, listener properties and ACLs. Uses KAFKA_HOME, SECURE_DIR, HOST,
# PORT, CONTROLLER_PORT, INTERNAL_PORT, LIB, JAVA, SCRIPT_DIR, say and die from kafka.sh;
# sets POM and adds to JVM_OPTS.
#
# Everything lives in <home>/secure (mode 700): ca.key/ca.crt (the local CA), broker.p12
# (the broker's key and certificate, SAN 127.0.0.1 and localhost, so clients verify the
# host name), <user>.password and <user>.conf (an `auditor --config` file that points at
# the password file, so the password never appears on a command line), admin.properties
# (the Java admin client's config, for Acls.java).

# Secrets and the broker config that holds the inter-broker password: owner only.
umask 077

# Kafka 3.9 rather than the plain broker's 4.1: Debian's librdkafka 2.0.2 fails SCRAM with
# 4.x brokers (secure-pom.xml says why). 3.9 logs through log4j 1.x.
POM=$SCRIPT_DIR/kafka/secure-pom.xml
JVM_OPTS+=("-Dlog4j.configuration=file:$SCRIPT_DIR/kafka/log4j-secure.properties")

SECURE_USERS=(admin worker producer reader reset)
ACL_FILE=${AUDITOR_KAFKA_ACLS:-$SCRIPT_DIR/kafka/secure-acls.txt}
SCRAM_MODULE=org.apache.kafka.common.security.scram.ScramLoginModule

password_of() { cat "$SECURE_DIR/$1.password"; }

make_certificates() {
    if [[ ! -s $SECURE_DIR/ca.crt ]]; then
        say "creating a local CA in $SECURE_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=auditor local CA" \
            -keyout "$SECURE_DIR/ca.key" -out "$SECURE_DIR/ca.crt" 2>/dev/null \
            || die "openssl could not create the CA"
        rm -f "$SECURE_DIR/broker.p12"
    fi
    [[ -s $SECURE_DIR/broker.p12 ]] && return 0
    say "creating the broker certificate (CN=localhost, SAN IP:127.0.0.1, DNS:localhost)"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$SECURE_DIR/broker.key" -out "$SECURE_DIR/broker.csr" 2>/dev/null \
        || die "openssl could not create the broker key"
    openssl x509 -req -days 825 -in "$SECURE_DIR/broker.csr" -CA "$SECURE_DIR/ca.crt" \
        -CAkey "$SECURE_DIR/ca.key" -CAcreateserial -out "$SECURE_DIR/broker.crt" \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n') 2>/dev/null \
        || die "openssl could not sign the broker certificate"
    # The password goes through a file descriptor, not the command line.
    openssl pkcs12 -export -name broker -in "$SECURE_DIR/broker.crt" \
        -inkey "$SECURE_DIR/broker.key" -certfile "$SECURE_DIR/ca.crt" \
        -passout "file:$SECURE_DIR/keystore.password" -out "$SECURE_DIR/broker.p12" \
        || die "openssl could not write the broker keystore"
    rm -f "$SECURE_DIR/broker.csr" "$SECURE_DIR/broker.key"
}

write_client_configs() {
    local user
    for user in "${SECURE_USERS[@]}"; do
        cat >"$SECURE_DIR/$user.conf" <<CONF
# auditor --config file for User:$user on the secured local broker (scripts/kafka.sh --secure).
bootstrap-servers = $HOST:$PORT
kafka-security-protocol = SASL_SSL
kafka-sasl-mechanism = SCRAM-SHA-512
kafka-sasl-username = $user
kafka-sasl-password-file = $SECURE_DIR/$user.password
kafka-ssl-ca-location = $SECURE_DIR/ca.crt
CONF
    done
    cat >"$SECURE_DIR/admin.properties" <<PROPS
bootstrap.servers=$HOST:$PORT
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$SCRAM_MODULE required username="admin" password="$(password_of admin)";
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE_DIR/ca.crt
PROPS
}

# Passwords are made once, before the first format (which bootstraps them as SCRAM
# credentials); a later start must find the same ones.
ensure_secure_material() {
    command -v openssl >/dev/null || die "openssl not found (scripts/install-deps.sh installs it)"
    "$JAVA" --list-modules 2>/dev/null | grep -q '^jdk.compiler@' \
        || die "the ACL setup runs a Java source file: it needs a JDK (openjdk-17-jdk-headless)"
    mkdir -p "$SECURE_DIR"
    chmod 700 "$SECURE_DIR"
    local user
    for user in "${SECURE_USERS[@]}" keystore; do
        [[ -s $SECURE_DIR/$user.password ]] && continue
        if [[ -s $CLUSTER_ID_FILE && $user != keystore ]]; then
            die "$SECURE_DIR/$user.password is missing but the storage was formatted with it; delete $KAFKA_HOME to start over"
        fi
        openssl rand -hex 24 >"$SECURE_DIR/$user.password"
    done
    make_certificates
    write_client_configs
}

# StorageTool's --add-scram arguments, one per line. They are on the format command line
# for the second it runs: the only moment the passwords are.
scram_format_arguments() {
    local user
    for user in "${SECURE_USERS[@]}"; do
        echo "--add-scram"
        echo "SCRAM-SHA-512=[name=$user,password=$(password_of "$user")]"
    done
}

secure_listener_properties() {
    cat <<PROPS
# Clients: SASL_SSL with SCRAM-SHA-512. Inter-broker traffic (the transaction coordinator's
# markers to the partition leaders, on one node too) has its own SASL listener as admin.
# The controller listener stays PLAINTEXT on 127.0.0.1: KRaft cannot authenticate
# controller connections with SCRAM (the credentials live in the metadata it serves), so
# its principal, ANONYMOUS, must be a super user for broker registration and forwarding.
listeners=CLIENT://$HOST:$PORT,INTERNAL://$HOST:$INTERNAL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=CLIENT://$HOST:$PORT,INTERNAL://$HOST:$INTERNAL_PORT
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=$SCRAM_MODULE required;
listener.name.internal.scram-sha-512.sasl.jaas.config=$SCRAM_MODULE required username="admin" password="$(password_of admin)";
listener.name.client.ssl.keystore.type=PKCS12
listener.name.client.ssl.keystore.location=$SECURE_DIR/broker.p12
listener.name.client.ssl.keystore.password=$(password_of keystore)
listener.name.client.ssl.key.password=$(password_of keystore)

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
PROPS
}

# Makes the broker's ACLs those of $ACL_FILE (Acls.java, run by the JDK's source launcher
# against the broker's own kafka-clients jar).
apply_acls() {
    "$JAVA" "${JVM_OPTS[@]}" -cp "$LIB/*" "$SCRIPT_DIR/kafka/Acls.java" \
        "$SECURE_DIR/admin.properties" "$ACL_FILE" \
        || { echo "kafka.sh: error: applying the ACLs of $ACL_FILE failed" >&2; return 1; }
}
