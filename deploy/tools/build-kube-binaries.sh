#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the chart's API-server tests (tests/helm/test_apiserver.py):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes that run pods on paper),
# from the Go module proxy, into a cache outside git. Once built, the binaries are reused (seconds).
#
#   deploy/tools/build-kube-binaries.sh            # prints the folder holding the binaries
#
# Why a scratch module: kubernetes' own go.mod maps its staging modules (k8s.io/api, apiserver, ...) to local
# folders, so `go install k8s.io/kubernetes/cmd/...@v` is refused; repeating that map with the published
# v0.<minor>.<patch> modules builds the same programs. The version is stamped so the server reports it (helm's
# kubeVersion check and .Capabilities read it). First build: several minutes on two cores, ~5 GB of Go caches.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mini-mpp/tools/kube-${KUBE_VERSION}"
BIN="$CACHE/bin"
PROGRAMS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

done_already=1
for p in "${PROGRAMS[@]}"; do [[ -x "$BIN/$p" ]] || done_already=0; done
if [[ $done_already == 1 ]]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { echo "no Go toolchain: cannot build the control plane" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
mkdir -p "$BIN" "$CACHE/src/cmd/etcd"
# One build at a time (two test sessions may ask at once); the second waits, then finds the binaries.
exec 9>"$CACHE/.build.lock"
flock 9
cd "$CACHE/src"

staging_minor="v0.${KUBE_VERSION#v1.}"
if [[ ! -f go.mod ]]; then
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module minimpp.local/kubetools"
    echo
    echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes ${KUBE_VERSION}"
    echo "	go.etcd.io/etcd/server/v3 ${ETCD_VERSION}"
    echo ")"
    echo
    echo "replace ("
    # every `k8s.io/x => ./staging/src/k8s.io/x` of kubernetes' go.mod, pointed at the published module
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream_mod" \
      | awk -v v="$staging_minor" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  cat > cmd/etcd/main.go <<'GO'
// etcd as the API server's store, built from the etcd server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod tidy
fi

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  stamp+=" -X $pkg.gitTreeState=clean"
done

# Each binary is written beside its final name and renamed, so a reader never sees half a binary.
if [[ ! -x "$BIN/etcd" ]]; then
  go build -o "$BIN/.etcd.part" ./cmd/etcd
  mv "$BIN/.etcd.part" "$BIN/etcd"
fi
for p in kube-apiserver kube-controller-manager kube-scheduler; do
  if [[ ! -x "$BIN/$p" ]]; then
    go build -ldflags "-s -w $stamp" -o "$BIN/.$p.part" "k8s.io/kubernetes/cmd/$p"
    mv "$BIN/.$p.part" "$BIN/$p"
  fi
done
if [[ ! -x "$BIN/kwok" ]]; then
  # kwok is a module of its own (not in the scratch module): installed at its tag into a side folder.
  GOBIN="$CACHE/kwok-install" go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  mv "$CACHE/kwok-install/kwok" "$BIN/kwok"
fi
echo "$BIN"
