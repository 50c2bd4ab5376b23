#!/usr/bin/env bash
# Debian packages the tests need, each named explicitly (no reliance on recommends or on what a
# machine happens to have):
#   the host toolchain (gcc, libc6-dev: the host board links its libraries with them) and
#   python3-venv (the test venv);
#   aarch64 cross toolchain: compiler, binutils, C library headers and start files (crti.o);
#   qemu-user-static: the emulated Cortex-A53 board (its arm64 sysroot is fetched with apt);
#   OpenSSH server and client (SSH runner / deploy tests, ssh-keygen);
#   PoCL and the OpenCL ICD loader + headers (the OpenCL "Mali" board on the CPU, pyopencl);
#   Chromium and chromedriver (`report` PNGs; the report page opened in a real browser);
# Idempotent: installs only what is missing. Needs root (or sudo) and Debian's registry.
set -euo pipefail
PKGS=(gcc libc6-dev python3-venv
      gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
      libgcc-12-dev-arm64-cross
      qemu-user-static
      openssh-server openssh-client
      pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers
      chromium chromium-driver
      ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install_test_deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
