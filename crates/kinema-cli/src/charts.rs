//! Pictures the CLI writes: the confusion matrix of `eval`, the timeline of `tag`.

use std::path::Path;

use anyhow::Result;
use kinema_train::plot::{Canvas, COLORS};
use kinema_train::{Segment, WindowScore};

/// A confusion matrix as a heat map: rows true classes, columns predictions, counts in cells.
pub fn confusion_png(path: &Path, m: &[Vec<usize>], classes: &[String]) -> Result<()> {
    let n = m.len().max(1);
    let cell = (640 / n).clamp(12, 48) as i64;
    let label_w = classes
        .iter()
        .map(|c| Canvas::text_width(c, 2))
        .max()
        .unwrap_or(0)
        + 12;
    let side = cell * n as i64;
    let mut cv = Canvas::new((label_w + side + 20) as usize, (40 + side + label_w) as usize);
    cv.text(label_w, 10, "true (rows) vs predicted (columns)", 2, [30, 30, 30]);
    let (x0, y0) = (label_w, 36);
    for (r, row) in m.iter().enumerate() {
        let total: usize = row.iter().sum::<usize>().max(1);
        for (c, &v) in row.iter().enumerate() {
            let f = v as f64 / total as f64;
            let shade = (255.0 * (1.0 - f)) as u8;
            let color = if r == c {
                [shade, 255, shade]
            } else {
                [255, shade, shade]
            };
            let (x, y) = (x0 + c as i64 * cell, y0 + r as i64 * cell);
            cv.rect(x, y, x + cell - 2, y + cell - 2, color);
            if cell >= 20 && v > 0 {
                let t = v.to_string();
                cv.text(
                    x + (cell - Canvas::text_width(&t, 2)) / 2,
                    y + cell / 2 - 5,
                    &t,
                    2,
                    [0, 0, 0],
                );
            }
        }
        let name = classes.get(r).map(String::as_str).unwrap_or("?");
        cv.text(
            x0 - Canvas::text_width(name, 2) - 6,
            y0 + r as i64 * cell + cell / 2 - 5,
            name,
            2,
            [30, 30, 30],
        );
    }
    // Column labels as indices (names would not fit horizontally), with a key below.
    for c in 0..n {
        let t = c.to_string();
        cv.text(
            x0 + c as i64 * cell + (cell - Canvas::text_width(&t, 2)) / 2,
            y0 + side + 4,
            &t,
            2,
            [30, 30, 30],
        );
    }
    for (k, name) in classes.iter().enumerate().take(n) {
        let line = format!("{k}={name}");
        let (col, row) = (k % 2, k / 2);
        cv.text(
            x0 + col as i64 * (side / 2),
            y0 + side + 22 + row as i64 * 14,
            &line,
            2,
            [60, 60, 60],
        );
    }
    cv.save(path)?;
    Ok(())
}

/// Colour of class `k` (the palette repeats after 8 classes; the legend names them).
fn class_color(k: usize) -> [u8; 3] {
    COLORS[k % COLORS.len()]
}

/// A tagged video's timeline: the segments as a coloured band (named where the name fits),
/// below it each window's top score as a bar at its centre, a time axis in seconds and a
/// legend of the labels that occur.
pub fn timeline_png(
    path: &Path,
    windows: &[WindowScore],
    segs: &[Segment],
    classes: &[String],
) -> Result<()> {
    let (w, left, right) = (960i64, 20i64, 20i64);
    let t0 = segs.first().map_or(0.0, |s| s.start);
    let t1 = segs.last().map_or(1.0, |s| s.end).max(t0 + 1e-3);
    let x_of = |t: f64| left + ((t - t0) / (t1 - t0) * (w - left - right) as f64).round() as i64;
    let mut used: Vec<usize> = segs.iter().map(|s| s.label).collect();
    used.sort_unstable();
    used.dedup();
    let legend_rows = used.len().div_ceil(3) as i64;
    let h = 230 + legend_rows * 16;
    let mut cv = Canvas::new(w as usize, h as usize);
    let name = |k: usize| classes.get(k).cloned().unwrap_or_else(|| format!("class_{k}"));
    cv.text(left, 8, "segments (top label of the windows)", 2, [30, 30, 30]);
    let (band0, band1) = (26i64, 66i64);
    for s in segs {
        let (x0, x1) = (x_of(s.start), x_of(s.end).max(x_of(s.start) + 1));
        cv.rect(x0, band0, x1 - 1, band1, class_color(s.label));
        let n = name(s.label);
        if Canvas::text_width(&n, 2) + 6 < x1 - x0 {
            cv.text(x0 + 4, band0 + 15, &n, 2, [255, 255, 255]);
        }
    }
    cv.text(left, 76, "window scores", 2, [30, 30, 30]);
    let (bar0, bar1) = (94i64, 164i64);
    cv.rect(left, bar0, w - right, bar0, [220, 220, 220]);
    cv.rect(left, bar1, w - right, bar1, [180, 180, 180]);
    for win in windows {
        // Centred on the window, a quarter of its length to each side (half-overlapping
        // windows tile the axis).
        let x = x_of((win.start + win.end) / 2.0);
        let half = ((x_of(win.end) - x_of(win.start)) / 4 - 1).max(1);
        let top = bar1 - ((bar1 - bar0) as f64 * win.score.clamp(0.0, 1.0) as f64).round() as i64;
        cv.rect(x - half, top, x + half, bar1, class_color(win.label));
    }
    // Time axis: about 8 ticks at a round step.
    let span = t1 - t0;
    let raw = span / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let mut t = (t0 / step).ceil() * step;
    while t <= t1 + 1e-9 {
        let x = x_of(t);
        cv.rect(x, bar1, x, bar1 + 5, [80, 80, 80]);
        let label = if step >= 1.0 {
            format!("{t:.0}s")
        } else {
            format!("{t:.1}s")
        };
        cv.text(
            x - Canvas::text_width(&label, 2) / 2,
            bar1 + 9,
            &label,
            2,
            [60, 60, 60],
        );
        t += step;
    }
    for (i, &k) in used.iter().enumerate() {
        let (col, row) = (i as i64 % 3, i as i64 / 3);
        let (x, y) = (left + col * 300, 200 + row * 16);
        cv.rect(x, y, x + 10, y + 10, class_color(k));
        cv.text(x + 16, y, &name(k), 2, [40, 40, 40]);
    }
    cv.save(path)?;
    Ok(())
}
