//! Eval-mode convolution on the CPU: 3-D (2-D is D = 1) on contiguous NCDHW `f32`, dilation 1,
//! one group, with BatchNorm folded into the epilogue (`out = act(acc * scale[c] + shift[c])`).
//!
//! Why our own: burn Flex's convolution transposes the input to NHWC on one thread, builds an
//! im2col buffer per tile and scatters the GEMM result back, and BatchNorm is four more passes
//! over the activation. Here the input is padded once and split into stride phases; each phase
//! is a stride-1 grid, so the input of every kernel offset is one contiguous shifted slice of it
//! and the convolution is a sum of plain GEMMs (no im2col) straight into the output, computed
//! over the padded grid's width and cropped in the same pass that applies the epilogue.
//! Inputs with few channels (stems) run the direct kernel of `direct.rs` on AVX-512 CPUs and
//! otherwise gather the offsets into one taller GEMM.
//!
//! [`conv3d_reference`] is the plain-loop definition the fast path is tested against.

use rayon::prelude::*;

use super::buffers;
pub use super::epilogue::Epilogue;
use super::epilogue::OutPtr;

/// Geometry of one convolution (PyTorch/MXNet semantics; padding may differ before and after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Kernel size (D, H, W).
    pub kernel: [usize; 3],
    /// Stride (D, H, W).
    pub stride: [usize; 3],
    /// Zero padding before each dimension.
    pub pad_begin: [usize; 3],
    /// Zero padding after each dimension.
    pub pad_end: [usize; 3],
}

impl ConvGeom {
    /// Output (D, H, W) for an input of `dhw`, `None` when the kernel does not fit or a stride
    /// is zero.
    pub fn output(&self, dhw: [usize; 3]) -> Option<[usize; 3]> {
        let mut out = [0; 3];
        for i in 0..3 {
            let padded = dhw[i] + self.pad_begin[i] + self.pad_end[i];
            if self.stride[i] == 0 || self.kernel[i] == 0 || padded < self.kernel[i] {
                return None;
            }
            out[i] = (padded - self.kernel[i]) / self.stride[i] + 1;
        }
        Some(out)
    }
}

/// Plain-loop convolution: the definition [`conv3d`] is tested against. `x` is
/// `[n, cin, d, h, w]`, `weight` `[cout, cin, kd, kh, kw]`; returns `[n, cout, od, oh, ow]`.
pub fn conv3d_reference(
    x: &[f32],
    xshape: [usize; 5],
    weight: &[f32],
    cout: usize,
    g: &ConvGeom,
    ep: &Epilogue,
) -> (Vec<f32>, [usize; 5]) {
    let [n, cin, d, h, w] = xshape;
    let [kd, kh, kw] = g.kernel;
    let [od, oh, ow] = g.output([d, h, w]).expect("kernel fits");
    let mut out = vec![0f32; n * cout * od * oh * ow];
    for b in 0..n {
        for co in 0..cout {
            for z in 0..od {
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut acc = 0f64;
                        for ci in 0..cin {
                            for i in 0..kd {
                                for j in 0..kh {
                                    for k in 0..kw {
                                        let iz = (z * g.stride[0] + i) as isize - g.pad_begin[0] as isize;
                                        let iy = (y * g.stride[1] + j) as isize - g.pad_begin[1] as isize;
                                        let ix = (xx * g.stride[2] + k) as isize - g.pad_begin[2] as isize;
                                        if iz < 0 || iy < 0 || ix < 0 {
                                            continue;
                                        }
                                        let (iz, iy, ix) = (iz as usize, iy as usize, ix as usize);
                                        if iz >= d || iy >= h || ix >= w {
                                            continue;
                                        }
                                        let xv = x[(((b * cin + ci) * d + iz) * h + iy) * w + ix];
                                        let wv = weight[(((co * cin + ci) * kd + i) * kh + j) * kw + k];
                                        acc += xv as f64 * wv as f64;
                                    }
                                }
                            }
                        }
                        let o = (((b * cout + co) * od + z) * oh + y) * ow + xx;
                        out[o] = ep.apply(co, acc as f32, ep.residual.map_or(0.0, |r| r[o]));
                    }
                }
            }
        }
    }
    (out, [n, cout, od, oh, ow])
}

/// Below this many input channels the kernel offsets are gathered into one GEMM (an im2col of
/// contiguous row copies): a GEMM with a short inner dimension is bound by its output traffic.
const GATHER_BELOW_CIN: usize = 32;

/// The input of one batch element, zero-padded and split into stride phases: phase
/// `(pd, ph, pw)` holds the padded input at `(q * sd + pd, r * sh + ph, s * sw + pw)`, every
/// phase on the same `[cin, dq, hq, wq]` grid (plus slack at the end: the GEMM over the whole
/// grid reads a little past the last row for outputs it then discards).
struct Phases<'a> {
    data: std::borrow::Cow<'a, [f32]>,
    /// Floats per phase (cin planes).
    phase_len: usize,
    /// Floats per channel plane.
    plane: usize,
    grid: [usize; 3],
}

impl<'a> Phases<'a> {
    fn new(x: &'a [f32], cin: usize, dhw: [usize; 3], g: &ConvGeom, slack: usize) -> Phases<'a> {
        let [d, h, w] = dhw;
        let [sd, sh, sw] = g.stride;
        let padded = [0, 1, 2].map(|i| dhw[i] + g.pad_begin[i] + g.pad_end[i]);
        let grid = [0, 1, 2].map(|i| padded[i].div_ceil(g.stride[i]));
        let plane = grid[0] * grid[1] * grid[2];
        let identity = g.stride == [1, 1, 1] && g.pad_begin == [0; 3] && g.pad_end == [0; 3];
        if identity && slack == 0 {
            return Phases {
                data: std::borrow::Cow::Borrowed(x),
                phase_len: cin * plane,
                plane,
                grid,
            };
        }
        // Only the phases some kernel offset reads. Phases follow each other; the slack is at
        // the end of the last one (an over-read past a phase's last channel lands in the next
        // phase, on outputs that are discarded).
        let used = [0, 1, 2].map(|i| g.kernel[i].min(g.stride[i]));
        let phase_len = cin * plane;
        let n_phases = used[0] * used[1] * used[2];
        let mut data = buffers::take_filled(n_phases * phase_len + slack, 0.0);
        let [pbd, pbh, pbw] = g.pad_begin;
        data[..n_phases * phase_len]
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(pc, dst)| {
                let (p, c) = (pc / cin, pc % cin);
                let (pd, ph, pw) = (p / (used[1] * used[2]), (p / used[2]) % used[1], p % used[2]);
                let src = &x[c * d * h * w..(c + 1) * d * h * w];
                for q in 0..grid[0] {
                    let z = (q * sd + pd) as isize - pbd as isize;
                    if z < 0 || z as usize >= d {
                        continue;
                    }
                    for r in 0..grid[1] {
                        let y = (r * sh + ph) as isize - pbh as isize;
                        if y < 0 || y as usize >= h {
                            continue;
                        }
                        let row = &src[(z as usize * h + y as usize) * w..][..w];
                        let out = &mut dst[(q * grid[1] + r) * grid[2]..][..grid[2]];
                        if sw == 1 {
                            // Stride 1 has one phase: the row lands shifted by the left padding.
                            out[pbw..pbw + w].copy_from_slice(row);
                        } else {
                            // Grid column s reads input column s * sw + pw - pbw, where valid.
                            let lo = pbw.saturating_sub(pw).div_ceil(sw);
                            let hi = (w + pbw)
                                .checked_sub(pw + 1)
                                .map_or(0, |v| (v / sw + 1).min(grid[2]));
                            if lo < hi {
                                let first = lo * sw + pw - pbw;
                                for (o, &v) in out[lo..hi].iter_mut().zip(row[first..].iter().step_by(sw)) {
                                    *o = v;
                                }
                            }
                        }
                    }
                }
            });
        Phases {
            data: std::borrow::Cow::Owned(data),
            phase_len,
            plane,
            grid,
        }
    }

    /// Where kernel offset `(i, j, k)` starts reading: its phase's start plus its shift.
    fn offset(&self, g: &ConvGeom, i: usize, j: usize, k: usize) -> usize {
        let used = [0, 1, 2].map(|t| g.kernel[t].min(g.stride[t]));
        let [sd, sh, sw] = g.stride;
        let phase = ((i % sd) * used[1] + j % sh) * used[2] + k % sw;
        phase * self.phase_len + ((i / sd) * self.grid[1] + j / sh) * self.grid[2] + k / sw
    }
}

/// Fast eval-mode convolution; same contract as [`conv3d_reference`].
///
/// # Panics
/// If the slices do not match the shapes or the kernel does not fit the padded input (callers
/// check with [`ConvGeom::output`]).
pub fn conv3d(
    x: &[f32],
    xshape: [usize; 5],
    weight: &[f32],
    cout: usize,
    g: &ConvGeom,
    ep: &Epilogue,
) -> (Vec<f32>, [usize; 5]) {
    conv3d_paths(x, xshape, weight, cout, g, ep, super::direct::available())
}

/// [`conv3d`], with the direct few-channel kernel allowed or not (tests run both paths).
fn conv3d_paths(
    x: &[f32],
    xshape: [usize; 5],
    weight: &[f32],
    cout: usize,
    g: &ConvGeom,
    ep: &Epilogue,
    allow_direct: bool,
) -> (Vec<f32>, [usize; 5]) {
    let [n, cin, d, h, w] = xshape;
    let [kd, kh, kw] = g.kernel;
    let taps = kd * kh * kw;
    assert_eq!(x.len(), n * cin * d * h * w, "input length");
    assert_eq!(weight.len(), cout * cin * taps, "weight length");
    let [od, oh, ow] = g.output([d, h, w]).expect("kernel fits the padded input");
    if let Some(r) = ep.residual {
        assert_eq!(r.len(), n * cout * od * oh * ow, "residual length");
    }
    // Weights stay as given, [cout][cin][tap]: the gathered form orders its rows (ci, tap) to
    // match, and one tap's [cout, cin] matrix is the strided view at column offset tap.
    // Every element is written below (the first tap's GEMM does not read it).
    let mut out = buffers::take(n * cout * od * oh * ow);
    // Slack: the furthest shift of any tap, plus the over-read of the last grid row.
    let grid_probe = [0, 1, 2].map(|i| (xshape[i + 2] + g.pad_begin[i] + g.pad_end[i]).div_ceil(g.stride[i]));
    let gather = cin < GATHER_BELOW_CIN && taps > 1;
    // Few channels on AVX-512: the direct kernel reads every tap in place instead.
    let direct = gather && allow_direct;
    // The gathered form copies only the positions the output keeps: it never over-reads. The
    // per-tap GEMMs and the direct kernel read each tap's shifted range of the whole grid.
    let slack = if taps == 1 || (gather && !direct) {
        0
    } else {
        ((kh - 1) / g.stride[1] + 1) * grid_probe[2] + kw
    };
    let plane_in = cin * d * h * w;
    let phases: Vec<Phases> = (0..n)
        .map(|b| Phases::new(&x[b * plane_in..(b + 1) * plane_in], cin, [d, h, w], g, slack))
        .collect();
    let [_, hq, wq] = phases[0].grid;
    let offsets: Vec<usize> = (0..kd)
        .flat_map(|i| (0..kh).flat_map(move |j| (0..kw).map(move |k| (i, j, k))))
        .map(|(i, j, k)| phases[0].offset(g, i, j, k))
        .collect();
    // Output on the phase grid: od planes of hq x wq per channel, cropped to oh x ow below.
    let cols = od * hq * wq;
    let plane_out = od * oh * ow;
    // Runs of the output are (batch element, channel) pairs: run i is channel i % cout.
    let residual = |i: usize| ep.residual.map(|r| &r[i * plane_out..(i + 1) * plane_out]);
    if direct {
        let plane = phases[0].plane;
        super::direct::Direct {
            srcs: phases.iter().map(|p| p.data.as_ref()).collect(),
            rows: (0..cin)
                .flat_map(|ci| offsets.iter().map(move |&o| o + ci * plane))
                .collect(),
            weight,
            cout,
            odhw: [od, oh, ow],
            grid: [hq, wq],
        }
        .run(ep, &mut out);
    } else if gather {
        gemm_gathered(
            &phases,
            &offsets,
            weight,
            cin,
            cout,
            [od, oh, ow],
            [hq, wq],
            ep,
            &mut out,
        );
    } else if hq == oh && wq == ow {
        // The grid is the output: the epilogue runs in place.
        gemm_taps(&phases, &offsets, weight, cin, cout, cols, &mut out);
        out.par_chunks_mut(cols)
            .enumerate()
            .for_each(|(i, row)| ep.apply_run(i % cout, row, None, residual(i)));
    } else {
        let mut grid = buffers::take(n * cout * cols);
        gemm_taps(&phases, &offsets, weight, cin, cout, cols, &mut grid);
        out.par_chunks_mut(plane_out)
            .zip(grid.par_chunks(cols))
            .enumerate()
            .for_each(|(i, (o, src))| {
                for z in 0..od {
                    for y in 0..oh {
                        let s = &src[(z * hq + y) * wq..][..ow];
                        let at = (z * oh + y) * ow;
                        let r = residual(i).map(|r| &r[at..][..ow]);
                        ep.apply_run(i % cout, &mut o[at..][..ow], Some(s), r);
                    }
                }
            });
        buffers::give(grid);
    }
    for ph in phases {
        if let std::borrow::Cow::Owned(v) = ph.data {
            buffers::give(v);
        }
    }
    (out, [n, cout, od, oh, ow])
}

/// How the `[cout, cols]` outputs of `batch` elements split into tiles run in parallel.
struct Tiles {
    batch: usize,
    cout: usize,
    cols: usize,
    tile_m: usize,
    m_tiles: usize,
    tile_n: usize,
    n_tiles: usize,
}

impl Tiles {
    /// Column tiles sized so a tile of `rows` rows stays in cache; rows split too when there
    /// are too few column tiles to keep every thread busy.
    fn new(batch: usize, cout: usize, cols: usize, rows: usize) -> Tiles {
        let threads = rayon::current_num_threads().max(1);
        let tile_n = (262_144 / rows.max(1)).clamp(128, 8192).min(cols.max(1));
        let n_tiles = cols.div_ceil(tile_n);
        let m_split = if batch * n_tiles >= 2 * threads {
            1
        } else {
            (2 * threads).div_ceil(batch * n_tiles).min(cout.div_ceil(16))
        };
        let tile_m = cout.div_ceil(m_split.max(1));
        Tiles {
            batch,
            cout,
            cols,
            tile_m,
            m_tiles: cout.div_ceil(tile_m),
            tile_n,
            n_tiles,
        }
    }

    fn len(&self) -> usize {
        self.batch * self.m_tiles * self.n_tiles
    }

    /// Tile `t`: `[batch element, first row, rows, first column, columns]`.
    fn get(&self, t: usize) -> [usize; 5] {
        let per_item = self.m_tiles * self.n_tiles;
        let (b, t) = (t / per_item, t % per_item);
        let (m0, c0) = ((t / self.n_tiles) * self.tile_m, (t % self.n_tiles) * self.tile_n);
        [
            b,
            m0,
            self.tile_m.min(self.cout - m0),
            c0,
            self.tile_n.min(self.cols - c0),
        ]
    }
}

thread_local! {
    /// Per-thread scratch for gathered columns, reused across tiles and calls: a fresh buffer
    /// per tile costs a memset and page faults comparable to the copy itself.
    static GATHERED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Few input channels (stems): for every tile of output positions, gather the
/// `[taps * cin, positions]` columns (contiguous row pieces of the phase grid, only positions
/// the output keeps) into per-thread scratch, run one GEMM with `K = taps * cin` straight into
/// `dst` (`[batch, cout, od * oh * ow]`) and apply the epilogue while the tile is in cache.
#[allow(clippy::too_many_arguments)]
fn gemm_gathered(
    phases: &[Phases],
    offsets: &[usize],
    wt: &[f32],
    cin: usize,
    cout: usize,
    odhw: [usize; 3],
    grid: [usize; 2],
    ep: &Epilogue,
    dst: &mut [f32],
) {
    let k = offsets.len() * cin;
    let [_, oh, ow] = odhw;
    let [hq, wq] = grid;
    let positions: usize = odhw.iter().product();
    let batch = phases.len();
    let tiles = Tiles::new(batch, cout, positions, cout.max(k));
    let per_item = cout * positions;
    assert!(dst.len() >= batch * per_item);
    assert_eq!(wt.len(), cout * k);
    if let Some(r) = ep.residual {
        assert!(r.len() >= batch * per_item);
    }
    let out = OutPtr(dst.as_mut_ptr());
    (0..tiles.len()).into_par_iter().for_each(|t| {
        let [b, m0, m, p0, np] = tiles.get(t);
        let ph = &phases[b];
        let src = ph.data.as_ref();
        GATHERED.with_borrow_mut(|col| {
            if col.len() < k * np {
                col.resize(k * np, 0.0);
            }
            // Row (ci, tap), the weights' order: output position (z, y, x) reads grid column
            // (z * hq + y) * wq + x, so each output row of the tile is one contiguous copy.
            let taps = offsets.len();
            for ci in 0..cin {
                for (tp, &off) in offsets.iter().enumerate() {
                    let row = &mut col[(ci * taps + tp) * np..][..np];
                    let base = off + ci * ph.plane;
                    let mut filled = 0;
                    while filled < np {
                        let p = p0 + filled;
                        let (z, y, x) = (p / (oh * ow), (p / ow) % oh, p % ow);
                        let run = (ow - x).min(np - filled);
                        let s = base + (z * hq + y) * wq + x;
                        row[filled..filled + run].copy_from_slice(&src[s..s + run]);
                        filled += run;
                    }
                }
            }
            // SAFETY: lhs is rows m0..m0+m of wt ([cout, k], row stride k, length asserted),
            // rhs the first k * np floats of the scratch buffer ([k, np], row stride np), dst
            // rows m0..m0+m and columns p0..p0+np of element b's [cout, positions] block of
            // the output (inside it: asserted above), which no other tile touches.
            unsafe {
                gemm::gemm(
                    m,
                    np,
                    k,
                    out.get().add(b * per_item + m0 * positions + p0),
                    1,
                    positions as isize,
                    false,
                    wt.as_ptr().add(m0 * k),
                    1,
                    k as isize,
                    col.as_ptr(),
                    1,
                    np as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        });
        for c in m0..m0 + m {
            let at = b * per_item + c * positions + p0;
            // SAFETY: the same disjoint block the GEMM above wrote, one channel's run of it;
            // no other tile reads or writes it.
            let run = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), np) };
            ep.apply_run(c, run, None, ep.residual.map(|r| &r[at..at + np]));
        }
    });
}

/// For every batch element b: `dst[b][cout, cols] = sum over taps t of wt[:, :, t] @
/// phases[b][offsets[t] ..][cin rows, cols]`, split into (element, row, column) tiles run in
/// parallel, each a single-threaded GEMM.
fn gemm_taps(
    phases: &[Phases],
    offsets: &[usize],
    wt: &[f32],
    cin: usize,
    cout: usize,
    cols: usize,
    dst: &mut [f32],
) {
    let taps = offsets.len();
    let batch = phases.len();
    let tiles = Tiles::new(batch, cout, cols, cout);
    let per_item = cout * cols;
    assert!(dst.len() >= batch * per_item);
    let out = OutPtr(dst.as_mut_ptr());
    (0..tiles.len()).into_par_iter().for_each(|t| {
        let [b, m0, m, c0, nc] = tiles.get(t);
        let ph = &phases[b];
        let src = ph.data.as_ref();
        let plane = ph.plane as isize;
        // SAFETY: element b's block of the output starts per_item * b floats in (asserted).
        let out = OutPtr(unsafe { out.get().add(b * per_item) });
        {
            for (tp, &off) in offsets.iter().enumerate() {
                let s = off + c0;
                // The last channel's rows must stay inside the phase buffer.
                assert!(s + (cin - 1) * ph.plane + nc <= src.len());
                // SAFETY: lhs is the [m, cin] matrix of tap tp in wt ([cout][cin][tap]: column
                // stride taps, row stride cin * taps, inside wt as asserted by conv3d), rhs
                // cin rows of nc contiguous floats, `plane` apart, starting at `s` (bounds
                // asserted just above), dst this tile's disjoint block of the output.
                unsafe {
                    gemm::gemm(
                        m,
                        nc,
                        cin,
                        out.get().add(m0 * cols + c0),
                        1,
                        cols as isize,
                        tp > 0,
                        wt.as_ptr().add(m0 * taps * cin + tp),
                        taps as isize,
                        (taps * cin) as isize,
                        src.as_ptr().add(s),
                        1,
                        plane,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn check(xshape: [usize; 5], cout: usize, g: ConvGeom, relu: bool) {
        let [n, cin, d, h, w] = xshape;
        let x = data(xshape.iter().product(), 1);
        let wt = data(cout * cin * g.kernel.iter().product::<usize>(), 2);
        let scale = data(cout, 3);
        let shift = data(cout, 4);
        let [od, oh, ow] = g.output([d, h, w]).unwrap();
        // Odd-sized inputs also get a residual: both epilogue loops see one.
        let residual = data(n * cout * od * oh * ow, 5);
        let ep = Epilogue {
            scale: Some(&scale),
            shift: Some(&shift),
            residual: (h % 2 == 1).then_some(&residual[..]),
            relu,
        };
        let w = wt;
        let (want, ws) = conv3d_reference(&x, xshape, &w, cout, &g, &ep);
        // Both few-channel paths where this CPU has the direct one.
        let paths = [false, true].into_iter();
        for direct in paths.filter(|&d| !d || crate::kernels::direct::available()) {
            let (got, gs) = conv3d_paths(&x, xshape, &w, cout, &g, &ep, direct);
            assert_eq!(ws, gs, "{xshape:?} {g:?}");
            let max = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let err = want.iter().zip(&got).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 1e-5 * max.max(1.0),
                "{xshape:?} {g:?} (direct {direct}): max err {err} (max {max})"
            );
        }
    }

    fn geom(kernel: [usize; 3], stride: [usize; 3], pad: [usize; 3]) -> ConvGeom {
        ConvGeom {
            kernel,
            stride,
            pad_begin: pad,
            pad_end: pad,
        }
    }

    #[test]
    fn pointwise_and_strided_pointwise() {
        check([2, 40, 3, 5, 7], 24, geom([1, 1, 1], [1, 1, 1], [0; 3]), false);
        check([1, 40, 4, 9, 9], 16, geom([1, 1, 1], [1, 2, 2], [0; 3]), true);
        check([1, 33, 4, 8, 8], 8, geom([1, 1, 1], [2, 2, 2], [0; 3]), false);
    }

    #[test]
    fn spatial_temporal_and_full_kernels() {
        // ResNet 3x3 (as 1x3x3), I3D's inflated 3x1x1, R(2+1)D's 3x1x1 with temporal stride,
        // a full 3x3x3.
        check([1, 48, 3, 11, 9], 20, geom([1, 3, 3], [1, 1, 1], [0, 1, 1]), true);
        check([1, 48, 3, 11, 9], 20, geom([1, 3, 3], [1, 2, 2], [0, 1, 1]), true);
        check([1, 36, 6, 5, 5], 12, geom([3, 1, 1], [1, 1, 1], [1, 0, 0]), false);
        check([1, 36, 7, 5, 5], 12, geom([3, 1, 1], [2, 1, 1], [1, 0, 0]), false);
        check([2, 32, 5, 6, 7], 9, geom([3, 3, 3], [1, 1, 1], [1, 1, 1]), true);
        check([1, 32, 6, 9, 8], 9, geom([3, 3, 3], [2, 2, 2], [1, 1, 1]), true);
    }

    #[test]
    fn stems_with_few_channels_gather_the_taps() {
        // I3D's 5x7x7 stride 2 stem, ResNet's 7x7 stride 2 stem, C3D's 3x3x3.
        check([1, 3, 8, 20, 18], 16, geom([5, 7, 7], [2, 2, 2], [2, 3, 3]), true);
        check([2, 3, 1, 23, 23], 16, geom([1, 7, 7], [1, 2, 2], [0, 3, 3]), true);
        check([1, 3, 6, 10, 10], 8, geom([3, 3, 3], [1, 1, 1], [1, 1, 1]), true);
        // Channel counts off the micro-tile (R(2+1)D's 45), rows longer than a vector run, a
        // grid of more than one task, a residual (odd height).
        check(
            [1, 3, 4, 21, 40],
            45,
            geom([1, 7, 7], [1, 2, 2], [0, 3, 3]),
            false,
        );
        check([2, 5, 3, 9, 70], 7, geom([3, 3, 3], [1, 1, 2], [1, 1, 1]), true);
        check([1, 3, 12, 64, 64], 6, geom([5, 7, 7], [2, 2, 2], [2, 3, 3]), true);
    }

    #[test]
    fn asymmetric_padding_and_no_padding() {
        let g = ConvGeom {
            kernel: [1, 3, 3],
            stride: [1, 2, 2],
            pad_begin: [0, 0, 0],
            pad_end: [0, 1, 1],
        };
        check([1, 40, 2, 8, 8], 8, g, false);
        check([1, 40, 2, 8, 8], 8, geom([2, 3, 3], [1, 1, 1], [0; 3]), false);
        check([1, 5, 2, 8, 8], 8, geom([2, 3, 3], [1, 3, 3], [0; 3]), false);
    }

    #[test]
    fn large_channel_counts_split_rows() {
        // Few columns, many output channels: the row split keeps both threads busy.
        check([1, 64, 2, 3, 3], 130, geom([1, 3, 3], [1, 1, 1], [0, 1, 1]), true);
    }
}
