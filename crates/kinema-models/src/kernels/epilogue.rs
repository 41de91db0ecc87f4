//! What the convolution kernels share: the epilogue applied to every accumulated value, and
//! the output pointer their parallel tiles write through.

/// What happens to each accumulated value: `act(acc * scale[c] + shift[c] + residual)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// Per output channel factor (folded BatchNorm), 1 when `None`.
    pub scale: Option<&'a [f32]>,
    /// Per output channel offset (bias, folded BatchNorm), 0 when `None`.
    pub shift: Option<&'a [f32]>,
    /// Values added before the activation (a residual connection), laid out as the output.
    pub residual: Option<&'a [f32]>,
    /// Apply ReLU.
    pub relu: bool,
}

impl Epilogue<'_> {
    /// The value for channel `c` (what the plain-loop reference uses).
    #[inline]
    pub(super) fn apply(&self, c: usize, v: f32, r: f32) -> f32 {
        let y = v * self.scale.map_or(1.0, |s| s[c]) + self.shift.map_or(0.0, |b| b[c]) + r;
        if self.relu {
            y.max(0.0)
        } else {
            y
        }
    }

    /// `dst = epilogue(src)` for one run of channel `c` (`src` is `dst` itself when `None`);
    /// `res` is the residual for the same run. One branch-free loop per case, so each one
    /// vectorises.
    #[inline]
    pub(super) fn apply_run(&self, c: usize, dst: &mut [f32], src: Option<&[f32]>, res: Option<&[f32]>) {
        if self.relu {
            self.run(c, dst, src, res, |y| y.max(0.0))
        } else {
            self.run(c, dst, src, res, |y| y)
        }
    }

    #[inline(always)]
    fn run(
        &self,
        c: usize,
        dst: &mut [f32],
        src: Option<&[f32]>,
        res: Option<&[f32]>,
        act: impl Fn(f32) -> f32,
    ) {
        let s = self.scale.map_or(1.0, |s| s[c]);
        let b = self.shift.map_or(0.0, |b| b[c]);
        match (src, res) {
            (None, None) => dst.iter_mut().for_each(|v| *v = act(*v * s + b)),
            (None, Some(r)) => dst.iter_mut().zip(r).for_each(|(v, &r)| *v = act(*v * s + b + r)),
            (Some(x), None) => dst.iter_mut().zip(x).for_each(|(v, &x)| *v = act(x * s + b)),
            (Some(x), Some(r)) => dst
                .iter_mut()
                .zip(x)
                .zip(r)
                .for_each(|((v, &x), &r)| *v = act(x * s + b + r)),
        }
    }
}

/// A raw pointer parallel tiles write through; each tile owns a disjoint part of the output
/// (GEMM tiles here, position ranges in `direct.rs`).
#[derive(Clone, Copy)]
pub(super) struct OutPtr(pub(super) *mut f32);

impl OutPtr {
    /// The pointer (a method, so closures capture the `Send` wrapper, not the raw field).
    #[inline]
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}
// SAFETY: tiles write disjoint parts of one buffer that outlives the parallel loop.
unsafe impl Send for OutPtr {}
// SAFETY: as above; the pointer itself is only copied.
unsafe impl Sync for OutPtr {}
