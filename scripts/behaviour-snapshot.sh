#!/usr/bin/env bash
# Runs one ddr-engine binary over a fixed set of commands whose outputs a refactor must not change,
# in a fresh folder. Run it with the binaries of two commits and compare:
#
#   scripts/behaviour-snapshot.sh old/ddr-engine /tmp/snap-old
#   scripts/behaviour-snapshot.sh target/release/ddr-engine /tmp/snap-new
#   diff -r /tmp/snap-old /tmp/snap-new
#
# Expected differences are wall-clock times only ("seconds" fields, "in N s" lines, the report's
# time columns). Covers: export-photos, pack, degrade (folder and pack), two tiny training runs
# (FAIG's baseline and target), faig score/mask/modulate, sr, tsne (PCA and random init, stored and
# streamed P) and, unless SKIP_DEMO=1, `reproduce ddr --scale demo` (about 15 minutes on 2 cores).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BINARY NEW_FOLDER" >&2; exit 2; }
BIN=$(realpath "$1"); OUT=$2
[ ! -e "$OUT" ] || { echo "$OUT exists: give a folder that does not exist yet" >&2; exit 1; }
mkdir -p "$OUT"
cd "$OUT"
$BIN data export-photos photos > /dev/null
$BIN data pack photos --sub-size 128 -o train.pack > pack.txt
$BIN data degrade photos -o deg --pipeline 'bicubic:1/4,blur:15:2-4,noise:5-30@0.5,jpeg:40-90' --mod-crop 4 --hr deg_hr --seed 3 > degrade.txt
$BIN data degrade train.pack -o deg_pack --pipeline 'bilinear:1/2,noise:10' --seed 1 > degrade_pack.txt
cat > base.toml <<T
[model]
kind = "msrresnet"
nf = 16
nb = 2
scale = 2
global_residual = true
[data]
train = "train.pack"
val = "builtin"
lr_patch = 16
batch = 4
degradations = "bilinear:1/2"
val_degradations = "bilinear:1/2"
val_crop = 64
val_images = 2
[optim]
loss = "l1"
lr = 2e-4
ema = 0.999
[run]
iterations = 20
val_every = 10
ckpt_every = 10
T
sed -e 's/^degradations = .*/degradations = "blur:21:2@0.5,bilinear:1\/2,noise:25.5@0.5"/' -e 's/^lr = .*/lr = 1e-3/' base.toml > target.toml
sed -i '1i init_from = "runs/base/model.safetensors"' target.toml
$BIN train --config base.toml --out runs/base --quiet > train_base.txt 2>&1
$BIN train --config target.toml --out runs/target --quiet > train_target.txt 2>&1
F="--baseline runs/base/model.safetensors --target runs/target/model.safetensors --count 3 --crop 64"
$BIN faig score $F --steps 8 --out faig > faig_score.txt 2>&1
$BIN faig mask $F --out faig > faig_mask.txt 2>&1
$BIN faig modulate $F --out faig > faig_modulate.txt 2>&1
$BIN sr --ckpt runs/target/model.safetensors --input deg --output sr > sr.txt 2>&1
python3 - <<'P'
import struct, random
def save(path, descr, shape, fmt, vals):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * (63 - (len(hdr) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack("<%d%s" % (len(vals), fmt), *vals))
r = random.Random(5)
x = [r.gauss(3.0 * (i // 60), 1.0) for i in range(120) for _ in range(20)]
save("x.npy", "<f4", (120, 20), "f", x)
save("y.npy", "<i8", (120,), "q", [i // 60 for i in range(120)])
P
$BIN tsne --input x.npy --labels y.npy --out tsne.npy --plot tsne.png --metrics-json tsne.json --quiet
$BIN tsne --input x.npy --out tsne_rand.npy --init random --seed 4 --affinities streamed --iters 300 --quiet
[ -n "${SKIP_DEMO:-}" ] || $BIN reproduce ddr --scale demo --out demo > demo.txt 2>&1
