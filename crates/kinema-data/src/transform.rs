//! Spatial transforms: GluonCV's crop choices (multi-scale, centre, three, ten crops, flips) and
//! one fused pass per frame that crops, resizes (bilinear), flips, normalizes and writes the f32
//! planes straight into the clip tensor. No per-pixel allocation.

use crate::error::{DataError, Result};
use crate::rng::Rng;

/// One crop of a frame: the region read, and whether it is mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CropBox {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width of the region read.
    pub w: u32,
    /// Height of the region read.
    pub h: u32,
    /// Mirrored left-right after cropping.
    pub flip: bool,
}

/// Per-channel mean and standard deviation on the `[0, 1]` scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Channel means (RGB).
    pub mean: [f32; 3],
    /// Channel standard deviations (RGB).
    pub std: [f32; 3],
}

impl Normalize {
    /// ImageNet statistics, GluonCV's default for every video model.
    pub const IMAGENET: Normalize = Normalize {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
}

/// How views are cropped from a frame of the clip.
#[derive(Debug, Clone, PartialEq)]
pub enum Crop {
    /// GluonCV's `VideoMultiScaleCrop` + random flip (`VideoGroupTrainTransform`): a crop size
    /// from `scale_ratios` x the short side (aspect distortion up to `max_distort` steps), at one
    /// of the fixed offsets (`fix_crop`, 13 with `more_fix_crop`) or anywhere, then resized.
    MultiScale {
        /// Crop size factors of the short side, e.g. `[1.0, 0.875, 0.75, 0.66]`.
        scale_ratios: Vec<f64>,
        /// Largest index distance between the height and width factors.
        max_distort: usize,
        /// Offsets from the fixed grid instead of anywhere.
        fix_crop: bool,
        /// 13 grid offsets instead of 5.
        more_fix_crop: bool,
        /// Probability of a horizontal flip.
        flip_prob: f64,
    },
    /// One centred crop (`VideoCenterCrop`).
    Center,
    /// Three crops along the longer side (`VideoThreeCrop`).
    Three,
    /// Centre + four corners, and their mirror images (`VideoTenCrop`).
    Ten,
}

impl Crop {
    /// GluonCV's training crop: scale ratios `[1, .875, .75, .66]`, 13 fixed offsets, flip 0.5.
    pub fn gluoncv_train() -> Crop {
        Crop::MultiScale {
            scale_ratios: vec![1.0, 0.875, 0.75, 0.66],
            max_distort: 1,
            fix_crop: true,
            more_fix_crop: true,
            flip_prob: 0.5,
        }
    }

    /// Number of crops per frame.
    pub fn count(&self) -> usize {
        match self {
            Crop::MultiScale { .. } | Crop::Center => 1,
            Crop::Three => 3,
            Crop::Ten => 10,
        }
    }

    /// The crop boxes for a `w` x `h` frame and a `tw` x `th` target, in view order.
    pub fn boxes(&self, w: u32, h: u32, tw: u32, th: u32, rng: &mut Rng) -> Result<Vec<CropBox>> {
        let too_small = || {
            Err(DataError::InvalidOption(format!(
                "frame {w}x{h} is smaller than the {tw}x{th} crop (raise new_width/new_height)"
            )))
        };
        let at = |x: u32, y: u32, flip: bool| CropBox {
            x,
            y,
            w: tw,
            h: th,
            flip,
        };
        match self {
            Crop::MultiScale {
                scale_ratios,
                max_distort,
                fix_crop,
                more_fix_crop,
                flip_prob,
            } => {
                let base = w.min(h) as f64;
                let mut sizes = Vec::new();
                for (i, rh) in scale_ratios.iter().enumerate() {
                    for (j, rw) in scale_ratios.iter().enumerate() {
                        if i.abs_diff(j) <= *max_distort {
                            sizes.push(((base * rh) as u32, (base * rw) as u32));
                        }
                    }
                }
                if sizes.is_empty()
                    || sizes
                        .iter()
                        .any(|&(ch, cw)| ch == 0 || cw == 0 || ch > h || cw > w)
                {
                    return Err(DataError::InvalidOption(format!(
                        "scale ratios {scale_ratios:?} give an empty or oversized crop of a {w}x{h} frame"
                    )));
                }
                let (ch, cw) = sizes[rng.below(sizes.len() as u64) as usize];
                let flip = rng.uniform() < *flip_prob;
                let (y, x) = if *fix_crop {
                    let (hs, ws) = ((h - ch) / 4, (w - cw) / 4);
                    let mut grid = vec![
                        (0, 0),
                        (0, 4 * ws),
                        (4 * hs, 0),
                        (4 * hs, 4 * ws),
                        (2 * hs, 2 * ws),
                    ];
                    if *more_fix_crop {
                        grid.extend([
                            (0, 2 * ws),
                            (4 * hs, 2 * ws),
                            (2 * hs, 0),
                            (2 * hs, 4 * ws),
                            (hs, ws),
                            (hs, 3 * ws),
                            (3 * hs, ws),
                            (3 * hs, 3 * ws),
                        ]);
                    }
                    grid[rng.below(grid.len() as u64) as usize]
                } else {
                    (
                        rng.below((h - ch + 1) as u64) as u32,
                        rng.below((w - cw + 1) as u64) as u32,
                    )
                };
                Ok(vec![CropBox {
                    x,
                    y,
                    w: cw,
                    h: ch,
                    flip,
                }])
            }
            _ if tw > w || th > h => too_small(),
            Crop::Center => {
                // Python's round(): halves go to the even neighbour.
                let c = |slack: u32| (slack as f64 / 2.0).round_ties_even() as u32;
                Ok(vec![at(c(w - tw), c(h - th), false)])
            }
            Crop::Three => {
                // GluonCV needs one side to equal the crop; otherwise slide along the side with
                // more slack and centre the other.
                let (sw, sh) = (w - tw, h - th);
                Ok(if th == h || (tw != w && sw >= sh) {
                    let s = sw / 2;
                    let y = sh / 2;
                    vec![at(0, y, false), at(2 * s, y, false), at(s, y, false)]
                } else {
                    let s = sh / 2;
                    let x = sw / 2;
                    vec![at(x, 0, false), at(x, 2 * s, false), at(x, s, false)]
                })
            }
            Crop::Ten => {
                let five = [
                    ((w - tw) / 2, (h - th) / 2),
                    (0, 0),
                    (0, h - th),
                    (w - tw, 0),
                    (w - tw, h - th),
                ];
                Ok([false, true]
                    .iter()
                    .flat_map(|&f| five.iter().map(move |&(x, y)| at(x, y, f)))
                    .collect())
            }
        }
    }
}

/// Fixed-point bits of the bilinear weights (OpenCV's `INTER_RESIZE_COEF_BITS`).
const COEF_BITS: u32 = 11;
const ONE: u32 = 1 << COEF_BITS;

/// Source positions and weights of a bilinear resize along one axis (OpenCV's `INTER_LINEAR`
/// convention: pixel centres aligned, clamped at the edges): `(i0, i1, weight of i1)`, the weight
/// in `COEF_BITS` fixed point.
fn linear_taps(src: u32, dst: u32) -> Vec<(usize, usize, u32)> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|d| {
            // f32 position and weights rounded from 1 - frac, as OpenCV computes them
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut i = f.floor();
            let mut frac = f - i;
            if i < 0.0 {
                i = 0.0;
                frac = 0.0;
            }
            let mut i = i as usize;
            if i >= src as usize - 1 {
                i = src as usize - 1;
                frac = 0.0;
            }
            let w = ONE - ((1.0 - frac) * ONE as f32).round() as u32;
            (i, (i + 1).min(src as usize - 1), w)
        })
        .collect()
}

/// Per-channel lookup table u8 -> normalized f32.
fn lut(norm: &Normalize) -> [[f32; 256]; 3] {
    std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - norm.mean[c]) / norm.std[c]))
}

/// Writes one `[h, w, 3]` u8 frame's crop, resized to `tw` x `th`, as three normalized f32
/// planes at `out[c * plane_stride ..]` (c = R, G, B). Resized values are rounded to u8 first,
/// as GluonCV's `cv2.resize` does (bilinear in 11-bit fixed point like OpenCV's), then
/// normalized.
#[allow(clippy::too_many_arguments)]
pub fn render(
    frame: &[u8],
    w: u32,
    h: u32,
    b: &CropBox,
    tw: u32,
    th: u32,
    norm: &Normalize,
    out: &mut [f32],
    plane_stride: usize,
) {
    debug_assert_eq!(frame.len(), (w * h * 3) as usize);
    let (tw_, th_) = (tw as usize, th as usize);
    let lut = lut(norm);
    let row = w as usize * 3;
    let (r_out, rest) = out.split_at_mut(plane_stride);
    let (g_out, b_out) = rest.split_at_mut(plane_stride);
    if b.w == tw && b.h == th {
        for y in 0..th_ {
            let src = &frame[(b.y as usize + y) * row + b.x as usize * 3..][..tw_ * 3];
            let line = y * tw_;
            let (rr, gr, br) = (
                &mut r_out[line..line + tw_],
                &mut g_out[line..line + tw_],
                &mut b_out[line..line + tw_],
            );
            for (x, px) in src.chunks_exact(3).enumerate() {
                let ox = if b.flip { tw_ - 1 - x } else { x };
                rr[ox] = lut[0][px[0] as usize];
                gr[ox] = lut[1][px[1] as usize];
                br[ox] = lut[2][px[2] as usize];
            }
        }
        return;
    }
    let xs = linear_taps(b.w, tw);
    let ys = linear_taps(b.h, th);
    // Horizontal pass per source row (each row once, kept while output rows need it), then the
    // vertical blend; all in integers.
    let mut rows: [(usize, Vec<u32>); 2] = [(usize::MAX, vec![0; tw_ * 3]), (usize::MAX, vec![0; tw_ * 3])];
    let hpass = |sy: usize, dst: &mut Vec<u32>| {
        let r = &frame[(b.y as usize + sy) * row + b.x as usize * 3..];
        for (x, &(i0, i1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let (p0, p1) = (r[i0 * 3 + c] as u32, r[i1 * 3 + c] as u32);
                dst[x * 3 + c] = p0 * (ONE - fx) + p1 * fx;
            }
        }
    };
    for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
        if rows[0].0 != y0 {
            if rows[1].0 == y0 {
                rows.swap(0, 1);
            } else {
                hpass(y0, &mut rows[0].1);
                rows[0].0 = y0;
            }
        }
        if rows[1].0 != y1 {
            let (first, second) = rows.split_at_mut(1);
            if first[0].0 == y1 {
                second[0].1.copy_from_slice(&first[0].1);
            } else {
                hpass(y1, &mut second[0].1);
            }
            second[0].0 = y1;
        }
        let (top, bot) = (&rows[0].1[..tw_ * 3], &rows[1].1[..tw_ * 3]);
        let (wt, wb) = (ONE - fy, fy);
        let line = y * tw_;
        let (rr, gr, br) = (
            &mut r_out[line..line + tw_],
            &mut g_out[line..line + tw_],
            &mut b_out[line..line + tw_],
        );
        for (x, (t, bt)) in top.chunks_exact(3).zip(bot.chunks_exact(3)).enumerate() {
            // OpenCV's vectorised vertical step: rows pre-shifted by 4, products by 16, then
            // rounded by 2 bits (the same 22-bit fixed point, its rounding).
            let v = |c: usize| ((((wt * (t[c] >> 4)) >> 16) + ((wb * (bt[c] >> 4)) >> 16) + 2) >> 2) as usize;
            let ox = if b.flip { tw_ - 1 - x } else { x };
            rr[ox] = lut[0][v(0)];
            gr[ox] = lut[1][v(1)];
            br[ox] = lut[2][v(2)];
        }
    }
}

/// Replaces RGB with its BT.601 luma in all three channels (`is_color=false`).
pub fn to_gray(frames: &mut [u8]) {
    for px in frames.chunks_exact_mut(3) {
        let y = (299 * px[0] as u32 + 587 * px[1] as u32 + 114 * px[2] as u32 + 500) / 1000;
        px.fill(y as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Normalize = Normalize {
        mean: [0.0; 3],
        std: [1.0 / 255.0; 3],
    };

    fn round(v: &[f32]) -> Vec<f32> {
        v.iter().map(|x| x.round()).collect()
    }

    fn frame(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, (x + y) as u8]))
            .collect()
    }

    #[test]
    fn center_three_ten_boxes_follow_gluoncv() {
        let mut r = Rng::new(0);
        // (171-112)/2 = 29.5 -> 30 and (169-112)/2 = 28.5 -> 28: Python rounds halves to even
        assert_eq!(
            Crop::Center.boxes(171, 169, 112, 112, &mut r).unwrap()[0],
            CropBox {
                x: 30,
                y: 28,
                w: 112,
                h: 112,
                flip: false
            }
        );
        let three = Crop::Three.boxes(340, 256, 256, 256, &mut r).unwrap();
        assert_eq!(
            three.iter().map(|b| (b.x, b.y)).collect::<Vec<_>>(),
            vec![(0, 0), (84, 0), (42, 0)]
        );
        let three = Crop::Three.boxes(224, 300, 224, 224, &mut r).unwrap();
        assert_eq!(
            three.iter().map(|b| (b.x, b.y)).collect::<Vec<_>>(),
            vec![(0, 0), (0, 76), (0, 38)]
        );
        let ten = Crop::Ten.boxes(340, 256, 224, 224, &mut r).unwrap();
        assert_eq!(ten.len(), 10);
        assert_eq!((ten[0].x, ten[0].y, ten[4].x, ten[4].y), (58, 16, 116, 32));
        assert!(ten[5..].iter().all(|b| b.flip) && ten[..5].iter().all(|b| !b.flip));
        assert!(Crop::Center.boxes(100, 100, 112, 112, &mut r).is_err());
    }

    #[test]
    fn multiscale_picks_gluoncv_sizes_and_grid_offsets() {
        let crop = Crop::gluoncv_train();
        let mut seen_flip = [false; 2];
        for seed in 0..200 {
            let b = crop.boxes(340, 256, 224, 224, &mut Rng::new(seed)).unwrap()[0];
            // sizes int(256 * r) for r in [1, .875, .75, .66] with |i-j| <= 1
            let sizes = [256, 224, 192, 168];
            let (i, j) = (
                sizes.iter().position(|&s| s == b.h).unwrap(),
                sizes.iter().position(|&s| s == b.w).unwrap(),
            );
            assert!(i.abs_diff(j) <= 1);
            let (hs, ws) = ((256 - b.h) / 4, (340 - b.w) / 4);
            assert!(
                b.y.is_multiple_of(hs.max(1))
                    && b.x.is_multiple_of(ws.max(1))
                    && b.y <= 4 * hs
                    && b.x <= 4 * ws
            );
            seen_flip[b.flip as usize] = true;
        }
        assert_eq!(seen_flip, [true, true]);
    }

    #[test]
    fn render_crops_flips_and_normalizes() {
        let f = frame(8, 6);
        let mut out = vec![0f32; 3 * 4 * 2];
        let b = CropBox {
            x: 2,
            y: 1,
            w: 4,
            h: 2,
            flip: false,
        };
        render(&f, 8, 6, &b, 4, 2, &ID, &mut out, 8);
        assert_eq!(round(&out[..4]), [2.0, 3.0, 4.0, 5.0]); // R = x
        assert_eq!(round(&out[8..12]), [1.0, 1.0, 1.0, 1.0]); // G = y
        render(&f, 8, 6, &CropBox { flip: true, ..b }, 4, 2, &ID, &mut out, 8);
        assert_eq!(round(&out[..4]), [5.0, 4.0, 3.0, 2.0]);
        let mut n = vec![0f32; 3];
        render(
            &[255, 0, 128],
            1,
            1,
            &CropBox {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
                flip: false,
            },
            1,
            1,
            &Normalize::IMAGENET,
            &mut n,
            1,
        );
        assert!((n[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((n[1] + 0.456 / 0.224).abs() < 1e-5);
    }

    #[test]
    fn bilinear_resize_matches_a_plain_reference() {
        // 2x downscale of a horizontal ramp: centres fall between pixel pairs
        let f = frame(8, 4);
        let mut out = vec![0f32; 3 * 4 * 2];
        render(
            &f,
            8,
            4,
            &CropBox {
                x: 0,
                y: 0,
                w: 8,
                h: 4,
                flip: false,
            },
            4,
            2,
            &ID,
            &mut out,
            8,
        );
        // x: (d+.5)*2-.5 = 0.5, 2.5, 4.5, 6.5 -> 0.5 -> rounds to 1, 3, 5, 7
        assert_eq!(round(&out[..4]), [1.0, 3.0, 5.0, 7.0]);
        // upscale holds the edges
        let mut up = vec![0f32; 3 * 16];
        render(
            &f,
            8,
            4,
            &CropBox {
                x: 0,
                y: 0,
                w: 2,
                h: 1,
                flip: false,
            },
            4,
            4,
            &ID,
            &mut up,
            16,
        );
        assert_eq!(round(&up[..4]), [0.0, 0.0, 1.0, 1.0]);
    }
}
