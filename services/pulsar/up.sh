#!/usr/bin/env bash
# Starts a local standalone Apache Pulsar 4.0 broker for development and tests, from its
# Maven Central jars (no Docker), with token authentication, and waits until it serves.
#
# Idempotent: when the broker is already up and healthy it says so and exits 0; when one
# is still starting it waits for it. State lives under <repo>/.services/pulsar/ (pid,
# data, logs, classpath, secret key, tokens), which is gitignored.
#
#   broker  pulsar://127.0.0.1:6650       web/admin  http://127.0.0.1:18080
#   TLS     pulsar+ssl://127.0.0.1:6651   trusting .services/pulsar/tls/ca.cert.pem
#   client token   .services/pulsar/token        (role "drapetisca")
#   admin token    .services/pulsar/admin.token  (role "drapetisca-admin", superuser)
#
# Environment: PULSAR_JAVA_HOME to pick a JDK 17 by hand, PULSAR_START_TIMEOUT (seconds,
# default 180), PULSAR_MEM_OPTS to override the heap and direct memory flags.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="$root/.services/pulsar"
broker_port=6650
tls_port=6651
web_port=18080
timeout_s="${PULSAR_START_TIMEOUT:-180}"
pidfile="$state/pid"
log="$state/logs/pulsar.log"

say() { printf 'pulsar: %s\n' "$*"; }
die() { printf 'pulsar: error: %s\n' "$*" >&2; exit 1; }

# pid of our broker if it is alive, nothing otherwise (a stale pid file is ignored: the
# command line must name the standalone starter and this state directory)
running_pid() {
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" |
    grep -q "PulsarStandaloneStarter.*$state\|$state.*PulsarStandaloneStarter"; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ready: the admin API lists the default namespace and the binary protocol port accepts
healthy() {
  [[ -f "$state/admin.token" ]] || return 1
  curl -fsS --max-time 3 -H "Authorization: Bearer $(cat "$state/admin.token")" \
    "http://127.0.0.1:$web_port/admin/v2/namespaces/public" 2>/dev/null |
    grep -q '"public/default"' && port_open "$broker_port" && port_open "$tls_port"
}

# the game servers' partitioned command topic (docs/cluster.md) for the default world
# topic: instances sharing Pulsar and Cassandra need it and do not create it themselves
ensure_command_topic() {
  local url="http://127.0.0.1:$web_port/admin/v2/persistent/public/default/drapetisca-world-commands/partitions"
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X PUT \
    -H "Authorization: Bearer $(cat "$state/admin.token")" -H 'Content-Type: application/json' \
    -d 8 "$url")"
  case "$code" in
    204) say "created the command topic drapetisca-world-commands (8 partitions)" ;;
    409) ;;
    *) die "creating the command topic drapetisca-world-commands failed (HTTP $code)" ;;
  esac
}

print_usage() {
  say "broker  pulsar://127.0.0.1:$broker_port"
  say "TLS     pulsar+ssl://127.0.0.1:$tls_port (CA: $state/tls/ca.cert.pem)"
  say "web     http://127.0.0.1:$web_port"
  say "token   $state/token"
  say "use it: DRAPETISCA_PULSAR_URL=pulsar://127.0.0.1:$broker_port DRAPETISCA_PULSAR_TOKEN_FILE=$state/token"
}

find_java() {
  local candidates=()
  [[ -n "${PULSAR_JAVA_HOME:-}" ]] && candidates+=("$PULSAR_JAVA_HOME/bin/java")
  candidates+=(/usr/lib/jvm/java-17-*/bin/java /usr/lib/jvm/*-17*/bin/java /usr/lib/jvm/*17*/bin/java)
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && candidates+=("$(command -v java)")
  local j
  for j in "${candidates[@]}"; do
    [[ -x "$j" ]] || continue
    if "$j" -version 2>&1 | head -1 | grep -q 'version "17\.'; then
      echo "$j"
      return 0
    fi
  done
  die "no JDK 17 found (looked in /usr/lib/jvm, JAVA_HOME and PATH); install openjdk-17-jdk-headless or set PULSAR_JAVA_HOME"
}

# the broker's runtime classpath, resolved once into ~/.m2 by Maven
resolve_classpath() {
  local cp="$state/cp.txt"
  if [[ -s "$cp" && "$cp" -nt "$here/pom.xml" ]]; then
    # the Maven cache may have been wiped since: every jar must still be there
    local missing
    missing="$(tr ':' '\n' <"$cp" | while read -r jar; do [[ -f "$jar" ]] || echo "$jar"; done | head -1)"
    [[ -z "$missing" ]] && return 0
  fi
  command -v mvn >/dev/null || die "maven (mvn) is needed to fetch the Pulsar jars"
  say "downloading Pulsar jars (first run only)..."
  local mvn_log="$state/logs/mvn.log" started=$SECONDS
  # -B prints one "Downloaded from" line per file: count them as progress
  if ! mvn -B -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp.tmp" 2>&1 |
    tee "$mvn_log" |
    awk '/^\[INFO\] Downloaded from|^Downloaded from/ { n++; if (n % 50 == 0) { printf "pulsar:   %d files downloaded\n", n; fflush() } }
         END { printf "pulsar:   %d files downloaded\n", n }'; then
    tail -n 30 "$mvn_log" >&2
    die "maven could not resolve the Pulsar jars (full log: $mvn_log)"
  fi
  grep -q 'BUILD SUCCESS' "$mvn_log" || { tail -n 30 "$mvn_log" >&2; die "maven could not resolve the Pulsar jars (full log: $mvn_log)"; }
  mv "$cp.tmp" "$cp"
  say "jars ready in $((SECONDS - started)) s"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# an HS256 JWT for subject $1, signed with the broker's secret key
make_token() {
  local header payload key sig
  header="$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)"
  payload="$(printf '{"sub":"%s"}' "$1" | b64url)"
  key="$(od -An -v -tx1 "$state/secret.key" | tr -d ' \n')"
  sig="$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | b64url)"
  printf '%s.%s.%s' "$header" "$payload" "$sig"
}

# the secret key survives restarts, so tokens handed out stay valid
ensure_tokens() {
  if [[ ! -s "$state/secret.key" ]]; then
    head -c 32 /dev/urandom >"$state/secret.key"
    rm -f "$state/token" "$state/admin.token"
  fi
  [[ -s "$state/token" ]] || make_token drapetisca >"$state/token"
  [[ -s "$state/admin.token" ]] || make_token drapetisca-admin >"$state/admin.token"
  chmod 600 "$state/secret.key" "$state/token" "$state/admin.token"
}

# a local CA and a broker certificate for 127.0.0.1, so that pulsar+ssl:// can be tested
# with a CA file (as a managed service with a private CA would need)
ensure_tls() {
  local tls="$state/tls"
  [[ -s "$tls/broker.cert.pem" && -s "$tls/broker.key.pem" && -s "$tls/ca.cert.pem" ]] && return 0
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=drapetisca local test CA" \
      -keyout ca.key.pem -out ca.cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout broker.key.pem -out broker.csr.pem 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >broker.ext
    openssl x509 -req -days 3650 -in broker.csr.pem -CA ca.cert.pem -CAkey ca.key.pem \
      -CAcreateserial -extfile broker.ext -out broker.cert.pem 2>/dev/null
  ) || die "openssl could not make the local TLS certificates"
  chmod 600 "$tls"/*.key.pem
}

# the committed config plus the keys that need absolute paths into the state directory,
# written to $1
render_conf() {
  {
    cat "$here/standalone.conf"
    cat <<EOF

# --- added by services/pulsar/up.sh ---
# clients must present a JWT signed with this HS256 key
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=file://$state/secret.key
# any authenticated role may produce and consume; only the admin role is a superuser
authorizationEnabled=false
superUserRoles=drapetisca-admin
# the broker's own internal client (standalone set-up, namespace creation)
brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken
brokerClientAuthenticationParameters=file://$state/admin.token
# TLS beside the plain port (pulsar+ssl://127.0.0.1:$tls_port), certificate from ensure_tls
brokerServicePortTls=$tls_port
tlsCertificateFilePath=$state/tls/broker.cert.pem
tlsKeyFilePath=$state/tls/broker.key.pem
tlsTrustCertsFilePath=$state/tls/ca.cert.pem
EOF
  } >"$1"
}

mkdir -p "$state/logs" "$state/tmp"

# a broker started from an older configuration is restarted with the current one
if pid="$(running_pid)" && [[ -n "$pid" ]]; then
  ensure_tokens
  ensure_tls
  render_conf "$state/standalone.conf.next"
  if ! cmp -s "$state/standalone.conf.next" "$state/standalone.conf"; then
    say "configuration changed since pid $pid started: restarting it"
    bash "$here/down.sh"
  fi
fi

if pid="$(running_pid)" && [[ -n "$pid" ]]; then
  if healthy; then
    say "already running and healthy (pid $pid)"
    ensure_command_topic
    print_usage
    exit 0
  fi
  say "pid $pid is running but not ready yet: waiting for it"
else
  if port_open "$broker_port" || port_open "$tls_port" || port_open "$web_port"; then
    die "port $broker_port, $tls_port or $web_port is taken by a process this script did not start (another checkout's broker? its services/pulsar/down.sh stops it); stop it first"
  fi
  java="$(find_java)"
  resolve_classpath
  ensure_tokens
  ensure_tls
  render_conf "$state/standalone.conf"
  mem_opts="${PULSAR_MEM_OPTS:--Xms512m -Xmx768m -XX:MaxDirectMemorySize=512m}"
  # shellcheck disable=SC2206 # word splitting of the flag list is intended
  jvm_opts=(
    $mem_opts
    -XX:+UseG1GC -XX:MaxGCPauseMillis=10 -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1
    -XX:+ExitOnOutOfMemoryError
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    --add-opens java.base/java.util.zip=ALL-UNNAMED
    --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.platform=ALL-UNNAMED
    --add-opens java.base/sun.net=ALL-UNNAMED
    --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.leakDetection.level=disabled
    # native libraries (RocksDB, Netty epoll, CRC32C) unpack here: /tmp may be noexec
    "-Djava.io.tmpdir=$state/tmp"
    "-Dlog4j2.configurationFile=$here/log4j2.xml"
    "-Dpulsar.log.dir=$state/logs"
    -Dlog4j2.shutdownHookEnabled=false
  )
  say "starting the broker with $java"
  echo "--- up.sh start $(date -u +%FT%TZ) ---" >>"$log"
  # own session: a Ctrl-C in the terminal that ran up.sh must not take the broker down;
  # no inherited stdout, so a caller capturing our output is not held open by the broker
  cd "$state"
  setsid "$java" "${jvm_opts[@]}" -cp "$(cat "$state/cp.txt")" \
    org.apache.pulsar.PulsarStandaloneStarter \
    --config "$state/standalone.conf" --no-functions-worker --no-stream-storage \
    --advertised-address 127.0.0.1 \
    </dev/null >>"$state/logs/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
fi

started=$SECONDS
while ! healthy; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 40 "$log" "$state/logs/stdout.log" >&2 || true
    die "the broker exited during start-up (logs: $state/logs/)"
  fi
  elapsed=$((SECONDS - started))
  if ((elapsed >= timeout_s)); then
    tail -n 40 "$log" "$state/logs/stdout.log" >&2 || true
    die "the broker did not become ready within $timeout_s s (pid $pid still running; logs: $state/logs/; stop it with services/pulsar/down.sh)"
  fi
  ((elapsed > 0 && elapsed % 10 == 0)) && say "still starting (${elapsed} s)..."
  sleep 1
done
say "up and ready in $((SECONDS - started)) s (pid $pid)"
ensure_command_topic
print_usage
