//! Direct convolution for inputs with few channels (stems: 3 colour channels, 5x7x7 or 7x7
//! kernels) on AVX-512: output channels in vector lanes, every (channel, kernel offset) of the
//! reduction read straight from the stride-phase grid (see `conv.rs`), nothing gathered or
//! packed. The GEMM path had to copy each tile's `taps * cin` input rows into a column buffer
//! and let the GEMM pack them again; for a stem that is a quarter of its time.
//!
//! The output is computed over the phase grid's flat positions (`(z * hq + y) * wq + x`,
//! where the input of kernel offset `t` and channel `c` is the same flat range shifted by
//! `rows[c * taps + t]`), then cropped to `od x oh x ow` while the epilogue is applied. A
//! micro-tile is `NP` positions by `MV` vectors of 16 output channels: per reduction row it
//! broadcasts `NP` input values and loads `MV` aligned weight vectors (the weights transposed
//! to `[row][channel]`), so no load straddles a cache line; positions along lanes would make
//! every input load an unaligned one. The reduction runs in blocks of `KB` rows whose weights
//! stay in L1 while a chunk's micro-tiles use them. [`super::conv::conv3d_reference`] is the
//! definition it is tested against (through `conv3d`, which calls it when the CPU has
//! AVX-512).

use rayon::prelude::*;

use super::epilogue::{Epilogue, OutPtr};

/// Vectors of [`LANES`] output channels per micro-tile.
const MV: usize = 4;
/// Positions per micro-tile: `NP * MV` accumulators, `MV` weight vectors and one broadcast
/// input fit the 32 vector registers.
const NP: usize = 6;
const LANES: usize = 16;
/// Positions per chunk: a chunk's accumulators for 64 channels, a block's input rows for it
/// and the block's weights stay inside a 48 KiB L1.
const CH: usize = 8 * NP;
/// Reduction rows per block.
const KB: usize = 64;
/// Chunks per parallel task: enough work per task, enough tasks for every thread.
const TASK_CHUNKS: usize = 16;

/// True when this CPU runs the direct kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What one call convolves: the per-element phase grids and how reduction rows sit in them.
pub struct Direct<'a> {
    /// One phase-grid buffer per batch element.
    pub srcs: Vec<&'a [f32]>,
    /// Start of reduction row `k` (`ci * taps + tap`, the weights' order) in a grid buffer.
    pub rows: Vec<usize>,
    /// Weights `[cout][rows.len()]`.
    pub weight: &'a [f32],
    pub cout: usize,
    /// Output (D, H, W) and the grid's (H, W) (its D is the output's).
    pub odhw: [usize; 3],
    pub grid: [usize; 2],
}

impl Direct<'_> {
    /// `dst = epilogue(conv)`, `dst` laid out `[batch, cout, od, oh, ow]`.
    ///
    /// # Panics
    /// If AVX-512 is not available, or a buffer is too short for what the geometry reads or
    /// writes.
    pub fn run(&self, ep: &Epilogue, dst: &mut [f32]) {
        assert!(available(), "the direct kernel needs AVX-512");
        let k = self.rows.len();
        let [od, oh, ow] = self.odhw;
        let [hq, wq] = self.grid;
        let cols = od * hq * wq;
        let per_item = self.cout * od * oh * ow;
        assert_eq!(self.weight.len(), self.cout * k, "weight length");
        assert!(dst.len() >= self.srcs.len() * per_item, "output length");
        if let Some(r) = ep.residual {
            assert!(r.len() >= self.srcs.len() * per_item, "residual length");
        }
        let reach = self.rows.iter().max().copied().unwrap_or(0) + cols;
        for s in &self.srcs {
            assert!(
                reach <= s.len(),
                "grid buffer of {} floats, reads reach {reach}",
                s.len()
            );
        }
        // Weights as [row][channel], channels padded to whole vectors with zeros, 64-byte
        // aligned so every weight load is one cache line.
        let cp = self.cout.next_multiple_of(LANES);
        let mut wt_buf = Aligned::zeroed(k * cp);
        let wt = wt_buf.as_mut_slice();
        for c in 0..self.cout {
            for (j, &v) in self.weight[c * k..(c + 1) * k].iter().enumerate() {
                wt[j * cp + c] = v;
            }
        }
        let wt = &*wt;
        let chunks = cols.div_ceil(CH);
        let tasks = chunks.div_ceil(TASK_CHUNKS);
        let out = OutPtr(dst.as_mut_ptr());
        (0..self.srcs.len() * tasks).into_par_iter().for_each(|t| {
            let (b, t) = (t / tasks, t % tasks);
            // A chunk's accumulators, [position][channel], and the same channel-major for the
            // crop.
            let mut tile = Aligned::zeroed(CH * cp);
            let mut rows_out = vec![0f32; self.cout * CH];
            for c in t * TASK_CHUNKS..((t + 1) * TASK_CHUNKS).min(chunks) {
                let p = c * CH;
                let n = CH.min(cols - p);
                for k0 in (0..k).step_by(KB) {
                    let rows = &self.rows[k0..(k0 + KB).min(k)];
                    for g0 in (0..cp).step_by(MV * LANES) {
                        let mv = MV.min((cp - g0) / LANES);
                        for q0 in (0..n).step_by(NP) {
                            let np = NP.min(n - q0);
                            // SAFETY: AVX-512 checked above; the reads src[rows[j] + p + q] for
                            // q < n stay below `reach` (asserted against each source); weight
                            // rows k0.. hold cp channels from g0 + 16 * mv <= cp; the tile holds
                            // CH positions of cp channels, q0 + np <= CH.
                            unsafe {
                                micro(
                                    mv,
                                    np,
                                    Block {
                                        src: self.srcs[b].as_ptr().add(p + q0),
                                        rows,
                                        w: wt.as_ptr().add(k0 * cp + g0),
                                        stride: cp,
                                        acc: tile.as_mut_slice().as_mut_ptr().add(q0 * cp + g0),
                                        first: k0 == 0,
                                    },
                                )
                            };
                        }
                    }
                }
                let tile = tile.as_mut_slice();
                for q in 0..n {
                    for ch in 0..self.cout {
                        rows_out[ch * CH + q] = tile[q * cp + ch];
                    }
                }
                self.store(ep, out, b, p, n, &rows_out);
            }
        });
    }

    /// Crops a computed chunk (every channel, `n` grid positions from `p`, channel rows of CH)
    /// into the output with the epilogue: the runs that stay inside one output row, as slices.
    fn store(&self, ep: &Epilogue, out: OutPtr, b: usize, p: usize, n: usize, tile: &[f32]) {
        let [od, oh, ow] = self.odhw;
        let [hq, wq] = self.grid;
        let plane = od * oh * ow;
        let end = p + n;
        let mut g = p;
        while g < end {
            let (z, y, x) = (g / (hq * wq), (g / wq) % hq, g % wq);
            // This grid row's positions in the chunk, and the ones the output keeps.
            let run = (wq - x).min(end - g);
            if y < oh && x < ow {
                let keep = (ow - x).min(run);
                for (c, row) in tile.chunks_exact(CH).enumerate() {
                    let at = (b * self.cout + c) * plane + (z * oh + y) * ow + x;
                    // SAFETY: output channel c of element b, row (z, y), columns x..x+keep:
                    // inside dst (length asserted in `run`) and written by this task only
                    // (its grid range maps to its own output positions).
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), keep) };
                    let res = ep.residual.map(|r| &r[at..at + keep]);
                    ep.apply_run(c, dst, Some(&row[g - p..g - p + keep]), res);
                }
            }
            g += run;
        }
    }
}

/// A zeroed `f32` buffer whose first element is 64-byte aligned.
struct Aligned {
    buf: Vec<f32>,
    at: usize,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Aligned {
        let buf = vec![0f32; len + LANES];
        let at = buf.as_ptr().align_offset(64).min(LANES);
        Aligned { buf, at, len }
    }

    fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.at..self.at + self.len]
    }
}

/// One reduction block of one micro-tile.
struct Block<'a> {
    /// The micro-tile's first grid position in the element's grid buffer.
    src: *const f32,
    /// Start of each reduction row of the block (relative to `src`).
    rows: &'a [usize],
    /// The weights of the block's first row for the tile's first channel; rows `stride` apart.
    w: *const f32,
    /// The tile's accumulators: position q's channels at `acc + q * stride`.
    acc: *mut f32,
    stride: usize,
    /// The block is the reduction's first: the accumulators start at zero, not from `acc`.
    first: bool,
}

/// `acc[q][..16 * mv] (+)= sum over the block's rows j of src[rows[j] + q] * w[j * stride ..]
/// [..16 * mv]` for q < np: the accumulators stay in registers for the block.
///
/// # Safety
/// The CPU has AVX-512F; `src + rows[j] + q` is readable for every j and q < np; `w + j *
/// stride` is readable for `16 * mv` floats for every j, `acc + q * stride` readable and
/// writable for `16 * mv` floats for q < np; `mv <= MV`, `np <= NP`.
#[cfg(target_arch = "x86_64")]
unsafe fn micro(mv: usize, np: usize, b: Block) {
    macro_rules! dispatch {
        ($($m:literal),*; $($n:literal),*) => {
            dispatch!(@m [$($m),*] [$($n),*])
        };
        (@m [$($m:literal),*] $ns:tt) => {
            match mv {
                $($m => dispatch!(@n $m $ns),)*
                _ => unreachable!("mv <= MV"),
            }
        };
        (@n $m:literal [$($n:literal),*]) => {
            match np {
                // SAFETY: forwarded from this function's contract.
                $($n => unsafe { micro_fixed::<$m, $n>(&b) },)*
                _ => unreachable!("np <= NP"),
            }
        };
    }
    dispatch!(1, 2, 3, 4; 1, 2, 3, 4, 5, 6)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn micro(_: usize, _: usize, _: Block) {
    unreachable!("`available` is false off x86-64")
}

/// [`micro`] for a fixed tile shape, so the accumulators are registers.
///
/// # Safety
/// As [`micro`], with `M` and `N` for `mv` and `np`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn micro_fixed<const M: usize, const N: usize>(b: &Block) {
    use std::arch::x86_64::*;
    // SAFETY: every pointer stays inside what the caller guarantees (the whole body: loads,
    // stores and AVX-512 intrinsics, whose feature the caller checked).
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); M]; N];
        if !b.first {
            for (q, a) in acc.iter_mut().enumerate() {
                for (v, av) in a.iter_mut().enumerate() {
                    *av = _mm512_loadu_ps(b.acc.add(q * b.stride + v * LANES));
                }
            }
        }
        for (j, &row) in b.rows.iter().enumerate() {
            let s = b.src.add(row);
            let w = b.w.add(j * b.stride);
            let mut wv = [_mm512_setzero_ps(); M];
            for (v, wi) in wv.iter_mut().enumerate() {
                *wi = _mm512_loadu_ps(w.add(v * LANES));
            }
            for (q, aq) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*s.add(q));
                for (a, w) in aq.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(x, *w, *a);
                }
            }
        }
        for (q, a) in acc.iter().enumerate() {
            for (v, av) in a.iter().enumerate() {
                _mm512_storeu_ps(b.acc.add(q * b.stride + v * LANES), *av);
            }
        }
    }
}
