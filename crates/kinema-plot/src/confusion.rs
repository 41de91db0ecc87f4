//! The confusion matrix as a heat map with a colour scale.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::common::{
    draw_mesh, draw_title, fit_text, input, nice_ticks, render, text_color_on, text_width, tick_label,
    tick_labels, ticked, title_width, Area, DrawResult, Side, Text, DESC_PX, INK, TICK_GAP, TICK_PX, TITLE_H,
};
use crate::Result;

/// The most classes drawn (a 4096 x 4096 matrix is already below a pixel a cell).
const MAX_CLASSES: usize = 4096;
const TITLE: &str = "Confusion matrix (rows: true class)";
/// Class names are shortened to this width.
const MAX_LABEL_W: u32 = 180;
/// Width of the colour scale beside the matrix.
const SCALE_W: u32 = 130;
/// Space around the matrix.
const MARGIN: u32 = 10;

/// Where the matrix's cells are in the picture, in pixels (for tests).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Grid {
    /// Left edge of column 0.
    pub x0: f64,
    /// Top edge of row 0.
    pub y0: f64,
    /// Cell side.
    pub cell: f64,
}

/// Draws the confusion matrix `matrix` (`matrix[true][predicted]` = count) with the names
/// `classes` and writes the PNG to `path`.
///
/// Rows are true classes, columns predictions; a cell's colour is its share of the row (white
/// 0 to dark blue 1, shown by the colour scale at the right) and, where the cell is large
/// enough, it shows its count. Names are shortened with `…` past 170 pixels; with many classes
/// only every k-th name is written so they do not overlap (1000 classes: a cell a pixel). A
/// missing name is shown as the class number. Errors: an empty or ragged matrix, more than
/// 4096 classes, or writing the file.
pub fn confusion_png(path: &Path, matrix: &[Vec<usize>], classes: &[String]) -> Result<()> {
    draw_confusion(path, matrix, classes).map(|_| ())
}

pub(crate) fn draw_confusion(path: &Path, matrix: &[Vec<usize>], classes: &[String]) -> Result<Grid> {
    let n = matrix.len();
    if n == 0 {
        return Err(input(path, "empty confusion matrix (no classes)"));
    }
    if n > MAX_CLASSES {
        return Err(input(
            path,
            format!("{n} classes are too many to draw (at most {MAX_CLASSES})"),
        ));
    }
    if let Some((r, row)) = matrix.iter().enumerate().find(|(_, row)| row.len() != n) {
        return Err(input(
            path,
            format!(
                "ragged confusion matrix: row {r} has {} cells, expected {n}",
                row.len()
            ),
        ));
    }
    // Whole pixels a cell up to 960 pixels a side; beyond, a pixel a cell up to 2048.
    let side = if n <= 960 {
        ((n * 48).clamp(320, 960) / n).max(1) * n
    } else {
        n.min(2048)
    } as u32;
    let cell = f64::from(side) / n as f64;
    // Every name if they fit, else every 2nd, 5th, 10th, 20th, ... so that they do.
    let need = (f64::from(TICK_PX + 5) / cell).ceil().max(1.0) as usize;
    let stride = (0..8)
        .flat_map(|e| [1, 2, 5].map(|m| m * 10usize.pow(e)))
        .find(|&s| s >= need)
        .unwrap_or(need);
    let labels: Vec<String> = (0..n)
        .map(|k| {
            let name = classes
                .get(k)
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| k.to_string());
            fit_text(&name, TICK_PX, MAX_LABEL_W)
        })
        .collect();
    let label_w = (0..n)
        .step_by(stride)
        .map(|k| text_width(&labels[k], TICK_PX))
        .max()
        .unwrap_or(0);
    // Tick gap, names, a gap, the axis description.
    let label_area = TICK_GAP as u32 + label_w + 12 + DESC_PX + 4;
    // plotters maps 0..n onto the first to the last pixel of the plot: one more than `side`.
    let base_w = MARGIN + label_area + side + 1 + MARGIN + SCALE_W;
    let w = base_w.max(title_width(TITLE));
    let h = TITLE_H + MARGIN + side + 1 + label_area + MARGIN;
    render(path, (w, h), |root| {
        draw_title(root, TITLE, TITLE_H)?;
        let body = root.margin(TITLE_H, 0, 0, 0);
        let (left, right) = body.split_horizontally(w - SCALE_W);
        let grid = draw_matrix(root, &left, matrix, &labels, stride, label_area, w - base_w)?;
        draw_scale(root, &right, label_area)?;
        Ok(grid)
    })
}

/// Colour of a row share `f` (0 to 1): matplotlib's "Blues", white to dark blue.
pub(crate) fn share_color(f: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let t = if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 } * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let u = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * u).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The heat map with its class names in `area` of `root`; `extra` is width added at the
/// right for the title.
fn draw_matrix(
    root: &Area,
    area: &Area,
    matrix: &[Vec<usize>],
    labels: &[String],
    stride: usize,
    label_area: u32,
    extra: u32,
) -> DrawResult<Grid> {
    let n = matrix.len();
    let nf = n as f64;
    // Row r is drawn from y = n - r - 1 to n - r: row 0 at the top. Names at cell centres.
    let shown = |flip: bool| -> Vec<(f64, String)> {
        (0..n)
            .step_by(stride)
            .map(|k| {
                (
                    if flip { nf - k as f64 - 0.5 } else { k as f64 + 0.5 },
                    labels[k].clone(),
                )
            })
            .collect()
    };
    let (x_names, y_names) = (shown(false), shown(true));
    let ticks = |names: &[(f64, String)]| names.iter().map(|l| l.0).collect::<Vec<_>>();
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_right(MARGIN + extra)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area)
        .build_cartesian_2d(ticked(0.0..nf, ticks(&x_names)), ticked(0.0..nf, ticks(&y_names)))?;
    draw_mesh(&mut chart, false)?;
    tick_labels(root, &chart, Side::Left, &y_names, Text::new(TICK_PX))?;
    tick_labels(root, &chart, Side::Bottom, &x_names, Text::new(TICK_PX).upwards())?;
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let (left, top) = area.get_base_pixel();
    let (_, h) = area.dim_in_pixel();
    let mid = ((cols.start + cols.end) / 2, (rows.start + rows.end) / 2);
    let x_desc = Text::new(DESC_PX).anchor(HPos::Center, VPos::Bottom);
    x_desc.draw(root, "predicted class", (mid.0, top + h as i32 - MARGIN as i32))?;
    let y_desc = Text::new(DESC_PX).upwards().anchor(HPos::Center, VPos::Top);
    y_desc.draw(root, "true class", (left + MARGIN as i32, mid.1))?;
    let top_left = chart.backend_coord(&(0.0, nf));
    let bottom_right = chart.backend_coord(&(nf, 0.0));
    let cell = f64::from(bottom_right.0 - top_left.0) / nf;
    let gap = u32::from(cell >= 10.0);
    let count_px = if cell >= 56.0 { TICK_PX + 1 } else { TICK_PX - 2 };
    for (r, row) in matrix.iter().enumerate() {
        let total: u128 = row.iter().map(|&v| v as u128).sum();
        let share = |v: usize| if total == 0 { 0.0 } else { v as f64 / total as f64 };
        let y = nf - r as f64;
        let cells = row.iter().enumerate().map(|(c, &v)| {
            let x = c as f64;
            let mut rect = Rectangle::new([(x, y - 1.0), (x + 1.0, y)], share_color(share(v)).filled());
            rect.set_margin(0, gap, 0, gap);
            rect
        });
        chart.draw_series(cells)?;
        if cell < 30.0 {
            continue;
        }
        for (c, &v) in row.iter().enumerate().filter(|(_, &v)| v > 0) {
            let text = v.to_string();
            if f64::from(text_width(&text, count_px)) > cell - 6.0 {
                continue;
            }
            let colour = text_color_on(share_color(share(v)));
            let style = Text::new(count_px)
                .colour(colour)
                .anchor(HPos::Center, VPos::Center);
            style.draw(root, &text, chart.backend_coord(&(c as f64 + 0.5, y - 0.5)))?;
        }
    }
    Ok(Grid {
        x0: f64::from(top_left.0),
        y0: f64::from(top_left.1),
        cell,
    })
}

/// The colour scale in `area` of `root`: share of the row from 0 (bottom) to 1 (top), ticks
/// every 0.2, level with the matrix.
fn draw_scale(root: &Area, area: &Area, label_area: u32) -> DrawResult<()> {
    let (ticks, step) = nice_ticks(0.0, 1.0, 5, false);
    const BAR: u32 = 22;
    let mut chart = ChartBuilder::on(area)
        .margin_top(MARGIN)
        .margin_bottom(MARGIN + label_area)
        .margin_left(4)
        .margin_right(SCALE_W - 4 - BAR)
        .build_cartesian_2d(ticked(0.0..1.0, vec![]), ticked(0.0..1.0, ticks.clone()))?;
    const STEPS: usize = 256;
    let bands = (0..STEPS).map(|i| {
        let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
        Rectangle::new([(0.0, a), (1.0, b)], share_color((a + b) / 2.0).filled())
    });
    chart.draw_series(bands)?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(0.0, 0.0), (1.0, 1.0)],
        INK.mix(0.5),
    )))?;
    // Tick marks and labels at the bar's right.
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let marks = ticks.iter().map(|&v| {
        let y = chart.backend_coord(&(1.0, v)).1;
        PathElement::new(vec![(cols.end, y), (cols.end + 5, y)], INK.mix(0.5))
    });
    for mark in marks {
        root.draw(&mark)?;
    }
    let labels: Vec<(f64, String)> = ticks.iter().map(|&v| (v, tick_label(v, step))).collect();
    tick_labels(root, &chart, Side::Right, &labels, Text::new(TICK_PX))?;
    let widest = labels
        .iter()
        .map(|l| text_width(&l.1, TICK_PX))
        .max()
        .unwrap_or(0) as i32;
    let desc = Text::new(DESC_PX).upwards().anchor(HPos::Center, VPos::Top);
    desc.draw(
        root,
        "share of row",
        (cols.end + TICK_GAP + widest + 10, (rows.start + rows.end) / 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::{drawn, px};
    use crate::PlotError;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|k| format!("class_{k}")).collect()
    }

    /// The pixel inside cell `(r, c)`, away from its centre (where the count is written).
    fn in_cell(g: &Grid, r: usize, c: usize) -> (i32, i32) {
        (
            (g.x0 + (c as f64 + 0.2) * g.cell) as i32,
            (g.y0 + (r as f64 + 0.2) * g.cell) as i32,
        )
    }

    #[test]
    fn perfect_classifier_has_a_dark_diagonal_and_white_elsewhere() {
        let n = 6;
        let m: Vec<Vec<usize>> = (0..n)
            .map(|r| (0..n).map(|c| if r == c { 10 + r } else { 0 }).collect())
            .collect();
        let classes = vec![
            "archery".to_string(),
            "balance beam".into(),
            "playing a very long instrument name that goes on".into(),
            "diving".into(),
            "éléphant".into(),
            String::new(),
        ];
        let (g, pic) = drawn("confusion.png", |path| draw_confusion(path, &m, &classes));
        assert!(pic.colours() > 10);
        for r in 0..n {
            for c in 0..n {
                let (x, y) = in_cell(&g, r, c);
                let want = share_color(if r == c { 1.0 } else { 0.0 });
                assert_eq!(pic.at(x, y), px(want), "cell ({r}, {c}) at ({x}, {y})");
            }
        }
        // The class names are written left of the matrix and below it.
        let (x0, y0, side) = (g.x0 as i32, g.y0 as i32, (g.cell * n as f64) as i32);
        assert!(pic.inked((0, x0 - 4), (y0, y0 + side)) > 300);
        assert!(pic.inked((x0, x0 + side), (y0 + side + 4, pic.h as i32)) > 300);
        // The counts are written in the diagonal cells (white on dark blue).
        let centre = |k: usize| {
            (
                (g.x0 + (k as f64 + 0.5) * g.cell) as i32,
                (g.y0 + (k as f64 + 0.5) * g.cell) as i32,
            )
        };
        let text: usize = (0..n)
            .map(|k| {
                let (cx, cy) = centre(k);
                (cx - 8..cx + 8)
                    .filter(|&x| pic.at(x, cy) != px(share_color(1.0)))
                    .count()
            })
            .sum();
        assert!(text > 0);
    }

    #[test]
    fn shares_are_per_row_and_the_scale_runs_white_to_blue() {
        let m = vec![vec![3, 1], vec![0, 0]];
        let (g, pic) = drawn("shares.png", |path| draw_confusion(path, &m, &names(2)));
        assert_eq!(
            pic.at(in_cell(&g, 0, 0).0, in_cell(&g, 0, 0).1),
            px(share_color(0.75))
        );
        assert_eq!(
            pic.at(in_cell(&g, 0, 1).0, in_cell(&g, 0, 1).1),
            px(share_color(0.25))
        );
        // A row without samples is all share 0.
        assert_eq!(
            pic.at(in_cell(&g, 1, 0).0, in_cell(&g, 1, 0).1),
            px(share_color(0.0))
        );
        // The scale: the share-1 colour near its top, share-0 near its bottom, right of the grid.
        let right = (g.x0 + 2.0 * g.cell) as i32 + 2 * MARGIN as i32;
        let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&a, b)| a.abs_diff(b) <= 4);
        let find = |c: RGBColor| {
            (0..pic.h as i32).find(|&y| (right..pic.w as i32).any(|x| near(pic.at(x, y), px(c))))
        };
        let (top, bottom) = (find(share_color(1.0)).unwrap(), find(share_color(0.0)).unwrap());
        assert!(top < bottom, "{top} {bottom}");
        assert_ne!(share_color(0.5), share_color(0.6));
    }

    #[test]
    fn thousand_classes_with_long_names() {
        let n = 1000;
        let m: Vec<Vec<usize>> = (0..n)
            .map(|r| (0..n).map(|c| usize::from(r == c || c == (r + 1) % n)).collect())
            .collect();
        let classes: Vec<String> = (0..n)
            .map(|k| format!("{k} {}", "very long class name ".repeat(5)))
            .collect();
        let (g, pic) = drawn("confusion-1000.png", |path| draw_confusion(path, &m, &classes));
        assert_eq!(g.cell, 1.0);
        assert!(pic.w < 1500 && pic.h < 1500, "{}x{}", pic.w, pic.h);
        let half = px(share_color(0.5));
        let on_diag = (0..n).filter(|&k| {
            let (x, y) = ((g.x0 + k as f64) as i32, (g.y0 + k as f64) as i32);
            pic.at(x, y) == half
        });
        assert!(on_diag.count() > 900);
    }

    #[test]
    fn bad_matrices_are_input_errors() {
        let path = Path::new("/nonexistent/c.png");
        let cases: [&[Vec<usize>]; 3] = [&[], &[vec![1, 2], vec![3]], &[vec![]]];
        for m in cases {
            let err = confusion_png(path, m, &names(2)).unwrap_err();
            assert!(matches!(err, PlotError::Input { .. }), "{err}");
            assert!(err.to_string().starts_with("/nonexistent/c.png: "), "{err}");
        }
        let err = confusion_png(path, &[vec![1]], &[]).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
    }
}
