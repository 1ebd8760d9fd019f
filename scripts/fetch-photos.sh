#!/usr/bin/env bash
# Fetches real photographs from the package registries into DIR, with PROVENANCE.md:
#   DIR/skimage/     colour (and one grey) photographs bundled in the scikit-image wheel (PyPI),
#                    public domain or CC0 as scikit-image states for each;
#   DIR/wallpapers/  the 11 photographs (2560x1600 JPEG) of Debian's plasma-workspace-wallpapers,
#                    LGPLv3 per each wallpaper's metadata.json (the Debian package: GPL-2+).
# Needs python3 with pip, apt-get and dpkg-deb (Debian/Ubuntu). Nothing is installed: the wheel
# and the .deb are downloaded to a temporary folder, unpacked there, and removed.
#
# The wallpapers are JPEG at quality ~75-92; halve them before using them as HR images:
#   ddr-engine data pack DIR/wallpapers --downscale 2 -o wallpapers.pack
set -euo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: $0 DIR   (fetches real photographs into DIR; see the comment at the top)" >&2
    exit 2
fi
dest=$1
SKIMAGE_VERSION=0.26.0
SKIMAGE_PHOTOS=(astronaut.png chelsea.png coffee.png rocket.jpg hubble_deep_field.jpg camera.png)
WALLPAPERS=(BytheWater ColdRipple ColorfulCups EveningGlow FallenLeaf Grey Kite OneStandsOut Path
    summer_1am DarkestHour)

mkdir -p "$dest/skimage" "$dest/wallpapers"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== scikit-image $SKIMAGE_VERSION wheel (PyPI)" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "scikit-image==$SKIMAGE_VERSION" -d "$work/wheel"
wheel=$(ls "$work"/wheel/scikit_image-*.whl)
python3 - "$wheel" "$dest/skimage" "${SKIMAGE_PHOTOS[@]}" <<'PY'
import sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for n in names:
        with open(f"{dest}/{n}", "wb") as f:
            f.write(z.read(f"skimage/data/{n}"))
PY

echo "== plasma-workspace-wallpapers (Debian)" >&2
if ! (cd "$work" && apt-get download plasma-workspace-wallpapers >/dev/null 2>&1); then
    echo "apt-get download failed; refreshing the package lists (apt-get update) and retrying" >&2
    apt-get update -qq
    (cd "$work" && apt-get download plasma-workspace-wallpapers >/dev/null 2>&1)
fi
deb=$(ls "$work"/plasma-workspace-wallpapers_*.deb)
deb_version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/deb"
root="$work/deb/usr/share/wallpapers"

{
    echo "# Provenance of these photographs"
    echo
    echo "Fetched by \`scripts/fetch-photos.sh\` on $(date -u +%Y-%m-%d). Not part of the ddr-engine"
    echo "repository; keep this file next to the photos."
    echo
    echo "## skimage/: scikit-image $SKIMAGE_VERSION wheel (PyPI), \`skimage/data/\`"
    echo
    echo "Terms as scikit-image states them in \`skimage/data/_fetchers.py\` of that wheel."
    echo
    echo "| file | subject, source | terms | sha256 |"
    echo "|---|---|---|---|"
} >"$dest/PROVENANCE.md"

skimage_terms() {
    case $1 in
    astronaut.png) echo "astronaut Eileen Collins, NASA Great Images database | public domain" ;;
    chelsea.png) echo "Chelsea the cat, photographer Stefan van der Walt | CC0" ;;
    coffee.png) echo "coffee cup, photographer Rachel Michetti | CC0" ;;
    rocket.jpg) echo "DSCOVR launch on Falcon 9, SpaceX | public domain (released by SpaceX)" ;;
    hubble_deep_field.jpg) echo "Hubble eXtreme Deep Field, NASA / HubbleSite | public domain" ;;
    camera.png) echo "man with a camera (grey), photographer Lav Varshney | CC0" ;;
    *) echo "unknown | unknown" ;;
    esac
}
for f in "${SKIMAGE_PHOTOS[@]}"; do
    sum=$(sha256sum "$dest/skimage/$f" | cut -d' ' -f1)
    echo "| skimage/$f | $(skimage_terms "$f") | $sum |" >>"$dest/PROVENANCE.md"
done

{
    echo
    echo "## wallpapers/: Debian package plasma-workspace-wallpapers $deb_version"
    echo
    echo "The largest size of each photographic wallpaper. Licence and author from the"
    echo "wallpaper's own \`metadata.json\`; Debian's copyright file for the package says GPL-2+"
    echo "(KDE Visual Design Group). JPEG at quality about 75-92: halve before use as HR."
    echo
    echo "| file | taken from | author | licence | sha256 |"
    echo "|---|---|---|---|---|"
} >>"$dest/PROVENANCE.md"

for name in "${WALLPAPERS[@]}"; do
    images="$root/$name/contents/images"
    # The largest by pixel count; file names are <width>x<height>.<ext>.
    largest=$(ls "$images" | awk -Fx '{split($2, h, "."); print $1 * h[1], $0}' | sort -n | tail -1 | cut -d' ' -f2)
    ext=${largest##*.}
    cp "$images/$largest" "$dest/wallpapers/$name.$ext"
    meta=$(python3 - "$root/$name/metadata.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["KPlugin"]
print(f'{m["Authors"][0]["Name"]} | {m.get("License", "not stated")}')
PY
)
    sum=$(sha256sum "$dest/wallpapers/$name.$ext" | cut -d' ' -f1)
    echo "| wallpapers/$name.$ext | usr/share/wallpapers/$name/contents/images/$largest | $meta | $sum |" \
        >>"$dest/PROVENANCE.md"
done

echo "$dest: ${#SKIMAGE_PHOTOS[@]} scikit-image photos, ${#WALLPAPERS[@]} wallpapers; see $dest/PROVENANCE.md" >&2
