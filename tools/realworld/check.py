"""Every frame of every corpus file through kinema's reader against the ffmpeg CLI's decode.

    bash scripts/test-realworld.sh        (fetches the corpus, installs the package, runs this)

Truth: `ffmpeg -i F -map 0:N -fps_mode passthrough -pix_fmt rgb24 -f framemd5`, N the stream
kinema reads (FFmpeg's best video stream; the first one when kinema refuses the file). The CLI
autorotates. For each file: the frame count, every
frame in order, then 24 frames in random order with repeats in one batch. A file the CLI decodes
no frame of must be refused by kinema too (an error naming it). Files in KNOWN are the corpus's
open failures (issue 15), each with what goes wrong; the check fails on any other failure, and on
a KNOWN file that now passes (so that the list is shortened). Prints a table and a summary.
"""

import hashlib
import os
import random
import subprocess
import sys

# Open failures, each to be fixed and removed from here (see docs/reader.md).
KNOWN = {}


def cli_md5(path, stream="v:0"):
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", f"0:{stream}", "-fps_mode", "passthrough",
         "-pix_fmt", "rgb24", "-f", "framemd5", "-"], capture_output=True, text=True)
    return [l.rsplit(",", 1)[1].strip() for l in out.stdout.splitlines() if l and not l.startswith("#")]


def md5(a):
    return hashlib.md5(a.tobytes()).hexdigest()


def check(path):
    """(CLI frames, kinema frames, verdict, detail); verdict 'exact', 'refused alike' or a failure."""
    import kinema  # here, so that compare.py can use cli_md5 in an interpreter without kinema

    try:
        vr = kinema.VideoReader(path)
    except Exception as e:
        truth = cli_md5(path)
        return len(truth), "-", "refused alike" if not truth else "refused", str(e)[:120]
    truth = cli_md5(path, vr.stream_index())
    n = len(vr)
    try:
        for i in range(n):
            frame = vr[i].asnumpy()
            if i >= len(truth) or md5(frame) != truth[i]:
                return len(truth), n, f"frame {i} differs", ""
    except Exception as e:
        # A damaged file the CLI decodes nothing of: refused too if the error names the file
        # and the frame.
        named = os.path.basename(path) in str(e) and f"frame {i}" in str(e)
        if not truth and named:
            return 0, n, "refused alike", str(e)[:120]
        return len(truth), n, f"error at frame {i}", str(e)[:120]
    if n != len(truth):
        return len(truth), n, "count differs", ""
    idx = [random.Random(n).randrange(n) for _ in range(24)] + [n - 1, 0]
    try:
        batch = kinema.VideoReader(path).get_batch(idx).asnumpy()
    except Exception as e:
        return len(truth), n, "random batch failed", str(e)[:120]
    bad = [i for k, i in enumerate(idx) if md5(batch[k]) != truth[i]]
    if bad:
        return len(truth), n, f"random batch: frame {bad[0]} differs", ""
    return len(truth), n, "exact", ""


def main(dest):
    names = sorted(n for n in os.listdir(dest) if not n.startswith(".") and os.path.isfile(os.path.join(dest, n)))
    rows, unexpected = [], []
    for name in names:
        cli, kin, verdict, detail = check(os.path.join(dest, name))
        ok = verdict in ("exact", "refused alike")
        if name in KNOWN and ok:
            unexpected.append(f"{name}: now {verdict}; remove it from KNOWN")
        elif name not in KNOWN and not ok:
            unexpected.append(f"{name}: {verdict} {detail}")
        rows.append((name, cli, kin, verdict + (" (known)" if name in KNOWN and not ok else ""), detail))
    print("| file | CLI frames | kinema frames | result | detail |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    good = sum(r[3] in ("exact", "refused alike") for r in rows)
    print(f"\n{good}/{len(rows)} files exact (or refused, as the CLI decodes nothing); {len(KNOWN)} known failures")
    if unexpected:
        print("UNEXPECTED:\n  " + "\n  ".join(unexpected))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        os.path.join(os.environ.get("KINEMA_CACHE", "~/.cache/kinema"), "realworld"))))
