//! Moving-average smoothing ("_sma") and regression deltas ("_de") of LLD
//! contours (spec section 4, groups A and B).

/// `x[i]` with edge replication over the first `n` values (`n >= 1`):
/// indices before 0 give `x[0]`, indices at or after `n` give `x[n - 1]`.
#[inline]
pub(crate) fn edge(x: &[f32], n: usize, i: isize) -> f32 {
    if i < 0 {
        x[0]
    } else if i as usize >= n {
        x[n - 1]
    } else {
        x[i as usize]
    }
}

/// 3-frame moving average with edge replication. The output has one frame
/// more than the input (`x.len() + 1`); empty input gives empty output.
pub fn smooth3(x: &[f32], out: &mut Vec<f32>) {
    out.clear();
    let n = x.len();
    if n == 0 {
        return;
    }
    let at = |i: isize| edge(x, n, i);
    out.reserve(n + 1);
    // Edge frames through `edge`, the interior directly (same sums).
    for t in 0..=n as isize {
        if t == 1 && n >= 3 {
            out.extend(x.windows(3).map(|w| ((w[1] + w[0]) + w[2]) / 3.0));
            continue;
        }
        if t >= 2 && t <= n as isize - 2 {
            continue;
        }
        let s = (at(t) + at(t - 1)) + at(t + 1);
        out.push(s / 3.0);
    }
}

/// Delta coefficients with window W = 2 and edge replication. The output has
/// two frames more than the input (`y.len() + 2`); empty input gives empty output.
pub fn delta2(y: &[f32], out: &mut Vec<f32>) {
    out.clear();
    let n = y.len();
    if n == 0 {
        return;
    }
    let at = |i: isize| edge(y, n, i);
    out.reserve(n + 2);
    // Edge frames through `edge`, the interior (t = 2..n-2) directly.
    for t in 0..(n + 2) as isize {
        if t == 2 && n >= 5 {
            out.extend(y.windows(5).map(|w| ((w[3] - w[1]) + 2.0 * (w[4] - w[0])) / 10.0));
            continue;
        }
        if t >= 3 && t <= n as isize - 3 {
            continue;
        }
        let num = (at(t + 1) - at(t - 1)) + 2.0 * (at(t + 2) - at(t - 2));
        out.push(num / 10.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth3_and_delta2_equal_the_edge_replicated_formulas() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for n in 0..12usize {
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 * 0.37 - 2.0).collect();
            smooth3(&x, &mut a);
            delta2(&x, &mut b);
            assert_eq!(a.len(), if n == 0 { 0 } else { n + 1 });
            assert_eq!(b.len(), if n == 0 { 0 } else { n + 2 });
            for (t, &v) in a.iter().enumerate() {
                let at = |i: isize| edge(&x, n, i);
                let t = t as isize;
                assert_eq!(v.to_bits(), (((at(t) + at(t - 1)) + at(t + 1)) / 3.0).to_bits(), "n {n} t {t}");
            }
            for (t, &v) in b.iter().enumerate() {
                let at = |i: isize| edge(&x, n, i);
                let t = t as isize;
                let want = ((at(t + 1) - at(t - 1)) + 2.0 * (at(t + 2) - at(t - 2))) / 10.0;
                assert_eq!(v.to_bits(), want.to_bits(), "n {n} t {t}");
            }
        }
    }
}
