//! Pictures the CLI writes: the confusion matrix of `eval`.

use std::path::Path;

use anyhow::Result;
use kinema_train::plot::Canvas;

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
