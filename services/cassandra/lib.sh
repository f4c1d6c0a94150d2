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

# Does a CQL server answer on host:port?
#
# A real handshake rather than a port probe: it sends a CQL v4 OPTIONS frame
# (version 0x04, flags 0, stream 0, opcode 0x05 OPTIONS, empty body) and expects a
# SUPPORTED frame back (response version 0x84, opcode 0x06). A port that accepts
# connections before the native transport is ready does not pass.
cql_answers() {
    local host="$1" port="$2"
    local reply
    reply="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
        head -c 5 <&3 | od -An -tx1
    ' "$host" "$port" 2>/dev/null)" || return 1
    # The 5th byte is the opcode; the first is the response version.
    [[ "$(echo $reply)" == "84 00 00 00 06" ]]
}
