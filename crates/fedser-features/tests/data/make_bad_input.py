#!/usr/bin/env python3
"""Bad-input references: openSMILE's functionals for degenerate clips.

Writes bad_input_<case>.wav (16 kHz mono int16) and
bad_input_<set>.csv.gz (`case,name,value`, gzip -9 after writing) for ComParE_2016 and eGeMAPSv02,
computed with the Python package `opensmile` 2.6.0 (run in a venv:
`python3 -m venv v && v/bin/pip install opensmile && v/bin/python make_bad_input.py`).
Cases: clips shorter than one 60 ms frame (500, 959 samples), exactly one
frame (960), a few frames (1300), digital silence (2 s), a clipped square
wave (full scale, 2 s) and clipped loud noise (1 s).
"""
import math
import os
import struct
import sys
import wave

import opensmile

OUT = os.path.dirname(os.path.abspath(__file__))


def sine(n):
    return [math.sin(i * 0.1) * 0.3 for i in range(n)]


def lcg_noise(n, gain):
    x = 12345
    out = []
    for _ in range(n):
        x = (6364136223846793005 * x + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out.append(((x >> 40) / float(1 << 24) * 2.0 - 1.0) * gain)
    return out


CASES = {
    "short500": sine(500),
    "short959": sine(959),
    "short960": sine(960),
    "short1300": sine(1300),
    "silence": [0.0] * 32000,
    "clipped_square": [1.0 if (i // 40) % 2 == 0 else -1.0 for i in range(32000)],
    "clipped_noise": lcg_noise(16000, 4.0),
}


def write_wav(path, xs):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        q = [max(-32768, min(32767, int(math.floor(v * 32767.0 + 0.5)))) for v in xs]
        w.writeframes(struct.pack("<%dh" % len(q), *q))


def main():
    sets = {
        "compare16": opensmile.FeatureSet.ComParE_2016,
        "egemaps02": opensmile.FeatureSet.eGeMAPSv02,
    }
    for case, xs in CASES.items():
        write_wav(os.path.join(OUT, "bad_input_%s.wav" % case), xs)
    for name, fs in sets.items():
        smile = opensmile.Smile(feature_set=fs, feature_level=opensmile.FeatureLevel.Functionals)
        with open(os.path.join(OUT, "bad_input_%s.csv" % name), "w") as f:
            f.write("case,name,value\n")
            for case in CASES:
                df = smile.process_file(os.path.join(OUT, "bad_input_%s.wav" % case))
                if len(df) == 0:
                    sys.stderr.write("%s %s: no row\n" % (name, case))
                    continue
                for col in df.columns:
                    f.write("%s,%s,%.9g\n" % (case, col, float(df[col].iloc[0])))


if __name__ == "__main__":
    main()
