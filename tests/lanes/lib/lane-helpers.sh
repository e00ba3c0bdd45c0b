# Helpers the lanes share (sourced; run-all.sh runs only tests/lanes/*.sh, not this folder).
# Each lane defines fail() before it sources this file.

# run-all.sh runs lanes side by side: two `dotnet build`s (or a build and `dotnet run`'s) of the same projects at once
# would race on their obj/ and bin/ files. Lanes build under this lock; publishes use their own directories.
build_lock_file() { local dir="${root:?}/artifacts"; mkdir -p "$dir"; echo "$dir/.lane-build.lock"; }
lane_build() { # PROJECT: dotnet build -c Release under the lanes' build lock
  flock "$(build_lock_file)" dotnet build "$1" -c Release -warnaserror -nologo -v:q
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

listening_url() { # LOGFILE PID: the first "Now listening on: http://…" address a .NET process logs
  local url=""
  for _ in $(seq 200); do
    url="$(sed -n 's/.*Now listening on: \(http:[^ ]*\).*/\1/p' "$1" | head -1)"
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

make_test_ca() { # DIR SUBJECT_ALT_NAME: a CA made now (DIR/ca.pem) and a server certificate it signs (DIR/server.pem, .key)
  local dir="$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$(basename "$0" .sh) lane test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || fail "openssl: CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=relay" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null || fail "openssl: server key"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null || fail "openssl: sign"
  chmod 644 "$dir/server.key" # nginx workers (nobody) read it in the relay-nginx lane; a throwaway test key
}

# A fake systemd: a Unix datagram socket at SOCKET that logs every notify message to LOG, one line each ("|" for
# newlines). Runs in the background; its pid is appended to the caller's `pids` array, which the lane's cleanup kills.
fake_systemd() { # SOCKET LOG
  python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", "|"), flush=True)
' "$1" >"$2" &
  pids+=($!)
  for _ in $(seq 50); do [ -S "$1" ] && break; sleep 0.1; done
}
