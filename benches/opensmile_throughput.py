"""openSMILE's ComParE_2016 and eGeMAPSv02 functionals on a folder of WAV
clips, single-threaded, for `make bench` (the same clips and the same
`RESULT` line format as fedser's `throughput` example, so bench.sh can print
the ratio).

Usage: python opensmile_throughput.py AUDIO_DIR [LIMIT]

Each clip goes through `Smile.process_file` (decoding included, as in the
fedser example); the feature extractor objects are created once, outside
the timed loop. Audio seconds come from the WAV headers.
"""

import os
import sys
import time
import wave

import opensmile


def main():
    audio_dir = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    files = sorted(f for f in os.listdir(audio_dir) if f.lower().endswith(".wav"))
    if limit:
        files = files[:limit]
    paths = [os.path.join(audio_dir, f) for f in files]
    audio_s = 0.0
    for p in paths:
        with wave.open(p, "rb") as w:
            audio_s += w.getnframes() / w.getframerate()
    sets = [
        ("compare16", opensmile.FeatureSet.ComParE_2016),
        ("egemaps02", opensmile.FeatureSet.eGeMAPSv02),
    ]
    print(f"== openSMILE {opensmile.__version__}: {len(paths)} clips, single thread")
    for name, fs in sets:
        smile = opensmile.Smile(
            feature_set=fs, feature_level=opensmile.FeatureLevel.Functionals, num_workers=None, multiprocessing=False
        )
        smile.process_file(paths[0])  # warm-up (config parsing, library load)
        t0 = time.perf_counter()
        c0 = time.process_time()
        for p in paths:
            smile.process_file(p)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        xrt = audio_s / wall
        print(
            f"RESULT set={name} threads=1 clips={len(paths)} audio_s={audio_s:.3f} wall_s={wall:.4f} "
            f"cpu_s={cpu:.2f} xrt_core={xrt:.2f} xrt={xrt:.2f} xrt_cpu={audio_s / cpu:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
