//! Shamir t-of-n secret sharing of 32-byte secrets over GF(p), p = 2^61 − 1.
//!
//! A secret is cut into eight 32-bit words; each word is the constant term of
//! its own random polynomial of degree t − 1, evaluated at x = 1..=n. Any t
//! shares reconstruct it by Lagrange interpolation at 0; t − 1 shares reveal
//! nothing (each word is uniformly masked by the unknown coefficients).

use rand::Rng;

/// The Mersenne prime 2^61 − 1.
const P: u64 = (1 << 61) - 1;
const WORDS: usize = 8;

/// One share: the evaluation point and the eight polynomial values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) x: u64,
    pub(crate) y: [u64; WORDS],
}

fn reduce(v: u128) -> u64 {
    // v mod 2^61 − 1 for v < 2^122.
    let lo = (v as u64) & P;
    let hi = (v >> 61) as u64;
    let mut r = lo + (hi & P) + (hi >> 61);
    while r >= P {
        r -= P;
    }
    r
}

fn mul(a: u64, b: u64) -> u64 {
    reduce(u128::from(a) * u128::from(b))
}

fn add(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn sub(a: u64, b: u64) -> u64 {
    if a >= b {
        a - b
    } else {
        a + P - b
    }
}

fn pow(mut b: u64, mut e: u64) -> u64 {
    let mut r = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = mul(r, b);
        }
        b = mul(b, b);
        e >>= 1;
    }
    r
}

fn inv(a: u64) -> u64 {
    pow(a, P - 2)
}

/// Splits `secret` into `n` shares, any `t` of which reconstruct it.
/// Requires 1 ≤ t ≤ n < 2^61 (checked by the caller).
pub(crate) fn split<R: Rng + ?Sized>(secret: &[u8; 32], t: usize, n: usize, rng: &mut R) -> Vec<Share> {
    let mut coeffs = vec![[0_u64; WORDS]; t];
    for (w, chunk) in secret.chunks_exact(4).enumerate() {
        coeffs[0][w] = u64::from(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        for c in coeffs.iter_mut().skip(1) {
            c[w] = rng.gen_range(0..P);
        }
    }
    (1..=n as u64)
        .map(|x| {
            let mut y = [0_u64; WORDS];
            for (w, yw) in y.iter_mut().enumerate() {
                // Horner.
                *yw = coeffs.iter().rev().fold(0, |acc, c| add(mul(acc, x), c[w]));
            }
            Share { x, y }
        })
        .collect()
}

/// Reconstructs the secret from at least `t` shares with distinct x (uses
/// the first `t`). `None` when the shares are too few, repeat a point, or
/// interpolate to a value that is not a 32-bit word (wrong shares).
pub(crate) fn reconstruct(shares: &[Share], t: usize) -> Option<[u8; 32]> {
    if shares.len() < t || t == 0 {
        return None;
    }
    let s = &shares[..t];
    let mut secret = [0_u8; 32];
    let mut lagrange = Vec::with_capacity(t);
    for (i, si) in s.iter().enumerate() {
        let (mut num, mut den) = (1_u64, 1_u64);
        for (j, sj) in s.iter().enumerate() {
            if i != j {
                if si.x == sj.x {
                    return None;
                }
                num = mul(num, sj.x % P);
                den = mul(den, sub(sj.x % P, si.x % P));
            }
        }
        lagrange.push(mul(num, inv(den)));
    }
    for w in 0..WORDS {
        let v = s.iter().zip(&lagrange).fold(0, |acc, (sh, &l)| add(acc, mul(sh.y[w], l)));
        let word = u32::try_from(v).ok()?;
        secret[4 * w..4 * w + 4].copy_from_slice(&word.to_le_bytes());
    }
    Some(secret)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn any_t_shares_reconstruct_fewer_do_not() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let mut secret = [0_u8; 32];
        rng.fill(&mut secret);
        let shares = split(&secret, 4, 7, &mut rng);
        assert_eq!(reconstruct(&shares[3..7], 4), Some(secret));
        let picked = [shares[6], shares[0], shares[4], shares[2]];
        assert_eq!(reconstruct(&picked, 4), Some(secret));
        assert_eq!(reconstruct(&shares[..3], 4), None);
        // Three shares interpolated as if t were 3 give a different secret (or none).
        assert_ne!(reconstruct(&shares[..3], 3), Some(secret));
    }

    #[test]
    fn field_arithmetic() {
        for a in [1_u64, 2, 12345, P - 1, 1 << 40] {
            assert_eq!(mul(a, inv(a)), 1);
        }
        assert_eq!(reduce(u128::from(P) * u128::from(P)), 0);
        assert_eq!(add(P - 1, 1), 0);
        assert_eq!(sub(0, 1), P - 1);
    }
}
