# Sourced by up.sh and down.sh: where the development Cassandra keeps its state, and
# how to tell that it answers CQL.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
# Everything the running server owns (gitignored): pid, classpath, data, logs.
state="$repo_root/.services/cassandra"
pid_file="$state/cassandra.pid"
host=127.0.0.1
port=9042

say() { echo "cassandra: $*"; }
die() { echo "cassandra: error: $*" >&2; exit 1; }

# The superuser Cassandra creates on first start (PasswordAuthenticator), which the
# tests and the benchmark log in as.
cql_user="${CASSANDRA_USER:-cassandra}"
cql_password="${CASSANDRA_PASSWORD:-cassandra}"

# Does a CQL server answer on host:port, and let us log in?
#
# A real handshake rather than a port probe, in CQL protocol v4 frames (9-byte header:
# version, flags, stream, opcode, body length): STARTUP with CQL_VERSION; the server
# answers READY (no authentication) or AUTHENTICATE, then we send AUTH_RESPONSE with a
# SASL PLAIN token and expect AUTH_SUCCESS. A port that accepts connections before the
# native transport is ready, or before the default superuser exists, does not pass.
cql_answers() {
    local host="$1" port="$2"
    timeout 5 bash -c '
        set -e
        exec 3<>"/dev/tcp/$0/$1"
        # one response header, byte by byte (dd bs=1 never reads past it), as numbers
        header() { dd bs=1 count=9 <&3 2>/dev/null | od -An -tu1; }
        # STARTUP, body: string map {CQL_VERSION: 3.0.0}
        printf "\x04\x00\x00\x01\x01\x00\x00\x00\x16\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0" >&3
        read -r _ _ _ _ opcode l1 l2 l3 l4 < <(header)
        [[ "$opcode" == 2 ]] && exit 0        # READY: no authentication
        [[ "$opcode" == 3 ]] || exit 1        # anything but AUTHENTICATE
        dd bs=1 count=$(( (l1 << 24) | (l2 << 16) | (l3 << 8) | l4 )) <&3 >/dev/null 2>&1
        # AUTH_RESPONSE, body: [bytes] of "\0user\0password"
        token_length=$(( 2 + ${#2} + ${#3} ))
        printf "\x04\x00\x00\x02\x0f" >&3
        printf "%08x%08x" $(( token_length + 4 )) "$token_length" | sed "s/../\\\\x&/g" | xargs -0 printf >&3
        printf "\x00%s\x00%s" "$2" "$3" >&3
        read -r _ _ _ _ opcode _ < <(header)
        [[ "$opcode" == 16 ]]                 # AUTH_SUCCESS
    ' "$host" "$port" "$cql_user" "$cql_password" 2>/dev/null
}
