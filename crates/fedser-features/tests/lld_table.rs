//! `[features] lld = true`: the frame-level LLD table `lld.parquet`.
//!
//! * Its values are exactly the contours the functionals are computed from
//!   (the extractor's own contours, bit for bit, and an LLD-group functional
//!   recomputed from the table equals the one in `features.parquet`).
//! * Its columns are named as openSMILE's LLD CSV
//!   (`shared/spec/reference_lld.csv.gz`), and the frame count and the
//!   cells without a value (LLD columns of the last two frames) are where
//!   openSMILE's reference has them.
//! * Clips shorter than one 60 ms frame give no rows; a second run extracts
//!   nothing (per-clip cache) and writes the same table; `lld = false`
//!   removes the table.

mod common;

use std::path::Path;

use arrow_array::Array;
use fedser_cache::table::{self, Column};
use fedser_features::dsp::{self, functionals, Compare16, LldFrames, N_LLD_COLUMNS};
use fedser_features::{FeatureParams, LLD_FILE, PRIMARY_FILE};

const CLIPS: [(&str, i32); 3] =
    [("reference_signal.wav", 1001), ("bad_input_short1300.wav", 1002), ("bad_input_short500.wav", 1003)];

fn source(name: &str) -> std::path::PathBuf {
    if name.starts_with("bad_input") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
    } else {
        common::spec_dir().join(name)
    }
}

fn write_manifest(path: &Path, audio: &Path) {
    let n = CLIPS.len();
    let files: Vec<String> = CLIPS.iter().map(|c| c.0.to_string()).collect();
    let hashes: Vec<String> =
        files.iter().map(|f| blake3::hash(&std::fs::read(audio.join(f)).expect("clip")).to_hex().to_string()).collect();
    let b = table::batch(
        path,
        vec![
            ("file".into(), Column::Str(files)),
            ("actor".into(), Column::I32(CLIPS.iter().map(|c| c.1).collect())),
            ("sentence".into(), Column::Str(vec!["IEO".into(); n])),
            ("emotion".into(), Column::Str(vec!["NEU".into(); n])),
            ("level".into(), Column::Str(vec!["XX".into(); n])),
            ("duration_s".into(), Column::F64(vec![1.0; n])),
            ("content_hash".into(), Column::Str(hashes)),
        ],
    )
    .expect("manifest batch");
    table::write_parquet(path, &b, &[]).expect("manifest");
}

fn run(params: &FeatureParams, dir: &Path) -> fedser_features::FeaturesSummary {
    fedser_features::run(
        params,
        &dir.join("manifest.parquet"),
        &dir.join("audio"),
        &dir.join("clips"),
        &dir.join("out"),
        &[],
        &|_, _| {},
    )
    .expect("features stage")
}

fn samples(name: &str) -> Vec<f32> {
    fedser_audio::read_clip(&source(name)).expect("decode").samples
}

#[test]
fn lld_table_holds_the_contours_of_the_functionals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("audio")).expect("audio dir");
    for (f, _) in CLIPS {
        std::fs::copy(source(f), dir.join("audio").join(f)).expect("copy clip");
    }
    write_manifest(&dir.join("manifest.parquet"), &dir.join("audio"));
    let params = FeatureParams { lld: true, ..FeatureParams::default() };
    let s = run(&params, dir);
    assert_eq!(s.extracted, 3);

    // Expected frames: the extractor's contours of each clip.
    let expected: Vec<LldFrames> = CLIPS.iter().map(|(f, _)| Compare16::new().lld_frames(&samples(f))).collect();
    assert_eq!(expected[2].rows, 0, "a clip shorter than 60 ms has no LLD frames");
    assert_eq!(expected[1].rows, (1300 - 960) / 160 + 1 + 3);
    let total: usize = expected.iter().map(|e| e.rows).sum();
    assert_eq!(s.lld_frames, total);

    let out = dir.join("out").join(LLD_FILE);
    let b = table::read_parquet(&out, None).expect("lld.parquet");
    assert_eq!(b.num_rows(), total);
    // Column names: key columns, then openSMILE's LLD CSV header after `frame,start_s`.
    let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
    let reference = common::read_csv_gz("reference_lld.csv.gz");
    assert_eq!(&reference.header[..2], ["frame", "start_s"]);
    assert_eq!(names[..4], ["file", "actor", "frame", "start_s"]);
    assert_eq!(names[4..], reference.header[2..]);
    assert_eq!(names[4..], dsp::lld_frame_names()[..]);
    assert_eq!(names.len(), 4 + N_LLD_COLUMNS);

    let files = table::strings(&out, &b, "file").expect("file");
    let actors = table::ints(&out, &b, "actor").expect("actor");
    let frames = table::ints(&out, &b, "frame").expect("frame");
    let starts = table::floats(&out, &b, "start_s").expect("start_s");
    let mut row = 0usize;
    for ((f, actor), e) in CLIPS.iter().zip(expected.iter()) {
        for t in 0..e.rows {
            assert_eq!((files[row].as_str(), actors[row], frames[row]), (*f, Some(i64::from(*actor)), Some(t as i64)));
            assert_eq!(starts[row], t as f64 / 100.0);
            for j in 0..N_LLD_COLUMNS {
                let col = table::f32_column(&out, &b, 4 + j).expect("f32 column");
                let want = e.values[t * N_LLD_COLUMNS + j];
                if want.is_nan() {
                    assert!(col.is_null(row), "{f} frame {t} {}: expected no value", names[4 + j]);
                } else {
                    assert!(col.is_valid(row), "{f} frame {t} {}: null", names[4 + j]);
                    assert_eq!(col.value(row).to_bits(), want.to_bits(), "{f} frame {t} {}", names[4 + j]);
                }
            }
            row += 1;
        }
    }

    // Frame count and the cells without a value as in openSMILE's reference
    // LLD CSV of the same signal.
    let e = &expected[0];
    assert_eq!(e.rows, reference.rows.len());
    for (t, r) in reference.rows.iter().enumerate() {
        for j in 0..N_LLD_COLUMNS {
            assert_eq!(
                e.values[t * N_LLD_COLUMNS + j].is_nan(),
                r[2 + j].is_none(),
                "frame {t} {}: value present in one table only",
                names[4 + j]
            );
        }
    }

    // The functionals are computed from these frames: the LLD group's
    // functionals of `pcm_RMSenergy_sma` (its first N60 frames) recomputed
    // from the table equal the ones in features.parquet.
    let fpath = dir.join("out").join(PRIMARY_FILE);
    let fb = table::read_parquet(&fpath, None).expect("features.parquet");
    // the wide feature table is written uncompressed (table::Codec::None:
    // zstd's per-column contexts cost the writer and every reader memory)
    {
        use parquet::file::reader::FileReader;
        let r = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&fpath).expect("open"))
            .expect("features.parquet footer");
        for g in r.metadata().row_groups() {
            for c in g.columns() {
                assert_eq!(c.compression(), parquet::basic::Compression::UNCOMPRESSED, "{}", c.column_path());
            }
        }
    }
    let j = names.iter().position(|n| n == "pcm_RMSenergy_sma").expect("rms column") - 4;
    let n60 = e.lld_rows - 1;
    let contour: Vec<f32> = (0..n60).map(|t| e.values[t * N_LLD_COLUMNS + j]).collect();
    let mut got = Vec::new();
    functionals::lld_into(&contour, &mut functionals::FuncScratch::default(), &mut got);
    for (k, fname) in functionals::LLD_NAMES.iter().enumerate() {
        let col = format!("pcm_RMSenergy_sma_{fname}");
        let i = fb.schema().index_of(&col).expect("functional column");
        let v = table::f32_column(&fpath, &fb, i).expect("f32").value(0);
        assert_eq!(v.to_bits(), got[k].to_bits(), "{col}: {v} vs {}", got[k]);
    }

    // Per-clip cache: nothing extracted, same table.
    let bytes = std::fs::read(&out).expect("lld bytes");
    let again = run(&params, dir);
    assert_eq!((again.extracted, again.lld_frames), (0, total));
    let b2 = table::read_parquet(&out, None).expect("lld.parquet again");
    assert_eq!(b2, b, "rerun from the per-clip cache: same table ({} bytes before)", bytes.len());

    // lld = false: the table is no longer an output of the stage.
    let off = run(&FeatureParams::default(), dir);
    assert_eq!((off.extracted, off.lld_frames), (0, 0));
    assert!(!out.exists());
}
