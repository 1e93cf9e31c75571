#!/usr/bin/env bash
# Installs the system packages a kinns lab needs, if any is missing, on Debian or
# Ubuntu. Safe to run again: it does nothing when everything is there.
set -euo pipefail

# command -> Debian package that provides it
declare -A need=(
  [containerd]=containerd
  [runc]=runc
  [iptables]=iptables
  [ip]=iproute2
  [ping]=iputils-ping
  [gcc]=gcc # cgo, which the race detector of `make unit` needs
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "kinns needs these packages: ${missing[*]}; run as root (a lab needs root anyway)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  echo "kinns is built with Go 1.26 or newer; put it on PATH (e.g. /usr/local/go/bin)" >&2
  exit 1
fi
