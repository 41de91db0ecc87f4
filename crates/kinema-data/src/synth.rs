//! The synthetic action dataset: real H.264 videos of a textured shape on a noisy textured
//! background whose class is a direction in time (left vs right, clockwise vs anticlockwise,
//! zoom in vs out, appear vs vanish...). Every class has its time-reversed twin, so a model that
//! ignores frame order cannot tell them apart. Deterministic from the seed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use kinema_av::{VideoWriter, WriterFormat, WriterOptions};

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::rng::Rng;
use crate::setting::{write_setting, Sample};

/// The classes, in label order; each is the time reversal of its neighbour.
pub const CLASS_NAMES: [&str; 12] = [
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "zoom_in",
    "zoom_out",
    "appear",
    "vanish",
    "slide_down_right",
    "slide_up_left",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Output folder (created).
    pub out: PathBuf,
    /// Number of classes, 1..=12 (the first N of [`CLASS_NAMES`]).
    pub classes: usize,
    /// Training videos per class.
    pub videos_per_class: usize,
    /// Validation videos per class.
    pub val_per_class: usize,
    /// Seed: the same seed gives the same videos.
    pub seed: u64,
    /// Smallest frame side (even).
    pub min_size: u32,
    /// Largest frame side (even).
    pub max_size: u32,
    /// Shortest clip, frames.
    pub min_frames: usize,
    /// Longest clip, frames.
    pub max_frames: usize,
    /// Frame rate.
    pub fps: u32,
    /// Parallel encoders (0 = one per core).
    pub threads: usize,
    /// Codec and container: H.264 in MP4 (default), or XviD (MPEG-4 part 2) in AVI, the
    /// format UCF101 and HMDB51 come in.
    pub format: WriterFormat,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            out: PathBuf::from("synthetic"),
            classes: 10,
            videos_per_class: 60,
            val_per_class: 20,
            seed: 0,
            min_size: 112,
            max_size: 160,
            min_frames: 40,
            max_frames: 72,
            fps: 25,
            threads: 0,
            format: WriterFormat::H264Mp4,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthSummary {
    /// The output folder.
    pub out: PathBuf,
    /// Training videos written.
    pub train: usize,
    /// Validation videos written.
    pub val: usize,
    /// Class names (label order).
    pub classes: Vec<String>,
    /// Frames encoded in all.
    pub frames: usize,
}

struct Job {
    split: &'static str,
    label: usize,
    k: usize,
    path: PathBuf,
}

/// Generates the dataset: `out/{train,val}/<class>/<k>.mp4` (`.avi` for XviD), `train.txt`, `val.txt` (paths
/// relative to `out`) and `classes.txt`. `progress` is called after each video.
pub fn synth(o: &SynthOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<SynthSummary> {
    if o.classes == 0 || o.classes > CLASS_NAMES.len() {
        return Err(DataError::InvalidOption(format!(
            "classes {}: between 1 and {} are available",
            o.classes,
            CLASS_NAMES.len()
        )));
    }
    if o.min_size < 32 || o.min_size > o.max_size || o.max_size > 4096 {
        return Err(DataError::InvalidOption(format!(
            "frame sides {}..{}: need 32 <= min <= max <= 4096",
            o.min_size, o.max_size
        )));
    }
    if o.min_frames < 2 || o.min_frames > o.max_frames || o.fps == 0 {
        return Err(DataError::InvalidOption(format!(
            "frames {}..{} at {} fps: need 2 <= min <= max and fps > 0",
            o.min_frames, o.max_frames, o.fps
        )));
    }
    let mut jobs = Vec::new();
    for (split, per) in [("train", o.videos_per_class), ("val", o.val_per_class)] {
        for (label, name) in CLASS_NAMES[..o.classes].iter().enumerate() {
            let dir = o.out.join(split).join(name);
            std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
            for k in 0..per {
                jobs.push(Job {
                    split,
                    label,
                    k,
                    path: dir.join(format!("{:05}.{}", k + 1, o.format.extension())),
                });
            }
        }
    }
    let threads = match o.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let frames: Mutex<Vec<usize>> = Mutex::new(vec![0; jobs.len()]);
    let first_error: Mutex<Option<DataError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.min(jobs.len().max(1)) {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= jobs.len() || first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                let job = &jobs[j];
                let split_id = if job.split == "train" { 0 } else { 1 };
                let mut rng = Rng::for_sample(o.seed, split_id, (job.label * 1_000_003 + job.k) as u64);
                match write_video(&job.path, job.label, o, &mut rng) {
                    Ok(n) => {
                        if let Ok(mut f) = frames.lock() {
                            f[j] = n;
                        }
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
                    }
                    Err(e) => {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let frames = frames.into_inner().unwrap_or_default();
    let mut summary = SynthSummary {
        out: o.out.clone(),
        train: 0,
        val: 0,
        classes: CLASS_NAMES[..o.classes].iter().map(|s| s.to_string()).collect(),
        frames: frames.iter().sum(),
    };
    for split in ["train", "val"] {
        let samples: Vec<Sample> = jobs
            .iter()
            .zip(&frames)
            .filter(|(j, _)| j.split == split)
            .map(|(j, &n)| Sample {
                path: j.path.clone(),
                num_frames: n,
                label: j.label,
                listed_in: PathBuf::new(),
                line: 0,
            })
            .collect();
        if split == "train" {
            summary.train = samples.len();
        } else {
            summary.val = samples.len();
        }
        write_setting(&samples, &o.out, &o.out.join(format!("{split}.txt")))?;
    }
    let mut names = summary.classes.join("\n");
    names.push('\n');
    write_atomic(&o.out.join("classes.txt"), names.as_bytes())?;
    Ok(summary)
}

/// The moving object of one video.
struct Scene {
    w: u32,
    h: u32,
    background: Vec<u8>,
    shape: u32,
    colors: [[f32; 3]; 2],
    stripes: f32,
    noise_seed: u64,
}

/// Object state at one moment: centre, half-size, angle, opacity.
#[derive(Clone, Copy)]
struct Pose {
    x: f32,
    y: f32,
    r: f32,
    angle: f32,
    alpha: f32,
}

fn write_video(path: &Path, label: usize, o: &SynthOptions, rng: &mut Rng) -> Result<usize> {
    let even = |v: u64| (v as u32) & !1;
    let side = |rng: &mut Rng| even(o.min_size as u64 + rng.below((o.max_size - o.min_size + 1) as u64));
    let (w, h) = (side(rng), side(rng));
    let n = o.min_frames + rng.below((o.max_frames - o.min_frames + 1) as u64) as usize;
    let scene = Scene::new(w, h, rng);
    // The action happens between t0 and t1 (fractions of the clip), still before and after.
    let t0 = rng.range_f64(0.0, 0.1) as f32;
    let t1 = rng.range_f64(0.9, 1.0) as f32;
    let (a, b) = poses(label, w as f32, h as f32, rng);
    let options = WriterOptions {
        fps: o.fps,
        format: o.format,
        ..Default::default()
    };
    let mut writer = VideoWriter::create(path, w, h, &options).map_err(|error| DataError::Video {
        path: path.to_path_buf(),
        error,
    })?;
    let mut frame = vec![0u8; (w * h * 3) as usize];
    for i in 0..n {
        let t = i as f32 / (n - 1) as f32;
        let s = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
        let s = s * s * (3.0 - 2.0 * s); // eased, so speed varies within the clip too
        let lerp = |p: f32, q: f32| p + (q - p) * s;
        let pose = Pose {
            x: lerp(a.x, b.x),
            y: lerp(a.y, b.y),
            r: lerp(a.r, b.r),
            angle: lerp(a.angle, b.angle),
            alpha: lerp(a.alpha, b.alpha),
        };
        scene.draw(i as u64, pose, &mut frame);
        writer.write_rgb(&frame).map_err(|error| DataError::Video {
            path: path.to_path_buf(),
            error,
        })?;
    }
    writer.finish().map_err(|error| DataError::Video {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(n)
}

/// Start and end pose of class `label`; the twin class swaps them.
fn poses(label: usize, w: f32, h: f32, rng: &mut Rng) -> (Pose, Pose) {
    let m = w.min(h);
    let r = m * rng.range_f64(0.12, 0.22) as f32;
    let spin = rng.range_f64(-0.3, 0.3) as f32;
    let centre = |rng: &mut Rng, margin: f32| Pose {
        x: rng.range_f64((margin) as f64, (w - margin) as f64) as f32,
        y: rng.range_f64((margin) as f64, (h - margin) as f64) as f32,
        r,
        angle: rng.range_f64(0.0, std::f64::consts::TAU) as f32,
        alpha: 1.0,
    };
    let kind = label / 2;
    let mut a = centre(rng, r * 1.2);
    let mut b = a;
    // A small drift in a random direction for the classes that do not move, so that position
    // alone says nothing.
    let drift = m * 0.05;
    let (dx, dy) = (
        rng.range_f64(-1.0, 1.0) as f32 * drift,
        rng.range_f64(-1.0, 1.0) as f32 * drift,
    );
    let travel = |lo: f32, hi: f32, rng: &mut Rng| rng.range_f64(lo as f64, hi as f64) as f32;
    match kind {
        0 | 1 | 5 => {
            // along x (0), y (1) or the diagonal (5), the even label's way; travel 50-90% of
            // the room there is
            let (ux, uy) = match kind {
                0 => (-1.0, 0.0),
                1 => (0.0, -1.0),
                _ => (std::f32::consts::FRAC_1_SQRT_2, std::f32::consts::FRAC_1_SQRT_2),
            };
            let (room_x, room_y) = (w - 2.4 * r, h - 2.4 * r);
            let room = match kind {
                0 => room_x,
                1 => room_y,
                _ => room_x.min(room_y) * std::f32::consts::SQRT_2,
            };
            let d = travel(0.5, 0.9, rng) * room;
            let (hx, hy) = (ux * d / 2.0, uy * d / 2.0);
            let cx = travel(1.2 * r + hx.abs(), w - 1.2 * r - hx.abs(), rng);
            let cy = travel(1.2 * r + hy.abs(), h - 1.2 * r - hy.abs(), rng);
            (a.x, a.y, b.x, b.y) = (cx - hx, cy - hy, cx + hx, cy + hy);
            b.angle = a.angle + spin;
            if label % 2 == 1 {
                std::mem::swap(&mut a, &mut b);
            }
        }
        2 => {
            // rotation: a quarter to a full turn, clockwise on screen = increasing angle
            let turn = travel(0.5, 2.0, rng) * std::f32::consts::PI;
            b.angle = a.angle + if label.is_multiple_of(2) { turn } else { -turn };
            b.x += dx;
            b.y += dy;
        }
        3 => {
            // zoom: the radius changes by a factor 1.8-3
            let f = travel(1.8, 3.0, rng);
            let small = r * 0.7;
            let big = (small * f).min(m * 0.42);
            (a.r, b.r) = if label.is_multiple_of(2) {
                (small, big)
            } else {
                (big, small)
            };
            a = clamp_inside(a, w, h);
            b = Pose {
                x: a.x + dx,
                y: a.y + dy,
                ..b
            };
            b = clamp_inside(b, w, h);
            b.angle = a.angle + spin;
        }
        _ => {
            // appear / vanish
            (a.alpha, b.alpha) = if label.is_multiple_of(2) {
                (0.0, 1.0)
            } else {
                (1.0, 0.0)
            };
            b.x += dx;
            b.y += dy;
            b.angle = a.angle + spin;
        }
    }
    (a, b)
}

fn clamp_inside(mut p: Pose, w: f32, h: f32) -> Pose {
    p.x = p.x.clamp(p.r * 1.1, (w - p.r * 1.1).max(p.r * 1.1));
    p.y = p.y.clamp(p.r * 1.1, (h - p.r * 1.1).max(p.r * 1.1));
    p
}

impl Scene {
    fn new(w: u32, h: u32, rng: &mut Rng) -> Scene {
        // Background: two random gratings and a coarse noise field, in a random palette.
        let base: [f32; 3] = std::array::from_fn(|_| rng.range_f64(40.0, 200.0) as f32);
        let tint: [f32; 3] = std::array::from_fn(|_| rng.range_f64(-25.0, 25.0) as f32);
        let g: Vec<(f32, f32, f32)> = (0..2)
            .map(|_| {
                let a = rng.range_f64(0.0, std::f64::consts::PI) as f32;
                let f = rng.range_f64(0.03, 0.25) as f32;
                (a.cos() * f, a.sin() * f, rng.range_f64(0.0, 6.3) as f32)
            })
            .collect();
        let cell = 4 + rng.below(8) as u32;
        let (cw, ch) = (w / cell + 2, h / cell + 2);
        let coarse: Vec<f32> = (0..cw * ch).map(|_| rng.range_f64(-15.0, 15.0) as f32).collect();
        let mut background = vec![0u8; (w * h * 3) as usize];
        for y in 0..h {
            for x in 0..w {
                let v = (g[0].0 * x as f32 + g[0].1 * y as f32 + g[0].2).sin() * 0.6
                    + (g[1].0 * x as f32 + g[1].1 * y as f32 + g[1].2).sin() * 0.4;
                let c = coarse[((y / cell) * cw + x / cell) as usize];
                for k in 0..3 {
                    let p = base[k] + tint[k] * v + c + rng.range_f64(-6.0, 6.0) as f32;
                    background[((y * w + x) * 3) as usize + k] = p.clamp(0.0, 255.0) as u8;
                }
            }
        }
        let color = |rng: &mut Rng| -> [f32; 3] { std::array::from_fn(|_| rng.range_f64(0.0, 255.0) as f32) };
        Scene {
            w,
            h,
            background,
            shape: rng.below(4) as u32,
            colors: [color(rng), color(rng)],
            stripes: rng.range_f64(2.0, 5.0) as f32,
            noise_seed: rng.next_u64(),
        }
    }

    /// Inside test in the object's unit frame (u, v in [-1, 1]); none of the shapes looks the
    /// same after a small turn, and the stripes turn with them.
    fn inside(&self, u: f32, v: f32) -> bool {
        match self.shape {
            0 => u * u + v * v <= 1.0,
            1 => u.abs() <= 1.0 && v.abs() <= 0.6,
            2 => (-0.8..=1.0).contains(&v) && u.abs() <= (1.0 - v) * 0.6,
            _ => {
                // a pac-man: a disc with a wedge cut out
                u * u + v * v <= 1.0 && !(u > 0.0 && v.abs() < u * 0.6)
            }
        }
    }

    fn draw(&self, t: u64, p: Pose, out: &mut [u8]) {
        out.copy_from_slice(&self.background);
        // Per-frame sensor noise on a sparse set of pixels, so static frames are not identical.
        let mut noise = Rng::new(self.noise_seed ^ t.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let px = (self.w * self.h) as u64;
        for _ in 0..px / 16 {
            let i = noise.below(px) as usize * 3;
            let d = noise.below(31) as i32 - 15;
            for k in 0..3 {
                out[i + k] = (out[i + k] as i32 + d).clamp(0, 255) as u8;
            }
        }
        if p.alpha <= 0.0 {
            return;
        }
        let reach = p.r * 1.5;
        let (x0, x1) = (
            (p.x - reach).floor().max(0.0) as u32,
            ((p.x + reach).ceil() as u32).min(self.w),
        );
        let (y0, y1) = (
            (p.y - reach).floor().max(0.0) as u32,
            ((p.y + reach).ceil() as u32).min(self.h),
        );
        let (sin, cos) = p.angle.sin_cos();
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f32 + 0.5 - p.x, y as f32 + 0.5 - p.y);
                // rotate into the object's frame (screen y points down: +angle turns clockwise)
                let u = (dx * cos + dy * sin) / p.r;
                let v = (-dx * sin + dy * cos) / p.r;
                if !self.inside(u, v) {
                    continue;
                }
                let band = ((u * self.stripes).floor() as i32).rem_euclid(2) as usize;
                let c = &self.colors[band];
                let i = ((y * self.w + x) * 3) as usize;
                for k in 0..3 {
                    let bg = out[i + k] as f32;
                    out[i + k] = (bg + (c[k] - bg) * p.alpha).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_are_time_reversals() {
        for (label, &name) in CLASS_NAMES.iter().enumerate() {
            let (a, b) = poses(label, 140.0, 120.0, &mut Rng::new(label as u64 / 2 + 7));
            let twin = label ^ 1;
            let (c, d) = poses(twin, 140.0, 120.0, &mut Rng::new(twin as u64 / 2 + 7));
            match name {
                "move_left" => assert!(b.x < a.x - 10.0 && (b.y - a.y).abs() < 1.0),
                "move_right" => assert!(b.x > a.x + 10.0),
                "move_up" => assert!(b.y < a.y - 10.0 && (b.x - a.x).abs() < 1.0),
                "move_down" => assert!(b.y > a.y + 10.0),
                "rotate_clockwise" => assert!(b.angle > a.angle + 1.0),
                "rotate_anticlockwise" => assert!(b.angle < a.angle - 1.0),
                "zoom_in" => assert!(b.r > a.r * 1.5),
                "zoom_out" => assert!(b.r < a.r / 1.5),
                "appear" => assert!(a.alpha == 0.0 && b.alpha == 1.0),
                "vanish" => assert!(a.alpha == 1.0 && b.alpha == 0.0),
                "slide_down_right" => assert!(b.x > a.x + 5.0 && b.y > a.y + 5.0, "{}", name),
                "slide_up_left" => assert!(b.x < a.x - 5.0 && b.y < a.y - 5.0),
                _ => unreachable!(),
            }
            // the same draws give mirrored endpoints for moves
            if label < 4 {
                assert!((a.x - d.x).abs() < 1e-3 && (b.x - c.x).abs() < 1e-3, "{name}");
            }
            for p in [a, b] {
                assert!(
                    p.x - p.r > -1.0 && p.x + p.r < 141.0 && p.y - p.r > -1.0 && p.y + p.r < 121.0,
                    "{name}"
                );
            }
        }
    }
}
