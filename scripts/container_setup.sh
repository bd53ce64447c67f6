#!/usr/bin/env bash
# Podman on a Debian 12 machine without Docker, systemd or an image registry, so
# that `make test-container` can build the Dockerfile and run the suite in it.
# Idempotent; run as root. Each step is skipped when already done.
#
#   scripts/container_setup.sh [PYTHON]
#
# 1. podman and its helpers from Debian's archive;
# 2. /etc/containers/containers.conf for this kind of machine;
# 3. podman-compose (PyPI) in its own venv, /opt/podman-compose;
# 4. a stand-in for python:3.11.7-slim-bookworm when no registry can serve it:
#    debootstrap (minbase) of bookworm with the official image's runtime
#    libraries, and PYTHON (default python3.11, which must be CPython 3.11.7)
#    copied to /usr/local. It is NOT the official image: another build of the
#    same Python, about 100 MB bigger.
set -euo pipefail

BASE_IMAGE=python:3.11.7-slim-bookworm
PYTHON=${1:-python3.11}
COMPOSE_VENV=/opt/podman-compose
PODMAN_COMPOSE_VERSION=1.6.0
MIRROR=http://deb.debian.org/debian
PACKAGES=(podman buildah netavark aardvark-dns fuse-overlayfs slirp4netns uidmap iptables runc debootstrap)
# what the official slim image carries besides Python
BASE_LIBS=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libuuid1,zlib1g,libexpat1,libnsl2

say() { echo "container_setup: $*"; }

[ "$(id -u)" = 0 ] || { echo "container_setup: run as root (it installs packages)" >&2; exit 2; }

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# runc: crun refuses hybrid cgroups; cgroupfs and a file event log: no systemd;
# fixed ulimits: root cannot raise its limits here, and podman's default tries to.
CONF=/etc/containers/containers.conf
WANTED='[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"'
if [ "$(cat "$CONF" 2>/dev/null)" != "$WANTED" ]; then
    say "writing $CONF"
    mkdir -p /etc/containers
    [ -f "$CONF" ] && cp "$CONF" "$CONF.before-container-setup"
    printf '%s\n' "$WANTED" > "$CONF"
fi

if [ ! -x "$COMPOSE_VENV/bin/podman-compose" ]; then
    say "installing podman-compose $PODMAN_COMPOSE_VERSION in $COMPOSE_VENV"
    "$PYTHON" -m venv "$COMPOSE_VENV"
    "$COMPOSE_VENV/bin/python" -m pip install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION"
fi

if podman image exists "$BASE_IMAGE"; then
    exit 0
fi
version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
[ "$version" = 3.11.7 ] || { echo "container_setup: $PYTHON is $version, the image needs 3.11.7" >&2; exit 2; }
prefix=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')
root=$(mktemp -d /var/tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
say "building the stand-in $BASE_IMAGE (debootstrap bookworm, Python from $prefix)"
debootstrap --variant=minbase --include="$BASE_LIBS" bookworm "$root" "$MIRROR" >/dev/null
# No site-packages (ensurepip adds pip), no test suite (the official image drops it).
tar -C "$prefix" --exclude='lib/python3.11/site-packages/*' --exclude='lib/python3.11/test' \
    --exclude='__pycache__' -cf - include lib bin/python3.11 bin/pydoc3.11 \
    | tar -C "$root/usr/local" -xf -
chroot "$root" /sbin/ldconfig
chroot "$root" /usr/local/bin/python3.11 -m ensurepip --default-pip >/dev/null  # pip, pip3
for name in python python3; do ln -sf python3.11 "$root/usr/local/bin/$name"; done
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" --numeric-owner -cf - . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV PYTHON_VERSION=3.11.7' \
    --change 'CMD ["python3"]' --quiet - "$BASE_IMAGE" >/dev/null
say "stand-in $BASE_IMAGE imported"
