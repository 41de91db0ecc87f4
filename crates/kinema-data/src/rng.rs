//! A small deterministic random generator (SplitMix64), so that a seed gives the same clips on
//! every machine, worker count and crate version.

/// Seeded generator; one per sample, derived from (seed, epoch, sample index).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed ^ 0x6a09_e667_f3bc_c909,
        }
    }

    /// The generator of one sample in one epoch: independent of which worker draws it.
    pub fn for_sample(seed: u64, epoch: u64, index: u64) -> Rng {
        let mut r = Rng::new(seed);
        let a = r.next_u64() ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut r = Rng::new(a);
        let b = r.next_u64() ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        Rng::new(b)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias worth speaking of (128-bit multiply).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform float in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform float in `[lo, hi)`.
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::for_sample(7, 1, 3);
        let mut b = Rng::for_sample(7, 1, 3);
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|&x| x < 10));
        let mut counts = [0usize; 10];
        xs.iter().for_each(|&x| counts[x as usize] += 1);
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        assert_ne!(
            Rng::for_sample(7, 1, 3).next_u64(),
            Rng::for_sample(7, 1, 4).next_u64()
        );
        assert_ne!(
            Rng::for_sample(7, 1, 3).next_u64(),
            Rng::for_sample(7, 2, 3).next_u64()
        );
        let mut v: Vec<u32> = (0..50).collect();
        Rng::new(1).shuffle(&mut v);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(v, s);
    }
}
