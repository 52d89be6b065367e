#!/usr/bin/env bash
# Builds kube-apiserver from Debian's own kubernetes source package (no prebuilt
# binary is reachable from here) and installs etcd-server, once per machine.
# Prints the path of the cached binary on its last line.
#
#   tests/k8s/build-apiserver.sh            # build if missing
#   KUBE_APISERVER_CACHE=/some/dir tests/k8s/build-apiserver.sh
set -euo pipefail

CACHE=${KUBE_APISERVER_CACHE:-$HOME/.cache/jupyter-ray-dev}
APT=(apt-get -o DPkg::Lock::Timeout=900 -q)
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"

# deb-src lines next to the machine's deb lines: apt-get source needs them
SRC_LIST=/etc/apt/sources.list.d/jupyter-ray-dev-src.sources
if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Version:'; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$SRC_LIST"
  "${APT[@]}" update
fi
VERSION=$(apt-cache showsrc kubernetes | awk '/^Version:/{print $2; exit}')
BIN="$CACHE/kube-apiserver-$VERSION"

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v openssl >/dev/null || need+=(openssl)  # the test API server's service-account key
if [[ ! -x $BIN ]]; then
  command -v go >/dev/null || need+=(golang-go)
  [[ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ]] || need+=(golang-github-modern-go-reflect2-dev)
  command -v dpkg-source >/dev/null || need+=(dpkg-dev)
  command -v rsync >/dev/null || need+=(rsync)
fi
if ((${#need[@]})); then
  "${APT[@]}" update
  "${APT[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ ! -x $BIN ]]; then
  WORK=$(mktemp -d "$CACHE/build-XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK"
  "${APT[@]}" source --download-only kubernetes=$VERSION >/dev/null
  dpkg-source --no-check -x ./*.dsc src >/dev/null
  cd src
  # The vendored reflect2 1.0.1 crashes Go >= 1.18 on the first custom-resource
  # create (unsafe map iteration layout changed); Debian's 1.0.2 fixes it.
  rm -rf vendor/github.com/modern-go/reflect2
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
  # A static binary: no libc coupling, so the cached copy survives upgrades.
  GOPATH="$WORK/gopath" CGO_ENABLED=0 KUBE_GIT_VERSION="v${VERSION%%[+-]*}" \
    KUBE_GIT_TREE_STATE=clean make WHAT=cmd/kube-apiserver >&2
  install -m 0755 _output/local/bin/linux/*/kube-apiserver "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
