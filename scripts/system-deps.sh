#!/usr/bin/env bash
# Checks the Debian packages Irisgate needs (HSM, software TPM, camera tooling) and installs the missing
# ones with apt-get when running as root. Otherwise it stops and prints the exact command to run.
# Nothing is skipped silently: the script either ends with every package present or exits non-zero.
set -euo pipefail

packages=(
  softhsm2 swtpm swtpm-tools tpm2-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools
  tpm2-abrmd libtss2-tcti-tabrmd0 dbus ffmpeg
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system-deps: all ${#packages[@]} system packages present"
  exit 0
fi

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: run as root:  sudo sh -c '$install_cmd'" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
echo "system-deps: installed ${#missing[@]} package(s)"
