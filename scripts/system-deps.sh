#!/usr/bin/env bash
# Installs the Debian packages Sovra's tests drive (real clients, SoftHSM2, Chromium, wrk) when
# missing, and starts the local PostgreSQL and NATS services when they are installed but down.
# Idempotent; CI and developers run it through `npm test`.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
    echo "system-deps: need root (or sudo) to run: $*" >&2; return 1; fi
}

# command → Debian package
declare -A NEEDED=(
  [/usr/bin/aws]=awscli
  [/usr/bin/s3cmd]=s3cmd
  [/usr/bin/rclone]=rclone
  [/usr/bin/softhsm2-util]=softhsm2
  [/usr/bin/chromium]=chromium
  [/usr/bin/wrk]=wrk
  [/usr/bin/openssl]=openssl
  [/usr/bin/pg_isready]=postgresql-client
)
missing=()
for path in "${!NEEDED[@]}"; do
  [ -x "$path" ] || missing+=("${NEEDED[$path]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# PostgreSQL on 127.0.0.1:5432 (the metadata suite must run against it; tests fail if it is down).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if ls /etc/postgresql >/dev/null 2>&1; then
    echo "system-deps: starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi

# NATS with JetStream on 127.0.0.1:4222 (event notifications).
if [ -x /usr/sbin/nats-server ] && ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  echo "system-deps: starting NATS"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
