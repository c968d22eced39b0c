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
    for t in 0..=n as isize {
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
    for t in 0..(n + 2) as isize {
        let num = (at(t + 1) - at(t - 1)) + 2.0 * (at(t + 2) - at(t - 2));
        out.push(num / 10.0);
    }
}
