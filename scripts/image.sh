#!/usr/bin/env bash
# Build Winventory's container image here and check it (run by hand, as
# root, not by the test command: CI has no time for an image).
#
#   scripts/image.sh              # build, report the size, check
#   NO_BUILD=1 scripts/image.sh   # reuse target/release/winventory
#
# No registry is reachable on these machines and a Rust toolchain cannot be
# fetched inside a build, so this script:
#   1. installs podman and debootstrap from Debian's packages (once);
#   2. builds the release binary on the host and strips it;
#   3. makes a minimal Debian base (debootstrap --variant=minbase, with
#      ca-certificates and curl, documentation and caches removed), imported into
#      podman once and reused: localhost/winventory-base:bookworm;
#   4. builds deploy/Containerfile with both bases as build arguments: the
#      build stage FROM the base holding the host's binary (so it skips
#      cargo), the runtime stage FROM the plain base;
#   5. reports the image's size;
#   6. checks it without `podman run` (which fails here): mounts the image
#      read-only and runs the binary inside with chroot as an arbitrary UID
#      with group 0 (as OpenShift does), the database on a volume folder:
#      --version, `demo` on SQLite, and `serve` answering /healthz and /livez.
# Everything goes under .peers/image (ignored), reused when present.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/.peers/image"
TAG="localhost/winventory:$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
BASE=localhost/winventory-base:bookworm
PREBUILT=localhost/winventory-prebuilt:latest
UID_ANY=1000650000   # an OpenShift-style arbitrary UID, group 0
PORT=18097

banner() { printf '\n==> %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "run as root (podman's chroot builds and image mounts need it)" >&2; exit 1; }
mkdir -p "$WORK"

banner "1. podman and debootstrap"
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman debootstrap >/dev/null
fi
podman --version

banner "2. the release binary, built on the host"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/winventory"
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory
strip -o "$WORK/winventory" "$BIN"
ls -l "$WORK/winventory"

banner "3. a minimal Debian base from Debian's packages"
if ! podman image exists "$BASE"; then
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase --include=ca-certificates,curl bookworm "$WORK/rootfs" http://deb.debian.org/debian
    # A runtime base, not a system to manage: documentation, caches, and
    # what only package management needs (apt, perl for maintainer
    # scripts), iconv's charsets and the system time zones (the binary
    # carries its own) go.
    R="$WORK/rootfs"
    rm -rf "$R"/usr/share/{doc,man,info,locale,zoneinfo}/* "$R"/var/cache/apt/* \
        "$R"/var/lib/apt/lists/* "$R"/var/log/* "$R"/usr/lib/x86_64-linux-gnu/gconv \
        "$R"/usr/lib/x86_64-linux-gnu/perl-base "$R"/usr/bin/perl* "$R"/usr/lib/apt \
        "$R"/usr/lib/x86_64-linux-gnu/libapt-* "$R"/usr/bin/apt* "$R"/var/cache/debconf/*
    tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/sh"]' - "$BASE" >/dev/null
    rm -rf "$WORK/rootfs"
fi
podman image ls "$BASE"

banner "4. the image (deploy/Containerfile, both bases as build arguments)"
printf 'FROM %s\nCOPY winventory /out/winventory\n' "$BASE" >"$WORK/Containerfile.prebuilt"
podman build --isolation chroot -q -t "$PREBUILT" -f "$WORK/Containerfile.prebuilt" "$WORK" >/dev/null
podman build --isolation chroot -t "$TAG" -f deploy/Containerfile \
    --build-arg BUILD_BASE="$PREBUILT" --build-arg RUNTIME_BASE="$BASE" .

banner "5. size"
SIZE=$(podman image inspect --format '{{.Size}}' "$TAG")
GZ=$(podman save "$TAG" 2>/dev/null | gzip -1 | wc -c)
echo "$TAG: $((SIZE / 1000000)) MB unpacked, $((GZ / 1000000)) MB compressed (as a registry stores it); binary $(( $(stat -c %s "$WORK/winventory") / 1000000 )) MB; user $(podman image inspect --format '{{.Config.User}}' "$TAG")"

banner "6. the image checked: read-only, as UID $UID_ANY with group 0"
MNT=$(podman image mount "$TAG")
VOL="$WORK/volume"
rm -rf "$VOL" && mkdir -p "$VOL"
chown 0:0 "$VOL" && chmod 0770 "$VOL"   # a volume as OpenShift gives it: group 0 may write
cleanup() {
    [ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null || true
    umount "$MNT/var/lib/winventory" 2>/dev/null || true
    umount "$MNT/tmp" 2>/dev/null || true
    podman image unmount "$TAG" >/dev/null 2>&1 || true
}
trap cleanup EXIT
mount --bind "$VOL" "$MNT/var/lib/winventory"
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$MNT/tmp"   # an emptyDir for /tmp
if touch "$MNT/usr/local/bin/probe" 2>/dev/null; then
    echo "the image's root filesystem is writable: it should not be" >&2; exit 1
fi
inside() { # run the binary in the image as the arbitrary UID
    env -i HOME=/var/lib/winventory PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        WINVENTORY_DATABASE_URL=sqlite:///var/lib/winventory/winventory.db "$@"
}
inside chroot --userspec="$UID_ANY:0" "$MNT" /usr/local/bin/winventory --version
inside chroot --userspec="$UID_ANY:0" "$MNT" /bin/sh -c 'cd /var/lib/winventory && exec /usr/local/bin/winventory demo --machines 300' | tail -n 5
ls -ln "$VOL"
inside WINVENTORY_LISTEN="127.0.0.1:$PORT" WINVENTORY_LINK_KEYS="k1:image-check-0123456789abcdef0123456789" \
    chroot --userspec="$UID_ANY:0" "$MNT" /usr/local/bin/winventory serve --no-worker >"$WORK/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/livez" >/dev/null 2>&1 && break; sleep 0.1; done
echo "/livez: $(curl -fsS "http://127.0.0.1:$PORT/livez")"
echo "/healthz: $(curl -fsS "http://127.0.0.1:$PORT/healthz" | tr '\n' ' ')"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
banner "the image $TAG builds and runs read-only as an arbitrary UID ($((SIZE / 1000000)) MB)"
