#!/usr/bin/env bash
# Installs what resnets needs on Debian 12 and builds it: libtorch, oneDNN's headers (the
# inference engine builds its primitives on the same libdnnl libtorch links) and a fast BLAS from
# Debian, PyTorch/torchvision/numpy (and scipy/sklearn for the face-verification protocol)
# as the reference for tests and benchmarks, the Fashion-MNIST package for the demo,
# Liberation fonts (Helvetica metrics for diagrams rendered to PNG), Chromium for the web
# page test, Gloo's headers (c10d's ProcessGroupGloo.hpp includes them), iproute2 (ip netns,
# for the two-namespace distributed test), then the npm packages, the addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libtorch-dev libdnnl-dev libopenblas0-openmp python3-torch python3-torchvision python3-numpy python3-scipy python3-sklearn dataset-fashion-mnist g++ make python3 fonts-liberation2 chromium libgloo-dev iproute2)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm ci also builds the addon (its install step, scripts/install-addon.cjs, when the addon is missing or
# older than native/); LIBTORCH=/path builds it against another libtorch.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run build:native
fi
npm run build:ts
echo "setup: done (libtorch $(node -e "import('./dist/index.js').then(m => console.log(m.torch.version))"))"
