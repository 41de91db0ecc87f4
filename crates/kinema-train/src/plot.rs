//! Line charts as PNG without a font or plotting dependency: panels with axes, grid lines,
//! series in colours and labels drawn with a built-in 3x5 pixel font (scaled up). Used for the
//! training curves and by the CLI for timelines.

use std::path::Path;

use crate::error::{Result, TrainError};
use crate::trainer::EpochInfo;

/// An RGB canvas.
pub struct Canvas {
    /// Width in pixels.
    pub w: usize,
    /// Height in pixels.
    pub h: usize,
    px: Vec<u8>,
}

/// 3x5 glyphs, rows top to bottom, 3 bits each (MSB = left).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_lowercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 3, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'a' => [2, 5, 7, 5, 5],
        'b' => [6, 5, 6, 5, 6],
        'c' => [3, 4, 4, 4, 3],
        'd' => [6, 5, 5, 5, 6],
        'e' => [7, 4, 6, 4, 7],
        'f' => [7, 4, 6, 4, 4],
        'g' => [3, 4, 5, 5, 3],
        'h' => [5, 5, 7, 5, 5],
        'i' => [7, 2, 2, 2, 7],
        'j' => [1, 1, 1, 5, 2],
        'k' => [5, 5, 6, 5, 5],
        'l' => [4, 4, 4, 4, 7],
        'm' => [5, 7, 7, 5, 5],
        'n' => [6, 5, 5, 5, 5],
        'o' => [2, 5, 5, 5, 2],
        'p' => [6, 5, 6, 4, 4],
        'q' => [2, 5, 5, 6, 3],
        'r' => [6, 5, 6, 5, 5],
        's' => [3, 4, 2, 1, 6],
        't' => [7, 2, 2, 2, 2],
        'u' => [5, 5, 5, 5, 7],
        'v' => [5, 5, 5, 5, 2],
        'w' => [5, 5, 7, 7, 5],
        'x' => [5, 5, 2, 5, 5],
        'y' => [5, 5, 2, 2, 2],
        'z' => [7, 1, 2, 4, 7],
        '.' => [0, 0, 0, 0, 2],
        ',' => [0, 0, 0, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        '/' => [1, 1, 2, 4, 4],
        '_' => [0, 0, 0, 0, 7],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        '%' => [5, 1, 2, 4, 5],
        '=' => [0, 7, 0, 7, 0],
        _ => [0; 5],
    }
}

/// Distinct series colours.
pub const COLORS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
];

impl Canvas {
    /// A white canvas.
    pub fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    /// Sets one pixel (outside: ignored).
    pub fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Filled rectangle.
    pub fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }

    /// A line `width` pixels thick (Bresenham with a square pen).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3], width: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let r = width / 2;
        loop {
            self.rect(x - r, y - r, x - r + width - 1, y - r + width - 1, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text at `(x, y)` (top left), `scale` pixels per font dot.
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            let ox = x + i as i64 * 4 * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) != 0 {
                        let (px, py) = (ox + col * scale, y + row as i64 * scale);
                        self.rect(px, py, px + scale - 1, py + scale - 1, c);
                    }
                }
            }
        }
    }

    /// Width of `s` in pixels at `scale`.
    pub fn text_width(s: &str, scale: i64) -> i64 {
        s.chars().count() as i64 * 4 * scale
    }

    /// Writes the canvas as a PNG, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, self.w as u32, self.h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc
                .write_header()
                .map_err(|e| TrainError::Invalid(format!("png {}: {e}", path.display())))?;
            wr.write_image_data(&self.px)
                .map_err(|e| TrainError::Invalid(format!("png {}: {e}", path.display())))?;
        }
        kinema_data::write_atomic(path, &bytes).map_err(TrainError::from)
    }
}

/// One series of a panel.
pub struct Series<'a> {
    /// Legend name.
    pub name: &'a str,
    /// (x, y) points; NaN y values are gaps.
    pub points: Vec<(f64, f64)>,
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.0e}")
    }
}

/// Draws a panel at `(x, y, w, h)`: frame, 5 grid lines with y ticks, x ticks, title, legend.
pub fn panel(
    cv: &mut Canvas,
    (x, y, w, h): (i64, i64, i64, i64),
    title: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
) {
    let grey = [200, 200, 200];
    let black = [30, 30, 30];
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(px, py) in pts {
        x0 = x0.min(px);
        x1 = x1.max(px);
        y0 = y0.min(py);
        y1 = y1.max(py);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if let Some((a, b)) = y_range {
        (y0, y1) = (a, b);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let (left, top) = (x + 50, y + 24);
    let (pw, ph) = (w - 76, h - 44);
    cv.text(left, y + 6, title, 2, black);
    for i in 0..=4 {
        let v = y0 + (y1 - y0) * i as f64 / 4.0;
        let py = top + ph - (ph as f64 * i as f64 / 4.0) as i64;
        cv.line((left, py), (left + pw, py), grey, 1);
        let t = fmt_tick(v);
        cv.text(left - 6 - Canvas::text_width(&t, 2), py - 5, &t, 2, black);
    }
    for i in 0..=4 {
        let v = x0 + (x1 - x0) * i as f64 / 4.0;
        let px = left + (pw as f64 * i as f64 / 4.0) as i64;
        let t = fmt_tick(v);
        cv.text(px - Canvas::text_width(&t, 2) / 2, top + ph + 6, &t, 2, black);
    }
    cv.line((left, top), (left, top + ph), black, 1);
    cv.line((left, top + ph), (left + pw, top + ph), black, 1);
    let map = |(px, py): (f64, f64)| {
        (
            left + ((px - x0) / (x1 - x0) * pw as f64).round() as i64,
            top + ph - ((py - y0) / (y1 - y0) * ph as f64).round() as i64,
        )
    };
    let mut lx = left + pw;
    for (k, s) in series.iter().enumerate().rev() {
        let c = COLORS[k % COLORS.len()];
        let mut prev: Option<(i64, i64)> = None;
        for &p in &s.points {
            if !p.1.is_finite() {
                prev = None;
                continue;
            }
            let q = map(p);
            match prev {
                Some(a) => cv.line(a, q, c, 2),
                None => cv.rect(q.0 - 1, q.1 - 1, q.0 + 1, q.1 + 1, c),
            }
            prev = Some(q);
        }
        lx -= Canvas::text_width(s.name, 2) + 20;
        cv.rect(lx, y + 7, lx + 10, y + 15, c);
        cv.text(lx + 14, y + 6, s.name, 2, black);
    }
}

/// The training curves: loss, train/val top-1 and learning rate per epoch.
pub fn write_curves(path: &Path, epochs: &[EpochInfo]) -> Result<()> {
    let mut cv = Canvas::new(900, 720);
    let e = |f: &dyn Fn(&EpochInfo) -> f64| epochs.iter().map(|x| (x.epoch as f64, f(x))).collect::<Vec<_>>();
    panel(
        &mut cv,
        (0, 0, 900, 240),
        "loss",
        &[Series {
            name: "train",
            points: e(&|x| x.train_loss),
        }],
        None,
    );
    panel(
        &mut cv,
        (0, 240, 900, 240),
        "top-1",
        &[
            Series {
                name: "train",
                points: e(&|x| x.train_top1),
            },
            Series {
                name: "val",
                points: e(&|x| x.val_top1.unwrap_or(f64::NAN)),
            },
        ],
        Some((0.0, 1.0)),
    );
    panel(
        &mut cv,
        (0, 480, 900, 240),
        "learning rate",
        &[Series {
            name: "lr",
            points: e(&|x| x.lr),
        }],
        None,
    );
    cv.save(path)
}
