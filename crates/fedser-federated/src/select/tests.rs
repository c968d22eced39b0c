use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};

use super::*;
use crate::model::Arch;
use crate::params::FederatedParams;

/// 6 clients (actors 1001..1006) x 30 rows, 3 classes, 12 features; rows
/// 24..30 of every client are the outer test rows.
struct Toy {
    x: Vec<f32>,
    y: Vec<usize>,
    actors: Vec<i32>,
    fold: Fold,
}

fn toy(protocol: Protocol) -> Toy {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let (n, d, k) = (180, 12, 3);
    let y: Vec<usize> = (0..n).map(|i| (i * 7) % k).collect();
    let actors: Vec<i32> = (0..n).map(|i| 1001 + (i / 30) as i32).collect();
    let x: Vec<f32> =
        (0..n * d).map(|i| 5.0 + if i % d == y[i / d] { 1.2 } else { 0.0 } + rng.gen_range(-1.0f32..1.0)).collect();
    let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 30 >= 24);
    Toy { x, y, actors, fold: Fold { protocol, fold: 0, train, test } }
}

fn params(grid: &[(&str, &[f64])]) -> FederatedParams {
    let mut p = FederatedParams { rounds: 4, seed: 3, ..Default::default() };
    p.local.batch_size = 4;
    p.local.lr = 0.1;
    p.select.inner_folds = 3;
    p.select.grid = grid.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect();
    p
}

const SHAPE: Shape = Shape { arch: Arch::Logistic, d: 12, k: 3 };

#[test]
fn speaker_dependent_splits_stay_on_their_clients_and_are_stratified_and_seeded() {
    let t = toy(Protocol::SpeakerDependent7030);
    let tr = &t.fold.train;
    let s = inner_splits(Protocol::SpeakerDependent7030, tr, &t.y, &t.actors, 3, 1, 0);
    assert_eq!(s.len(), 3);
    // a partition of the training rows
    let all: BTreeSet<usize> = s.iter().flatten().copied().collect();
    assert_eq!(all.len(), tr.len());
    assert_eq!(all, tr.iter().copied().collect());
    // every client has validation clips in every split, each class dealt evenly
    for a in 1001..=1006 {
        for split in &s {
            let mut per_class = [0usize; 3];
            for &r in split.iter().filter(|&&r| t.actors[r] == a) {
                per_class[t.y[r]] += 1;
            }
            // 24 training clips per client, 8 per class: 2 or 3 of each class per split
            assert!(per_class.iter().all(|&c| (2..=3).contains(&c)), "actor {a}: {per_class:?}");
        }
    }
    assert_eq!(s, inner_splits(Protocol::SpeakerDependent7030, tr, &t.y, &t.actors, 3, 1, 0));
    assert_ne!(s, inner_splits(Protocol::SpeakerDependent7030, tr, &t.y, &t.actors, 3, 2, 0), "the seed matters");
    assert_ne!(s, inner_splits(Protocol::SpeakerDependent7030, tr, &t.y, &t.actors, 3, 1, 1), "so does the fold");
}

#[test]
fn speaker_independent_splits_hold_out_whole_clients() {
    let t = toy(Protocol::GroupKfold);
    let s = inner_splits(Protocol::GroupKfold, &t.fold.train, &t.y, &t.actors, 4, 1, 0);
    // 6 clients in 4 splits: 2, 2, 1, 1
    let mut sizes: Vec<usize> =
        s.iter().map(|f| f.iter().map(|&r| t.actors[r]).collect::<BTreeSet<_>>().len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 1, 2, 2]);
    let mut seen = BTreeMap::new();
    for (i, f) in s.iter().enumerate() {
        for &r in f {
            assert_eq!(*seen.entry(t.actors[r]).or_insert(i), i, "actor {} in two splits", t.actors[r]);
        }
    }
    // one client cannot be split
    let one: Vec<usize> = t.fold.train.iter().copied().filter(|&r| t.actors[r] == 1001).collect();
    assert!(inner_splits(Protocol::Loso, &one, &t.y, &t.actors, 3, 1, 0).is_empty());
}

#[test]
fn grid_candidates_are_ordered_and_validated_naming_the_key() {
    let p = params(&[("local.lr", &[0.01, 0.1]), ("local.epochs", &[1.0, 2.0, 3.0])]);
    let c = p.select.candidates();
    assert_eq!(c.len(), 6);
    // keys ascending ("local.epochs" < "local.lr"), the last key fastest
    assert_eq!(c[0], [("local.epochs".to_owned(), 1.0), ("local.lr".to_owned(), 0.01)]);
    assert_eq!(c[1], [("local.epochs".to_owned(), 1.0), ("local.lr".to_owned(), 0.1)]);
    assert_eq!(c[5], [("local.epochs".to_owned(), 3.0), ("local.lr".to_owned(), 0.1)]);
    assert!(p.validate().is_ok());
    assert_eq!(with_candidate(&p, &c[5]).map(|q| (q.local.epochs, q.local.lr, q.select.is_off())), Ok((3, 0.1, true)));
    for (grid, needle) in [
        (params(&[("local.bogus", &[1.0])]), "unknown key"),
        (params(&[("local.epochs", &[1.5])]), "not a whole number"),
        (params(&[("local.lr", &[0.0])]), "train.federated.local.lr"),
        (params(&[("local.lr", &[])]), "lists no values"),
        (params(&[("local.lr", &[0.1; 8]), ("local.l2", &[0.1; 9])]), "72 candidates"),
    ] {
        let e = grid.validate().unwrap_err().to_string();
        assert!(e.contains("train.federated.select") && e.contains(needle), "{e}");
    }
    let mut p = params(&[("local.lr", &[0.1])]);
    p.select.inner_folds = 1;
    assert!(p.validate().unwrap_err().to_string().contains("train.federated.select.inner_folds"));
    // a pipeline file's table
    let p: FederatedParams =
        toml::from_str("[select]\ninner_folds = 2\n[select.grid]\n\"local.lr\" = [0.01, 0.1]\n\"mu\" = [0.0]\n")
            .unwrap();
    assert_eq!(p.select.candidates().len(), 2);
    // off: not serialised, so the params of pipelines without it hash as before
    let s = serde_json::to_string(&FederatedParams::default()).unwrap();
    assert!(!s.contains("select"), "{s}");
}

#[test]
fn selection_picks_the_best_inner_candidate_without_the_test_rows_and_is_deterministic() {
    for protocol in [Protocol::SpeakerDependent7030, Protocol::GroupKfold] {
        let t = toy(protocol);
        let p = params(&[("local.lr", &[1e-6, 0.1, 3.0])]);
        let run = |y: &[usize], threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| select(&p, SHAPE, &t.x, y, &t.actors, &t.fold, 9).unwrap().unwrap())
        };
        let (chosen, sel) = run(&t.y, 1);
        let uars: Vec<f64> = sel.candidates.iter().map(|c| c.uar).collect();
        assert_eq!(uars.len(), 3);
        assert!(uars.iter().any(|&u| u != uars[0]), "{protocol:?}: candidates scored alike: {uars:?}");
        // the first candidate with the highest inner UAR wins
        let best = uars.iter().position(|&u| u == uars.iter().copied().fold(f64::MIN, f64::max)).unwrap();
        assert_eq!(sel.chosen, sel.candidates[best].params, "{sel:?}");
        assert_eq!(chosen.local.lr, sel.chosen["local.lr"]);
        assert!(chosen.select.is_off());
        // a candidate's score is its runs on the inner splits, pooled: recomputed by hand
        let splits = inner_splits(protocol, &t.fold.train, &t.y, &t.actors, 3, p.select.seed, 0);
        let q = with_candidate(&p, &[("local.lr".to_owned(), 0.1)]).unwrap();
        let mut conf = vec![vec![0u64; 3]; 3];
        for (i, val) in splits.iter().enumerate() {
            let f = Fold {
                protocol,
                fold: 0,
                train: t.fold.train.iter().copied().filter(|r| !val.contains(r)).collect(),
                test: val.clone(),
            };
            let fed = fold_federation(SHAPE, &t.x, &t.y, &t.actors, &f);
            let cfg = SimConfig {
                rounds: 4,
                seed: 3,
                stream: 9 ^ ((i as u64 + 1) << 56),
                faults: q.faults.clone(),
                max_update_norm: 0.0,
                final_eval_only: false,
            };
            let out = simulate(&fed, strategy::from_params(&q).as_mut(), &cfg, Hooks::default()).unwrap();
            for (row, src) in conf.iter_mut().zip(&out.history[4].confusion) {
                for (c, v) in row.iter_mut().zip(src) {
                    *c += v;
                }
            }
        }
        assert_eq!(metrics::scores(&conf).uar, uars[1]);
        // the outer test rows never count: relabelling them changes nothing
        let mut y2 = t.y.clone();
        for &r in &t.fold.test {
            y2[r] = (y2[r] + 1) % 3;
        }
        let (_, sel2) = run(&y2, 2);
        assert_eq!(sel2, sel, "{protocol:?}: test rows or thread count changed the selection");
    }
}
