#!/bin/sh
# Make the checkout ready for the one GPU call of fer_core.campaign (run here, on the dev machine).
# Copies the FER2013 data pack and its unpacker into .gpu/ (git-ignored through .git/info/exclude,
# so it travels only when the device call names it in `carry`), and prints the tree's size.
set -e
cd "$(dirname "$0")/.."
PACK=${1:-../shared/datasets/fer2013/gpu_pack}
TOOL=${2:-../shared/tools/fer2013_pack.py}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
mkdir -p .gpu
cp "$PACK"/meta.npz "$PACK"/pixels.med.xz "$TOOL" .gpu/
chmod u+w .gpu/*
echo "tracked tree: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes; .gpu: $(du -sb .gpu | cut -f1) bytes (64 MiB = 67108864 together)"
