#!/usr/bin/env bash
# Debian packages the tests need: cross compiler, qemu-user (emulated Cortex-A53 board),
# OpenSSH server (SSH runner / deploy tests), PoCL (OpenCL "Mali" board on the CPU).
# Idempotent: installs only what is missing. Needs root (or sudo) and Debian's registry.
set -euo pipefail
PKGS=(gcc-aarch64-linux-gnu qemu-user-static openssh-server openssh-client
      pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install_test_deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
