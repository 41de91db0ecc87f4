#!/usr/bin/env bash
# Installs the system packages kinema builds and tests with, only those that are missing:
# FFmpeg's development libraries (the reader links the system FFmpeg), clang/libclang (bindgen),
# cmake and nasm (libjpeg-turbo),
# oneDNN (libdnnl-dev), pkg-config, the ffmpeg CLI (the tests' ground truth and sample videos) and Python's venv/pip
# (the Python package), OpenMPI (distributed training).
set -euo pipefail

need=()
pkg-config --exists libavcodec libavformat libavutil libavfilter libswscale libswresample libavdevice 2>/dev/null ||
  need+=(libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev libswscale-dev libswresample-dev libavdevice-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v clang >/dev/null || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v cc >/dev/null || need+=(build-essential)
# libjpeg-turbo (frame folders' JPEG decoder) builds from the turbojpeg crate's sources with cmake,
# its SIMD code with nasm; djpeg is the tests' reference for JPEG frames.
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
command -v djpeg >/dev/null || need+=(libjpeg-turbo-progs)
# oneDNN, the CPU engine of eval (crates/kinema-dnnl opens libdnnl.so.2 at run time, its build reads the headers).
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || need+=(libdnnl-dev)
# MPI (distributed training: mpirun -np N kinema train): OpenMPI's headers and mpicc for rsmpi's
# build, and the mpirun launcher for the tests.
command -v mpicc >/dev/null || need+=(libopenmpi-dev)
command -v mpirun >/dev/null || need+=(openmpi-bin)
# ip and tc (network namespaces as hosts: scripts/netns-mpi.sh and its test).
command -v ip >/dev/null && command -v tc >/dev/null || need+=(iproute2)
# The Python package (python/) builds in a virtual environment with pip.
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv python3-pip)

if [ ${#need[@]} -eq 0 ]; then
  echo "[deps] system packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[deps] need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "[deps] installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "[deps] done"
