#!/usr/bin/env python3
"""Print the README table for the real-world corpus by probing the fetched files.

usage: python3 tools/realworld/describe.py [DEST]
Needs ffprobe/ffmpeg on PATH. Frames are counted the way the CLI decodes them:
  ffmpeg -v error -i F -map 0:v:0 -fps_mode passthrough -f framemd5 -
"""
import csv, json, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))

def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams",
                        "-of", "json", path], capture_output=True, text=True)
    try:
        return json.loads(r.stdout or "{}")
    except json.JSONDecodeError:
        return {}

def frames(path):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
                        "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                       capture_output=True, text=True, timeout=600)
    n = sum(1 for l in r.stdout.splitlines() if l and not l.startswith("#"))
    return n if (n or r.returncode == 0) else f"0 (error)"

def rotation(st):
    for sd in st.get("side_data_list", []) or []:
        if "rotation" in sd:
            return str(int(sd["rotation"]))
    rot = (st.get("tags") or {}).get("rotate")
    return rot or "0"

def codec_label(st):
    """The stream's codec, with its pixel format unless yuv420p and "full range" if so."""
    extra = []
    if st.get("pix_fmt") not in (None, "yuv420p"):
        extra.append(st["pix_fmt"])
    if st.get("color_range") == "pc":
        extra.append("full range")
    return st.get("codec_name", "?") + (f" ({', '.join(extra)})" if extra else "")

def main(dest):
    rows = list(csv.reader(open(os.path.join(here, "manifest.tsv")), delimiter="\t"))
    print("| name | package | codec | container | WxH | frames | video streams | rotation | notes |")
    print("|---|---|---|---|---|---|---|---|---|")
    codecs, containers = set(), set()
    for name, reg, pkg, ver, art, member, sha, note in rows[1:]:
        path = os.path.join(dest, name)
        info = probe(path)
        fmt = (info.get("format") or {}).get("format_name", "?")
        vs = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
        if vs:
            v = vs[0]
            codec = v.get("codec_name", "?")
            wh = f"{v.get('width', '?')}x{v.get('height', '?')}"
            codec_s = codec_label(v)
            rot = rotation(v)
            nf = frames(path)
            codecs.add(codec)
        else:
            codec_s, wh, rot, nf = "none", "-", "-", 0
        if fmt != "?":
            containers.add(fmt)
        print(f"| {name} | {reg}:{pkg}=={ver} | {codec_s} | {fmt} | {wh} | {nf} | {len(vs)} | {rot} | {note} |")
    print()
    print(f"{len(rows) - 1} files, {len(codecs)} video codecs ({', '.join(sorted(codecs))}), "
          f"{len(containers)} containers ({'; '.join(sorted(containers))}).")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("KINEMA_CACHE", os.path.expanduser("~/.cache/kinema")), "realworld"))
