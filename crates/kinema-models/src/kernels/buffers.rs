//! Recycled activation buffers for the eval-mode kernels.
//!
//! Why: an activation of tens of megabytes freshly taken from the allocator comes back as new
//! pages, and faulting them in costs as much as the convolution that fills them (measured on
//! I3D-R50's layer1: a 1x1 convolution into a fresh 26 MB buffer takes 12 ms, 7 ms into a
//! reused one). Buffers of at least [`MIN_LEN`] floats that the kernels and [`FeatureMap`] drop come
//! here instead, up to [`MAX_POOLED`] floats in all (the oldest go first), and the next
//! request of a similar size takes one.
//!
//! [`FeatureMap`]: crate::layers::FeatureMap

use std::sync::Mutex;

/// Smaller buffers go straight back to the allocator (1 MiB of `f32`).
pub const MIN_LEN: usize = 1 << 18;
/// At most this many floats are held (256 MiB).
pub const MAX_POOLED: usize = 1 << 26;

static FREE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

fn free_list() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    // A panic while the list was held leaves it consistent (pushes and removes only).
    FREE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer of `len` floats whose contents are unspecified (stale values of an earlier
/// activation): for outputs the caller writes in full.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let mut free = free_list();
        // The smallest that fits, wasting at most half of itself.
        let best = (0..free.len())
            .filter(|&i| (len..=2 * len).contains(&free[i].capacity()))
            .min_by_key(|&i| free[i].capacity());
        if let Some(i) = best {
            let mut v = free.swap_remove(i);
            drop(free);
            v.truncate(len);
            v.resize(len, 0.0);
            return v;
        }
    }
    vec![0.0; len]
}

/// A buffer of `len` floats, every one `value`.
pub fn take_filled(len: usize, value: f32) -> Vec<f32> {
    let mut v = take(len);
    v.fill(value);
    v
}

/// Hands a buffer back for reuse (small ones are simply freed).
pub fn give(v: Vec<f32>) {
    if v.capacity() < MIN_LEN {
        return;
    }
    let mut free = free_list();
    free.push(v);
    let mut held = total(&free);
    while held > MAX_POOLED {
        held -= free.remove(0).capacity();
    }
}

/// Frees every held buffer (memory back to the allocator).
pub fn clear() {
    free_list().clear();
}

/// Floats held for reuse.
pub fn held() -> usize {
    total(&free_list())
}

fn total(free: &[Vec<f32>]) -> usize {
    free.iter().map(Vec::capacity).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Other tests may use the list at the same time: nothing here depends on its exact
    // contents, only on what this test gave.
    #[test]
    fn reuses_similar_sizes_and_stays_bounded() {
        let len = MIN_LEN * 2 + 12_345;
        let a = take(len);
        let ptr = a.as_ptr();
        give(a);
        // A much smaller request does not take it (at most half wasted); a similar one does.
        let small = take(len / 3);
        assert_ne!(small.as_ptr(), ptr);
        let b = take(len - 7);
        assert_eq!((b.as_ptr(), b.len()), (ptr, len - 7));
        give(b);
        let f = take_filled(len - 9, 3.0);
        assert_eq!(f.as_ptr(), ptr);
        assert!(f.iter().all(|&v| v == 3.0));
        // Past the cap the oldest go.
        for _ in 0..(MAX_POOLED / MIN_LEN + 3) {
            give(vec![0.0; MIN_LEN]);
        }
        assert!(held() <= MAX_POOLED);
    }
}
