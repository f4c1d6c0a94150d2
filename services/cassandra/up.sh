#!/usr/bin/env bash
# Starts a single-node Apache Cassandra 5.0 on 127.0.0.1:9042 for development and
# tests, from its Maven Central jars (no Docker, no Apache mirror), and waits until it
# answers CQL. Idempotent: when a Cassandra already answers CQL there, it says so and
# exits 0.
#
# State lives under <repo root>/.services/cassandra/ (gitignored): pid, cp.txt (the
# resolved classpath), data/ (storage), logs/ (system.log, console.log).
#
# Environment (all optional):
#   CASSANDRA_START_TIMEOUT  seconds to wait for CQL (default 180)
#   CASSANDRA_HEAP           heap size, -Xms and -Xmx (default 2g)
#   JAVA17_HOME              a JDK 17 to use instead of the one found under /usr/lib/jvm
#   CASSANDRA_JVM_EXTRA      extra JVM flags, space-separated (e.g. for diagnostics)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cp_file="$state/cp.txt"
log_dir="$state/logs"
data_dir="$state/data"
timeout_s="${CASSANDRA_START_TIMEOUT:-180}"
heap="${CASSANDRA_HEAP:-2g}"

running_pid() {
    [[ -f "$pid_file" ]] || return 1
    local pid
    pid="$(cat "$pid_file")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

if cql_answers "$host" "$port"; then
    if pid="$(running_pid)"; then
        say "already running (pid $pid), CQL answers on $host:$port"
    else
        say "a Cassandra not started by this script already answers CQL on $host:$port; using it"
    fi
    exit 0
fi

if pid="$(running_pid)"; then
    say "process $pid is running but CQL does not answer yet; waiting for it"
else
    # A JDK 17: Cassandra 5.0 runs on 11 and 17, not on newer ones.
    find_java17() {
        local candidates=()
        [[ -n "${JAVA17_HOME:-}" ]] && candidates+=("$JAVA17_HOME")
        [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
        candidates+=(/usr/lib/jvm/java-17-* /usr/lib/jvm/*-17* /usr/lib/jvm/openjdk-17*)
        local c
        for c in "${candidates[@]}"; do
            if [[ -x "$c/bin/java" ]] && "$c/bin/java" -version 2>&1 | grep -q 'version "17\.'; then
                echo "$c/bin/java"
                return 0
            fi
        done
        if command -v java >/dev/null && java -version 2>&1 | grep -q 'version "17\.'; then
            command -v java
            return 0
        fi
        return 1
    }
    java="$(find_java17)" || die "no JDK 17 found (looked at \$JAVA17_HOME, \$JAVA_HOME, /usr/lib/jvm/java-17-*, java on PATH); install openjdk-17-jdk-headless"

    mkdir -p "$state" "$log_dir" "$data_dir" "$state/triggers"

    # Resolve the jars once into ~/.m2; the classpath is rewritten when the pom changes.
    if [[ ! -s "$cp_file" || "$here/pom.xml" -nt "$cp_file" ]]; then
        command -v mvn >/dev/null || die "mvn not found; install maven"
        say "downloading Cassandra jars (first run only)..."
        # Show one line per downloaded jar as progress, keep the full output in a log.
        if ! mvn -B -f "$here/pom.xml" dependency:build-classpath \
                -Dmdep.outputFile="$cp_file.tmp" 2>&1 \
                | tee "$log_dir/maven.log" \
                | grep --line-buffered -E '^\[INFO\] Downloaded from .*\.jar' \
                | sed -u -E 's#.*/([^/]+\.jar).*#  downloaded \1#'; then
            :
        fi
        [[ -s "$cp_file.tmp" ]] || { tail -n 30 "$log_dir/maven.log" >&2; die "maven could not resolve the Cassandra jars (full log: $log_dir/maven.log)"; }
        mv "$cp_file.tmp" "$cp_file"
    fi
    classpath="$(cat "$cp_file")"

    # A private CA and a server certificate for 127.0.0.1, for the optional TLS on the
    # CQL port (cassandra.yaml): clients trust .services/cassandra/tls/ca.pem.
    tls="$state/tls"
    if [[ ! -s "$tls/server.p12" ]]; then
        command -v openssl >/dev/null || die "openssl not found; install openssl"
        mkdir -p "$tls"
        say "creating a test CA and server certificate in $tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Drapetisca dev CA" \
            -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$tls/server.ext"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 3650 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
        openssl pkcs12 -export -in "$tls/server.pem" -inkey "$tls/server.key" \
            -certfile "$tls/ca.pem" -name cassandra -passout pass:drapetisca \
            -out "$tls/server.p12"
    fi

    # jamm measures memtable sizes; as a java agent it is exact, without it Cassandra
    # guesses. Optional: use it when the resolved classpath has it.
    agent=()
    jamm="$(tr ':' '\n' < "$cp_file" | grep -m1 '/jamm-[0-9.]*\.jar$' || true)"
    [[ -n "$jamm" ]] && agent=("-javaagent:$jamm")

    # The JPMS flags of upstream's conf/jvm17-server.options, and a G1 set-up sized for
    # a small heap on a small box (not upstream's server GC settings).
    jvm_flags=(
        "-Xms$heap" "-Xmx$heap" -Xss256k
        -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
        -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
        -XX:+PerfDisableSharedMem
        -XX:+HeapDumpOnOutOfMemoryError "-XX:HeapDumpPath=$state" -XX:+ExitOnOutOfMemoryError
        -Djava.net.preferIPv4Stack=true
        -Djdk.attach.allowAttachSelf=true
        -Dio.netty.tryReflectionSetAccessible=true
        -Dio.netty.allocator.useCacheForAllThreads=true
        -Dio.netty.allocator.maxOrder=11
        --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
        --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
        --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
        --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
        --add-exports java.sql/java.sql=ALL-UNNAMED
        --add-exports java.base/java.lang.ref=ALL-UNNAMED
        --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
        --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
        --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
        --add-opens java.base/java.lang.module=ALL-UNNAMED
        --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
        --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
        --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
        --add-opens java.base/jdk.internal.math=ALL-UNNAMED
        --add-opens java.base/jdk.internal.module=ALL-UNNAMED
        --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
        --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
        --add-opens java.base/sun.nio.ch=ALL-UNNAMED
        --add-opens java.base/java.io=ALL-UNNAMED
        --add-opens java.base/java.lang.reflect=ALL-UNNAMED
        --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
        --add-opens java.base/java.lang=ALL-UNNAMED
        --add-opens java.base/java.util=ALL-UNNAMED
        --add-opens java.base/java.nio=ALL-UNNAMED
    )
    cassandra_props=(
        "-Dcassandra.config=file://$here/cassandra.yaml"
        "-Dcassandra.storagedir=$data_dir"
        "-Dcassandra.logdir=$log_dir"
        "-Dcassandra.triggers_dir=$state/triggers"
        "-Dlogback.configurationFile=file://$here/logback.xml"
        -Dcassandra-foreground=yes
        # Cassandra writes its own pid here early in start-up, which also covers the
        # case where setsid had to fork.
        "-Dcassandra-pidfile=$pid_file"
        # A lone seed has nobody to gossip with: skip the waits meant for clusters.
        -Dcassandra.skip_wait_for_gossip_to_settle=0
        -Dcassandra.ring_delay_ms=100
        -Dcassandra.superuser_setup_delay_ms=0
    )

    # shellcheck disable=SC2206 # word splitting of the extra flags is the point
    extra=(${CASSANDRA_JVM_EXTRA:-})

    say "starting Cassandra with $java (logs: $log_dir)"
    # Where this run's part of system.log begins (logback appends across runs).
    stat -c %s "$log_dir/system.log" > "$state/log_offset" 2>/dev/null || echo 0 > "$state/log_offset"
    # setsid: the daemon outlives this script and any terminal or test harness that ran it.
    (
        cd "$state"
        exec setsid "$java" "${agent[@]}" "${jvm_flags[@]}" "${extra[@]}" "${cassandra_props[@]}" \
            -cp "$classpath" org.apache.cassandra.service.CassandraDaemon \
            </dev/null >"$log_dir/console.log" 2>&1
    ) &
    echo $! > "$pid_file"
fi

# The end of this run's log, for the error messages.
log_tail() {
    local offset
    offset="$(cat "$state/log_offset" 2>/dev/null || echo 0)"
    echo "--- $log_dir/console.log (tail) ---" >&2
    tail -n 20 "$log_dir/console.log" >&2 || true
    echo "--- $log_dir/system.log (tail of this run) ---" >&2
    tail -c +"$((offset + 1))" "$log_dir/system.log" 2>/dev/null | tail -n 40 >&2 || true
}

start=$SECONDS
while ! cql_answers "$host" "$port"; do
    pid="$(cat "$pid_file")"
    if ! kill -0 "$pid" 2>/dev/null; then
        log_tail
        rm -f "$pid_file"
        die "Cassandra (pid $pid) exited before CQL answered"
    fi
    if (( SECONDS - start >= timeout_s )); then
        log_tail
        die "CQL did not answer on $host:$port within ${timeout_s}s (pid $pid still running; stop it with services/cassandra/down.sh)"
    fi
    sleep 1
done
pid="$(cat "$pid_file")"
say "up in $((SECONDS - start))s (pid $pid): CQL on $host:$port"
