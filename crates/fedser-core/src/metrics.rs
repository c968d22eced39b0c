//! Classification metrics: UAR (unweighted average recall, the main metric of
//! speech emotion recognition), accuracy, macro-F1 and confusion matrices.
//!
//! Labels are indices `0..n_classes`. Classes absent from the true labels are
//! left out of UAR and macro-F1 (as scikit-learn's `balanced_accuracy_score`
//! does for recall; macro-F1 here averages over the classes present in the
//! truth, so a fold that lacks a class is not penalised for it).

/// Confusion matrix: `m[true][pred]`.
#[must_use]
pub fn confusion(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t < n_classes && p < n_classes {
            m[t][p] += 1;
        }
    }
    m
}

/// Summary metrics from a confusion matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Unweighted average recall over the classes present in the truth.
    pub uar: f64,
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean F1 over the classes present in the truth.
    pub macro_f1: f64,
}

/// UAR, accuracy and macro-F1 of a confusion matrix (`m[true][pred]`).
/// An empty matrix gives zeros.
#[must_use]
pub fn scores(m: &[Vec<u64>]) -> Scores {
    let n = m.len();
    let total: u64 = m.iter().flatten().sum();
    let mut recall_sum = 0.0;
    let mut f1_sum = 0.0;
    let mut present = 0usize;
    let mut correct = 0u64;
    for c in 0..n {
        let support: u64 = m[c].iter().sum();
        let predicted: u64 = m.iter().map(|row| row[c]).sum();
        let tp = m[c][c];
        correct += tp;
        if support == 0 {
            continue;
        }
        present += 1;
        let recall = tp as f64 / support as f64;
        let precision = if predicted == 0 { 0.0 } else { tp as f64 / predicted as f64 };
        recall_sum += recall;
        if precision + recall > 0.0 {
            f1_sum += 2.0 * precision * recall / (precision + recall);
        }
    }
    if total == 0 || present == 0 {
        return Scores { uar: 0.0, accuracy: 0.0, macro_f1: 0.0 };
    }
    Scores {
        uar: recall_sum / present as f64,
        accuracy: correct as f64 / total as f64,
        macro_f1: f1_sum / present as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sklearn() {
        // scikit-learn 1.6: balanced_accuracy_score([0,0,1,1,2,2],[0,1,1,1,2,0]) = 0.6667,
        // accuracy 0.6667, f1_score(average="macro") = 0.6556
        let m = confusion(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0], 3);
        assert_eq!(m, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]);
        let s = scores(&m);
        assert!((s.uar - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // per class F1: 0.5, 0.8, 0.6667
        assert!((s.macro_f1 - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn absent_classes_do_not_count() {
        let m = confusion(&[0, 0], &[0, 1], 3);
        let s = scores(&m);
        assert!((s.uar - 0.5).abs() < 1e-12);
        assert_eq!(scores(&confusion(&[], &[], 3)).uar, 0.0);
    }
}
