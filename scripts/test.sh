#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what a fresh Debian machine lacks, then runs
# every test. WebGPU runs on SwiftShader (Chromium's CPU Vulkan driver) through Dawn.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -e /usr/lib/chromium/vk_swiftshader_icd.json ] || need_apt+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian) ..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npx tsc --noEmit -p .
npx vitest run "$@"
