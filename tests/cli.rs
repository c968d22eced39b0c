//! End-to-end tests: the real `fedser` binary on a tiny generated corpus.
//!
//! Each test works in its own temp folder with its own pipeline file and
//! cache, so tests run in parallel.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fedser");

/// A tiny study: 3 synthetic actors x 2 sentences x 6 emotions = 36 clips.
const TINY: &str = r#"
[synth]
seed = 3
actors = 3
sentences = ["DFA", "IEO"]

[partition]
seed = 1
protocols = ["speaker_dependent_70_30", "loso"]

[train.centralized.logistic]
max_iterations = 50
"#;

struct Study {
    dir: tempfile::TempDir,
}

impl Study {
    fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), pipeline).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env_remove("CREMAD_DIR")
            .env("FEDSER_LOG", "info")
            .args(["--pipeline", "p.toml", "--cache", "cache"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "fedser {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn results(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path("cache/report/results.json")).unwrap()).unwrap()
    }
}

/// Lines of `fedser run` output: stage -> "fresh" | "ran".
fn stage_actions(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let stage = it.next()?;
            let what = it.next()?;
            ["synth", "ingest", "features", "partition", "train", "report"]
                .contains(&stage)
                .then(|| (stage.to_owned(), what.to_owned()))
        })
        .collect()
}

fn ran(stdout: &str) -> Vec<String> {
    stage_actions(stdout).into_iter().filter(|(_, w)| w == "ran").map(|(s, _)| s).collect()
}

/// results.json without wall times, for comparing runs.
fn numbers(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(exps) = v.get_mut("experiments").and_then(|e| e.as_array_mut()) {
        for e in exps {
            let o = e.as_object_mut().unwrap();
            o.remove("seconds");
            o.remove("fold_seconds");
            o.remove("fit_seconds");
            o.remove("predict_seconds");
        }
    }
    if let Some(rows) = v.get_mut("comparison").and_then(|e| e.as_array_mut()) {
        for r in rows {
            let o = r.as_object_mut().unwrap();
            o.remove("fit_seconds");
            o.remove("predict_seconds");
        }
    }
    for e in v.get_mut("experiments").and_then(|e| e.as_array_mut()).into_iter().flatten() {
        if let Some(p) = e.pointer_mut("/federated/privacy").and_then(|p| p.as_object_mut()) {
            p.retain(|k, _| !k.ends_with("_seconds_per_round"));
        }
    }
    for p in v.get_mut("privacy").and_then(|e| e.as_array_mut()).into_iter().flatten() {
        p.as_object_mut().unwrap().retain(|k, _| !k.ends_with("seconds_per_round"));
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("provenance");
    }
    v
}

#[test]
fn full_run_then_noop_then_param_change() {
    let s = Study::new(TINY);
    let out = s.ok(&["run"]);
    assert_eq!(ran(&out), ["synth", "ingest", "features", "partition", "train", "report"]);
    for f in ["results.json", "report.md", "report.html", "comparison.parquet"] {
        assert!(s.path("cache/report").join(f).is_file(), "{f} missing");
    }
    let r = s.results();
    assert_eq!(r["schema_version"], 5);
    assert_eq!(r["corpus"]["clips"], 36);
    assert_eq!(r["corpus"]["actors"], 3);
    assert_eq!(r["corpus"]["rejected"], 0);
    assert_eq!(r["features"]["set"], "compare16");
    assert_eq!(r["features"]["count"], 6373);
    let exps = r["experiments"].as_array().unwrap();
    let protocols: Vec<&str> = exps.iter().map(|e| e["protocol"].as_str().unwrap()).collect();
    assert_eq!(protocols, ["speaker_dependent_70_30", "loso"]);
    for e in exps {
        assert_eq!(e["training"], "centralized");
        assert_eq!(e["model"]["name"], "logistic");
        let uar = e["uar"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&uar));
        assert_eq!(e["labels"].as_array().unwrap().len(), 6);
        let conf = e["confusion"].as_array().unwrap();
        assert_eq!(conf.len(), 6);
        let total: u64 = conf.iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_u64().unwrap()).sum();
        let n_per_actor: u64 = e["per_actor"].as_array().unwrap().iter().map(|a| a["n"].as_u64().unwrap()).sum();
        assert_eq!(total, n_per_actor);
        for k in ["accuracy", "macro_f1", "folds", "seconds", "id"] {
            assert!(e.get(k).is_some(), "{k} missing");
        }
    }
    assert_eq!(exps[1]["folds"], 3);
    // LOSO tests every clip once
    assert_eq!(exps[1]["per_actor"].as_array().unwrap().iter().map(|a| a["n"].as_u64().unwrap()).sum::<u64>(), 36);

    // nothing changed: nothing runs, lock file untouched
    let lock = std::fs::read(s.path("cache/fedser.lock")).unwrap();
    let out = s.ok(&["run"]);
    assert!(ran(&out).is_empty(), "{out}");
    assert_eq!(stage_actions(&out).len(), 6);
    assert_eq!(std::fs::read(s.path("cache/fedser.lock")).unwrap(), lock);
    let status = s.ok(&["status"]);
    assert!(status.lines().all(|l| l.contains("fresh")), "{status}");

    // a train parameter: only train and report rerun; status says why
    let status = s.ok(&["status", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert!(status.contains("train      stale: params changed: centralized.logistic.alpha"), "{status}");
    assert!(status.contains("report     stale: upstream stage `train` must run first"), "{status}");
    assert!(status.contains("features   fresh"), "{status}");
    let o = s.cmd(&["status", "--check", "--set", "train.centralized.logistic.alpha=0.5"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = s.ok(&["run", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert_eq!(ran(&out), ["train", "report"]);

    // a WAV rewritten with identical bytes (new mtime): nothing reruns
    let wav = s.path("cache/corpus/synthetic/AudioWAV/1001_DFA_ANG_XX.wav");
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::remove_file(&wav).unwrap();
    std::fs::write(&wav, &bytes).unwrap();
    let out = s.ok(&["run", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert!(ran(&out).is_empty(), "{out}");

    // an edited output is detected and regenerated
    std::fs::write(s.path("cache/report/report.md"), "edited").unwrap();
    let status = s.ok(&["status", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert!(status.contains("report     stale: output `report` modified"), "{status}");

    // --force reruns a stage and everything downstream
    let out = s.ok(&["run", "--force", "partition", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert_eq!(ran(&out), ["partition", "train", "report"]);

    // [features] lld = true: a features param (in its key), the frame-level
    // LLD table appears, a second run is fresh
    let status = s.ok(&["status", "--set", "features.lld=true"]);
    assert!(status.contains("features   stale: params changed: lld"), "{status}");
    let out = s.ok(&["run", "--until", "features", "--set", "features.lld=true"]);
    assert!(ran(&out).contains(&"features".to_string()), "{out}");
    assert!(out.contains("lld_frames="), "{out}");
    assert!(s.path("cache/features/lld.parquet").is_file());
    let out = s.ok(&["run", "--until", "features", "--set", "features.lld=true"]);
    assert!(ran(&out).is_empty(), "{out}");

    // clean
    s.ok(&["clean"]);
    assert!(!s.path("cache/report/results.json").exists());
    let status = s.ok(&["status"]);
    assert!(status.contains("synth      stale: never ran"), "{status}");
}

#[test]
fn external_corpus_new_clips_extract_only_new_features_and_threads_do_not_change_results() {
    // Generate a corpus with fedser itself, then use it as an external corpus.
    let gen = Study::new(TINY);
    gen.ok(&["run", "--until", "synth"]);
    let corpus = gen.path("cache/corpus/synthetic");
    let s = Study::new(TINY);
    let c = corpus.to_str().unwrap();
    let out = s.ok(&["run", "--corpus", c, "-j", "1"]);
    assert!(!out.contains("synth") || !ran(&out).contains(&"synth".to_owned()), "{out}");
    assert!(out.contains("extracted=36"), "{out}");
    let r1 = numbers(s.results());
    assert_eq!(r1["corpus"]["clips"], 36);

    // same study with 2 threads in a fresh cache: identical numbers
    let s2 = Study::new(TINY);
    s2.ok(&["run", "--corpus", c, "-j", "2"]);
    assert_eq!(numbers(s2.results()), r1);

    // CREMAD_DIR works like --corpus
    let o = s.cmd(&["status"]).env("CREMAD_DIR", c).output().unwrap();
    let status = String::from_utf8_lossy(&o.stdout);
    assert!(status.contains("synth      skipped: external corpus"), "{status}");
    assert!(status.contains("report     fresh"), "{status}");

    // add clips: copy the corpus and add a 4th actor from a bigger synthetic corpus
    let big = Study::new(&TINY.replace("actors = 3", "actors = 4"));
    big.ok(&["run", "--until", "synth"]);
    let copy = s.path("corpus2");
    copy_dir(&corpus, &copy);
    for f in std::fs::read_dir(big.path("cache/corpus/synthetic/AudioWAV")).unwrap() {
        let f = f.unwrap();
        if f.file_name().to_string_lossy().starts_with("1004_") {
            std::fs::copy(f.path(), copy.join("AudioWAV").join(f.file_name())).unwrap();
        }
    }
    std::fs::copy(big.path("cache/corpus/synthetic/VideoDemographics.csv"), copy.join("VideoDemographics.csv"))
        .unwrap();
    // the first three actors' clips are the same bytes in both corpora only if
    // the synth keeps them; count what is really new
    let new = std::fs::read_dir(copy.join("AudioWAV"))
        .unwrap()
        .filter(|f| {
            let f = f.as_ref().unwrap();
            let old = corpus.join("AudioWAV").join(f.file_name());
            !old.exists() || std::fs::read(&old).unwrap() != std::fs::read(f.path()).unwrap()
        })
        .count();
    let status = s.ok(&["status", "--corpus", copy.to_str().unwrap()]);
    assert!(status.contains("ingest     stale: input `corpus` changed (36 -> 48 files)"), "{status}");
    let out = s.ok(&["run", "--corpus", copy.to_str().unwrap()]);
    assert!(out.contains(&format!("extracted={new}")), "expected {new} new clips extracted:\n{out}");
    assert_eq!(s.results()["corpus"]["clips"], 48);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn killed_run_recovers_with_identical_results() {
    let reference = Study::new(TINY);
    reference.ok(&["run"]);
    let expected = numbers(reference.results());
    let s = Study::new(TINY);
    // kill -9 at several points of the run, then finish it
    for delay_ms in [300u64, 1200, 2500] {
        let mut child = s.cmd(&["run", "-q"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    s.ok(&["run"]);
    assert_eq!(numbers(s.results()), expected);
    // and no temp debris survives a run
    let mut stack = vec![s.path("cache")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            assert!(!e.file_name().to_string_lossy().contains(".tmp-"), "debris {:?}", e.path());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn concurrent_runs_wait_or_fail_clearly() {
    let s = Study::new(TINY);
    std::fs::create_dir_all(s.path("cache/.fedser")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(s.path("cache/.fedser/lock"))
        .unwrap();
    lock.lock().unwrap();
    let o = s.run(&["run", "--no-wait", "--until", "synth"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("another fedser run holds the cache"), "{err}");
    // a waiting run proceeds once the lock is released
    let child = s.cmd(&["run", "--until", "synth"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    lock.unlock().unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("waiting"), "{err}");
}

#[test]
fn bad_input_gives_one_clear_line_and_exit_2() {
    let s = Study::new("[train]\nbogus = 1\n");
    let o = s.run(&["status"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("p.toml") && err.contains("bogus"), "{err}");

    let s = Study::new("[partition]\ntest_fraction = 1.5\n");
    let err = String::from_utf8_lossy(&s.run(&["run"]).stderr).into_owned();
    assert!(err.contains("partition.test_fraction") && err.contains("(0, 1)"), "{err}");

    let s = Study::new("[partition]\nprotocols = [\"loso\", \"holdout\"]\n");
    let err = String::from_utf8_lossy(&s.run(&["run"]).stderr).into_owned();
    assert!(err.contains("holdout") && err.contains("group_kfold"), "{err}");

    let s = Study::new(TINY);
    let o = s.run(&["run", "--corpus", "/nonexistent/corpus"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/corpus") && err.contains("does not exist"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // empty corpus folder (with a sheet): clear error, no panic
    let empty = s.path("empty");
    std::fs::create_dir_all(empty.join("AudioWAV")).unwrap();
    std::fs::write(empty.join("VideoDemographics.csv"), "\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n")
        .unwrap();
    let o = s.run(&["run", "--corpus", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no usable clips"), "{err}");

    // a cache path that cannot be written (it is a file)
    std::fs::write(s.path("notadir"), "x").unwrap();
    let o = Command::new(BIN)
        .current_dir(s.dir.path())
        .args(["--pipeline", "p.toml", "--cache", "notadir/cache", "run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("notadir/cache"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let o = s.run(&["run", "--until", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown stage `nonsense`"));
}

/// TINY plus federated training with faults: 2 of 3 clients per round,
/// one corrupt update now and then.
const TINY_FED: &str = r#"
[synth]
seed = 3
actors = 3
sentences = ["DFA", "IEO"]

[partition]
seed = 1
protocols = ["speaker_dependent_70_30", "loso"]

[train.centralized.logistic]
max_iterations = 50

[train.federated]
strategy = "fedavg"
rounds = 5
min_clients = 2
seed = 4

[train.federated.local]
batch_size = 4
lr = 0.05

[train.federated.faults]
corrupt = 0.2
"#;

#[test]
fn federated_stage_outputs_caching_and_thread_determinism() {
    let s = Study::new(TINY_FED);
    let out = s.ok(&["-j", "1", "run"]);
    assert!(out.lines().any(|l| l.starts_with("federate") && l.contains("ran")), "{out}");
    let r = s.results();
    let exps = r["experiments"].as_array().unwrap();
    let fed: Vec<&serde_json::Value> = exps.iter().filter(|e| e["training"] == "federated").collect();
    assert_eq!(fed.len(), 2, "{exps:?}");
    for e in &fed {
        assert_eq!(e["model"]["name"], "logistic");
        let f = &e["federated"];
        assert_eq!(f["strategy"], "fedavg");
        assert_eq!(f["rounds"], 5);
        assert_eq!(f["learning_curve"].as_array().unwrap().len(), 6);
        let table = s.path("cache/federate").join(f["rounds_table"].as_str().unwrap());
        assert!(table.is_file(), "{} missing", table.display());
        let total = tested_predictions(e);
        let central = exps.iter().find(|c| c["training"] == "centralized" && c["protocol"] == e["protocol"]).unwrap();
        assert_eq!(total, tested_predictions(central), "federated and centralized test sets differ");
        // the paired difference covers every test clip, so it equals the
        // difference of the two pooled UARs, and its interval contains it
        let d = &f["delta_uar"];
        assert_eq!(d["centralized"], central["id"], "{d}");
        assert_eq!(d["paired"].as_u64(), Some(total), "{d}");
        let want = e["uar"].as_f64().unwrap() - central["uar"].as_f64().unwrap();
        let delta = d["delta"].as_f64().unwrap();
        assert!((delta - want).abs() < 1e-12, "{delta} vs {want}");
        let (lo, hi) = (d["ci"]["low"].as_f64().unwrap(), d["ci"]["high"].as_f64().unwrap());
        assert!(lo <= delta && delta <= hi && lo < hi, "{d}");
    }
    // corrupt updates were rejected and counted
    let rejected: u64 = fed.iter().map(|e| e["federated"]["rejected_updates"].as_u64().unwrap()).sum();
    assert!(rejected > 0, "no corrupt update was rejected");
    let md = std::fs::read_to_string(s.path("cache/report/report.md")).unwrap();
    assert!(md.contains("## Federated versus centralized") && md.contains("## Learning curves (federated)"), "{md}");
    // the federate stage's learning curve feeds the report's curve plots (one per protocol)
    for e in &fed {
        let curve = &e["curve"];
        assert_eq!(curve["rounds"].as_array().unwrap().len(), 6, "{curve}");
        assert_eq!(curve["test_uar"][5], e["federated"]["learning_curve"][5]["uar"], "{e}");
        assert!(s.path("cache/report").join(format!("curve_{}.svg", e["protocol"].as_str().unwrap())).is_file());
    }
    let html = std::fs::read_to_string(s.path("cache/report/report.html")).unwrap();
    assert!(html.contains("Federated versus centralized"), "federated section in report.html");

    // rerun: fresh; federated params rerun only federate + report
    assert!(ran(&s.ok(&["run"])).is_empty());
    let status = s.ok(&["status", "--set", "train.federated.rounds=3"]);
    assert!(status.contains("federate   stale: params changed: federated.rounds"), "{status}");
    assert!(status.contains("train      fresh"), "{status}");
    let out = s.ok(&["run", "--set", "train.federated.rounds=3"]);
    let fed_ran: Vec<String> = out
        .lines()
        .filter(|l| l.contains(" ran in "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(fed_ran, ["federate", "report"], "{out}");
    // centralized params do not rerun federate
    let out = s.ok(&["run", "--set", "train.federated.rounds=3", "--set", "train.centralized.logistic.alpha=0.5"]);
    assert!(out.lines().any(|l| l.starts_with("federate") && l.contains("fresh")), "{out}");

    // two threads, from scratch: identical results
    let t = Study::new(TINY_FED);
    t.ok(&["-j", "2", "run"]);
    assert_eq!(numbers(s_results_default(&s)), numbers(t.results()));

    // without [train.federated] the stage is a fresh no-op and the report has no federated rows
    let u = Study::new(TINY);
    let out = u.ok(&["run"]);
    assert!(out.lines().any(|l| l.starts_with("federate") && l.contains("fresh")), "{out}");
    assert!(u.results()["experiments"].as_array().unwrap().iter().all(|e| e["training"] == "centralized"));
}

#[test]
fn repeated_speaker_dependent_splits_run_through_every_stage() {
    let s =
        Study::new(&TINY_FED.replace(
            r#"protocols = ["speaker_dependent_70_30", "loso"]"#,
            r#"protocols = ["speaker_dependent_70_30"]"#,
        ));
    let tested = |r: &serde_json::Value, training: &str| -> (u64, u64, f64, serde_json::Value) {
        let e = r["experiments"].as_array().unwrap().iter().find(|e| e["training"] == training).unwrap().clone();
        (e["folds"].as_u64().unwrap(), tested_predictions(&e), e["uar"].as_f64().unwrap(), e)
    };
    s.ok(&["run"]);
    let one = s.results();
    let (folds, n1, _, _) = tested(&one, "centralized");
    assert_eq!((folds, n1), (1, 18), "3 actors x 6 emotions x 1 of 2 clips");
    let status = s.ok(&["status", "--set", "partition.repeats=2"]);
    assert!(status.contains("partition  stale: params changed: repeats"), "{status}");
    s.ok(&["run", "--set", "partition.repeats=2"]);
    let two = s.results();
    let (cf, cn, cu, central) = tested(&two, "centralized");
    let (ff, fnn, fu, fed) = tested(&two, "federated");
    // every clip tested in one of the two splits or both; both runs on the same 36 (fold, clip) pairs
    assert_eq!((cf, cn, ff, fnn), (2, 36, 2, 36));
    assert_eq!(central["fold_seconds"].as_array().unwrap().len(), 2, "{central}");
    // pairing is per (fold, clip): all 36 pairs, and the paired delta is
    // the difference of the pooled UARs
    let d = &fed["federated"]["delta_uar"];
    assert_eq!(d["paired"].as_u64(), Some(36), "{d}");
    assert!((d["delta"].as_f64().unwrap() - (fu - cu)).abs() < 1e-12, "{d}");
    // back to one split: partition and everything after it rerun, and give the first results again
    s.ok(&["run", "--set", "partition.repeats=1"]);
    assert_eq!(numbers(s.results()), numbers(one));
}

/// Test predictions of an experiment in `results.json`: its confusion matrix's total.
fn tested_predictions(e: &serde_json::Value) -> u64 {
    e["confusion"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_u64().unwrap()).sum()
}

/// The first study's results for its original params (rerun after the overrides above).
fn s_results_default(s: &Study) -> serde_json::Value {
    s.ok(&["run"]);
    s.results()
}

#[test]
fn federated_privacy_records_epsilon_and_reruns_on_privacy_change() {
    let s = Study::new(&format!(
        "{TINY_FED}\n[privacy.dp]\nclip = 0.5\nnoise_multiplier = 1.0\ndelta = 1e-3\n[privacy.attack]\nfolds = 2\n"
    ));
    s.ok(&["run"]);
    let r = s.results();
    let fed: Vec<&serde_json::Value> =
        r["experiments"].as_array().unwrap().iter().filter(|e| e["training"] == "federated").collect();
    assert_eq!(fed.len(), 2);
    for e in fed {
        let dp = &e["federated"]["privacy"]["dp"];
        let eps = dp["epsilon"].as_f64().unwrap();
        assert!(eps.is_finite() && eps > 0.0, "{dp}");
        assert_eq!(dp["noise_multiplier"], 1.0);
        assert_eq!(dp["rounds"], 5);
    }
    // One privacy–utility point per federated run, with the same epsilon.
    let pts = r["privacy"].as_array().unwrap();
    assert_eq!(pts.len(), 2, "{pts:?}");
    for p in pts {
        assert_eq!(p["mechanism"], "dp-fedavg");
        assert!(p["epsilon"].as_f64().unwrap() > 0.0 && p["noise_multiplier"] == 1.0, "{p}");
        let a = p["attack_uar"].as_f64();
        assert!(a.is_none() || a.is_some_and(|a| (0.0..=1.0).contains(&a)), "{p}");
    }
    let md = std::fs::read_to_string(s.path("cache/report/report.md")).unwrap();
    let sec = &md[md.find("## Privacy–utility").unwrap()..];
    assert!(sec.contains("| dp-fedavg | 1 |") && sec.contains("privacy_"), "{sec}");
    let status = s.ok(&["status", "--set", "privacy.dp.noise_multiplier=2.0"]);
    assert!(status.contains("federate   stale"), "{status}");
    // a sweep's no-DP baseline weights clients equally, as its DP runs must
    s.ok(&["run", "--until", "federate", "--set", "privacy.sweep=[2.0]"]);
    let exps: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("cache/federate/experiments.json")).unwrap()).unwrap();
    let ids: Vec<&str> = exps.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    for e in exps.as_array().unwrap() {
        assert_eq!(e["model"]["params"]["weighting"], "equal", "{}", e["id"]);
    }
}

#[test]
fn private_paths_give_the_same_results_on_one_and_two_threads() {
    // Adaptive clipping with server noise and the attack; then distributed
    // noise under secure aggregation with client dropouts to recover.
    let adaptive = format!(
        "{TINY_FED}\n[privacy]\nsweep = [1.0]\n[privacy.dp]\nclip = 0.5\nnoise_multiplier = 1.0\nadaptive = true\ndelta = 1e-3\n[privacy.attack]\nfolds = 2\n"
    );
    let secagg = format!(
        "{}\n[privacy.dp]\nclip = 0.5\nnoise_multiplier = 1.0\nplacement = \"distributed\"\n[privacy.secagg]\nthreshold = 0.6\n[privacy.attack]\nfolds = 2\n",
        TINY_FED.replace("corrupt = 0.2", "dropout = 0.3")
    );
    for (name, pipeline) in [("adaptive", adaptive), ("secagg", secagg)] {
        let a = Study::new(&pipeline);
        a.ok(&["-j", "1", "run"]);
        let b = Study::new(&pipeline);
        b.ok(&["-j", "2", "run"]);
        let (ra, rb) = (a.results(), b.results());
        let pts = ra["privacy"].as_array().unwrap();
        assert!(!pts.is_empty(), "{name}: no privacy points");
        if name == "adaptive" {
            // sweep = [1.0]: a no-DP baseline and z = 1 (3 clients are too
            // few for the attack's cross-validation: configured, not run)
            assert_eq!(pts.len(), 4, "{name}: 2 settings x 2 protocols");
            assert!(pts.iter().any(|p| p["mechanism"] == "none") && pts.iter().any(|p| p["mechanism"] == "dp-fedavg"));
            assert!(pts.iter().all(|p| p["attack_chance"] == 0.5), "{pts:?}");
            let clip = ra["experiments"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e.pointer("/federated/privacy/dp"))
                .filter(|d| !d.is_null())
                .map(|d| (d["adaptive"].as_bool(), d["final_clip"].as_f64().unwrap()))
                .collect::<Vec<_>>();
            assert!(
                clip.len() == 2 && clip.iter().all(|(a, c)| *a == Some(true) && *c != 0.5),
                "the clip adapted: {clip:?}"
            );
        } else {
            assert!(pts.iter().all(|p| p["mechanism"] == "dp-fedavg + secagg" && p["attack_uar"].is_null()), "{pts:?}");
            let md = std::fs::read_to_string(a.path("cache/report/report.md")).unwrap();
            assert!(md.contains("n/a (SecAgg)"), "{md}");
        }
        assert_eq!(numbers(ra), numbers(rb), "{name}: -j 1 and -j 2 differ");
    }
}

#[test]
fn both_feature_sets_are_compared_on_the_same_folds() {
    let s = Study::new(&format!(
        "{TINY}\n[features]\nset = \"both\"\n\n[train.centralized]\ncompare = [\"gaussian_nb\"]\n\n[report]\nbootstrap_resamples = 50\n"
    ));
    s.ok(&["run"]);
    let r = s.results();
    let rows = r["comparison"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "2 sets x 2 models x 2 protocols");
    for set in ["compare16", "egemaps02"] {
        assert_eq!(rows.iter().filter(|c| c["feature_set"] == set).count(), 4, "{set}");
    }
    let exps = r["experiments"].as_array().unwrap();
    let by_id = |id: &str| exps.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("no {id}"));
    assert_eq!(by_id("centralized-logistic-loso")["n_features"], 6373);
    let e = by_id("centralized-logistic-egemaps02-loso");
    assert_eq!((e["n_features"].as_u64(), e["feature_set"].as_str()), (Some(88), Some("egemaps02")));
    // same test clips for both sets
    let n = |e: &serde_json::Value| {
        e["per_actor"].as_array().unwrap().iter().map(|a| a["n"].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(n(e), n(by_id("centralized-logistic-loso")));
    // changing only the eGeMAPS table's inputs is seen by train: the set is part of its deps
    let status = s.ok(&["status", "--set", "features.set=compare16"]);
    assert!(status.contains("train      stale"), "{status}");
}

#[test]
fn classifier_comparison_trains_every_model_on_the_same_folds() {
    let s = Study::new(&format!(
        "{TINY}\n[train.centralized]\ncompare = [\"svm\", \"tree\", \"gaussian_nb\", \"knn\", \"mlp\"]\n\n[report]\nbootstrap_resamples = 100\n"
    ));
    s.ok(&["run"]);
    let r = s.results();
    let rows = r["comparison"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "6 models x 2 protocols");
    let exps = r["experiments"].as_array().unwrap();
    let loso: Vec<&serde_json::Value> = exps.iter().filter(|e| e["protocol"] == "loso").collect();
    for e in &loso {
        // Same folds: every model is tested on the same actors with the same clip counts.
        let actors = |e: &serde_json::Value| -> Vec<(u64, u64)> {
            e["per_actor"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["actor"].as_u64().unwrap(), a["n"].as_u64().unwrap()))
                .collect()
        };
        assert_eq!(actors(e), actors(loso[0]));
        let ci = &e["uar_ci"];
        assert!(ci["low"].as_f64().unwrap() <= e["uar"].as_f64().unwrap() + 1e-12, "{ci}");
        assert!(e["fit_seconds"].as_f64().unwrap() >= 0.0);
    }
    for row in rows {
        assert_eq!(row["feature_set"], "compare16");
    }
    let md = std::fs::read_to_string(s.path("cache/report/report.md")).unwrap();
    assert!(
        md.contains("comparison.svg") && md.contains("| loso | centralized | compare16 | svm | linfa-svm |"),
        "{md}"
    );
    let html = std::fs::read_to_string(s.path("cache/report/report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 10 && !html.contains("<script"), "figures inlined");
    // A wrong model name stops the run before anything runs, naming the key.
    let bad = Study::new(&format!("{TINY}\n[train.centralized]\nmodel = \"forest\"\n"));
    let o = bad.run(&["run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("forest") && err.contains("gaussian_nb"), "{err}");
}

#[test]
fn nested_alpha_selection_is_recorded_per_fold_and_reported() {
    let s = Study::new(&TINY.replace(
        "max_iterations = 50",
        "max_iterations = 50\nselect_alpha = [0.1, 10, 1000]\ninner_folds = 2\n\n[report]\nbootstrap_resamples = 50",
    ));
    s.ok(&["run"]);
    let exps: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("cache/train/experiments.json")).unwrap()).unwrap();
    for e in exps.as_array().unwrap() {
        let sel = e["alpha_selection"].as_array().unwrap_or_else(|| panic!("no selection in {e}"));
        assert_eq!(sel.len(), e["folds"].as_u64().unwrap() as usize, "one choice per outer fold: {e}");
        for f in sel {
            let scores = f["inner_uar"].as_array().unwrap();
            // every candidate scored, largest alpha first; the winner has the best inner UAR
            let alphas: Vec<f64> = scores.iter().map(|p| p[0].as_f64().unwrap()).collect();
            assert_eq!(alphas, [1000.0, 10.0, 0.1]);
            let best = scores.iter().map(|p| p[1].as_f64().unwrap()).fold(f64::MIN, f64::max);
            let chosen = scores.iter().find(|p| p[0] == f["alpha"]).unwrap();
            assert_eq!(chosen[1].as_f64().unwrap(), best, "{f}");
        }
        assert!(e["model"]["params"]["select_alpha"].is_array(), "{e}");
    }
    // LOSO with 3 actors: each outer fold's 2 training actors make the 2 inner folds
    let r = s.results();
    let md = std::fs::read_to_string(s.path("cache/report/report.md")).unwrap();
    assert!(md.contains("`centralized-logistic-loso`: alpha chosen per fold by inner cross-validation"), "{md}");
    let loso = r["experiments"].as_array().unwrap().iter().find(|e| e["id"] == "centralized-logistic-loso").unwrap();
    assert_eq!(loso["alpha_selection"].as_array().map(Vec::len), Some(3), "results.json keeps the choices");
    // changing the candidates reruns train
    let status = s.ok(&["status", "--set", "train.centralized.logistic.inner_folds=3"]);
    assert!(status.contains("train      stale"), "{status}");
}

#[test]
fn federated_selection_is_recorded_per_fold_reported_and_cached() {
    // 5 actors: every LOSO fold has 4 training clients, 2 inner splits of 2
    let p = r#"
[synth]
seed = 3
actors = 5
sentences = ["DFA", "IEO"]

[partition]
seed = 1
protocols = ["speaker_dependent_70_30", "loso"]

[train.centralized.logistic]
max_iterations = 30

[train.federated]
rounds = 3
min_clients = 2
seed = 4

[train.federated.local]
batch_size = 4

[train.federated.select]
inner_folds = 2

[train.federated.select.grid]
"local.lr" = [0.001, 0.1]
"local.momentum" = [0.0, 0.5]

[report]
bootstrap_resamples = 50
"#;
    let s = Study::new(p);
    s.ok(&["-j", "2", "run"]);
    let r = s.results();
    let fed: Vec<&serde_json::Value> =
        r["experiments"].as_array().unwrap().iter().filter(|e| e["training"] == "federated").collect();
    assert_eq!(fed.len(), 2);
    for e in &fed {
        let sel = e["federated"]["selection"].as_array().unwrap_or_else(|| panic!("no selection in {e}"));
        assert_eq!(sel.len(), e["folds"].as_u64().unwrap() as usize, "one choice per outer fold: {e}");
        for f in sel {
            let c = f["candidates"].as_array().unwrap();
            assert_eq!(c.len(), 4, "{f}");
            let best = c.iter().map(|x| x["uar"].as_f64().unwrap()).fold(f64::MIN, f64::max);
            let won = c.iter().find(|x| x["params"] == f["chosen"]).unwrap();
            assert_eq!(won["uar"].as_f64().unwrap(), best, "{f}");
        }
    }
    let md = std::fs::read_to_string(s.path("cache/report/report.md")).unwrap();
    assert!(
        md.contains("`federated-fedavg-logistic-loso`: hyperparameters chosen per fold by federated inner validation"),
        "{md}"
    );
    // the grid is hashed: changing it reruns federate (and not train)
    let status = s.ok(&["status", "--set", "train.federated.select.inner_folds=3"]);
    assert!(status.contains("federate   stale") && status.contains("train      fresh"), "{status}");
    // same results on one thread
    let t = Study::new(p);
    t.ok(&["-j", "1", "run"]);
    assert_eq!(numbers(r), numbers(t.results()));
    // selection cannot be combined with DP
    let u = Study::new(&format!("{p}\n[privacy.dp]\nnoise_multiplier = 1.0\nclip = 1.0\n"));
    let o = u.run(&["show-params"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("train.federated.select") && err.contains("privacy"), "{err}");
}

#[test]
fn every_shipped_pipeline_file_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let o = Command::new(BIN).args(["--pipeline", p.to_str().unwrap(), "show-params"]).output().unwrap();
        assert!(o.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&o.stderr));
    }
    assert!(n >= 6, "{n} pipeline files in {}", dir.display());
}
