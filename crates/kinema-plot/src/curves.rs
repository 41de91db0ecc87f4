//! Line charts: panels of series side by side (the training curves).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::common::{
    draw_mesh, draw_title, fit_text, input, nice_ticks, palette, render, text_width, tick_label, tick_labels,
    ticked, Area, DrawResult, Side, Text, CAPTION_PX, DESC_PX, MUTED, TICK_GAP, TICK_PX, TITLE_H,
};
use crate::Result;

/// One line of a [`Panel`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Its name in the legend ("" leaves it out of the legend).
    pub label: String,
    /// `(x, y)` points in drawing order; a point with a non-finite coordinate (NaN for "not
    /// measured this epoch") is left out and breaks the line there.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `label`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
        }
    }
}

/// One chart of [`curves_png`]: its own axes, series and legend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    /// Caption above the chart.
    pub title: String,
    /// Description of the x axis (e.g. "epoch").
    pub x_label: String,
    /// Description of the y axis (e.g. "loss").
    pub y_label: String,
    /// The lines, coloured in order (blue, orange, green, red, ...).
    pub series: Vec<Series>,
    /// A fixed y range such as `(0.0, 1.0)` for accuracies; values outside it widen it.
    /// `None`: the range of the data.
    pub y_range: Option<(f64, f64)>,
}

/// Width and height of one panel in pixels.
const PANEL: (u32, u32) = (660, 460);
/// Panels per row.
const COLS: usize = 3;
/// Series with at most this many points also get a dot at each point.
const MAX_DOTS: usize = 60;

/// Draws `panels` side by side (three to a row) under `title` and writes the PNG to `path`.
///
/// The training curves are two panels: loss (train and validation) and accuracy (train
/// top-1, validation top-1 and top-5, `y_range` 0 to 1), with the epoch on x. Each panel
/// picks round tick steps (whole numbers when every x is whole) and puts its legend in the
/// corner with the fewest points. Errors: no panels, a `y_range` that is not two finite
/// numbers in increasing order, values too far apart to draw, or writing the file.
pub fn curves_png(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    if panels.is_empty() {
        return Err(input(path, "no panels to draw"));
    }
    let axes = panels
        .iter()
        .enumerate()
        .map(|(i, p)| Axes::of(p).map_err(|r| input(path, format!("panel {i} \"{}\": {r}", p.title))))
        .collect::<Result<Vec<_>>>()?;
    let cols = panels.len().min(COLS);
    let rows = panels.len().div_ceil(cols);
    let w = PANEL.0 * cols as u32;
    let h = TITLE_H.saturating_add(PANEL.1.saturating_mul(rows as u32));
    render(path, (w, h), |root| {
        draw_title(root, title, TITLE_H)?;
        let cells = root.margin(TITLE_H, 0, 0, 0).split_evenly((rows, cols));
        for ((panel, axes), cell) in panels.iter().zip(&axes).zip(&cells) {
            draw_panel(root, cell, panel, axes)?;
        }
        Ok(())
    })
}

/// A panel's ranges and ticks.
struct Axes {
    x: (f64, f64),
    y: (f64, f64),
    x_ticks: (Vec<f64>, f64),
    y_ticks: (Vec<f64>, f64),
    /// No finite point at all.
    empty: bool,
}

impl Axes {
    fn of(p: &Panel) -> std::result::Result<Axes, String> {
        let pts: Vec<(f64, f64)> = finite_points(p).collect();
        let xs = bounds(pts.iter().map(|q| q.0));
        let ys = bounds(pts.iter().map(|q| q.1));
        let whole_x = !pts.is_empty() && pts.iter().all(|q| q.0.fract() == 0.0);
        let x = pad(xs, 0.02, whole_x);
        let y = match p.y_range {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                // Data outside the range widens it, with a margin so no point sits on the edge.
                let (a, b) = ys.unwrap_or((lo, hi));
                let d = (b.max(hi) - a.min(lo)) * 0.04;
                (if a < lo { a - d } else { lo }, if b > hi { b + d } else { hi })
            }
            Some((lo, hi)) => {
                return Err(format!(
                    "y_range ({lo}, {hi}) is not an increasing pair of finite numbers"
                ))
            }
            None => pad(ys, 0.06, false),
        };
        if !(x.1 - x.0).is_finite() || !(y.1 - y.0).is_finite() {
            return Err("values too far apart to draw".into());
        }
        Ok(Axes {
            x,
            y,
            x_ticks: nice_ticks(x.0, x.1, 8, whole_x),
            y_ticks: nice_ticks(y.0, y.1, 6, false),
            empty: pts.is_empty(),
        })
    }
}

/// The panel's points with finite coordinates.
fn finite_points(p: &Panel) -> impl Iterator<Item = (f64, f64)> + '_ {
    p.series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|q| q.0.is_finite() && q.1.is_finite())
}

/// Smallest and largest of `v` (None if empty).
fn bounds(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((a, b)) => Some((a.min(x), b.max(x))),
    })
}

/// `b` widened by `frac` of its span on each side; a single value gets a range around it
/// (one step to each side if `whole`); no data gives 0 to 1.
fn pad(b: Option<(f64, f64)>, frac: f64, whole: bool) -> (f64, f64) {
    match b {
        None => (0.0, 1.0),
        Some((v, w)) if v == w => {
            let d = if whole || v == 0.0 { 1.0 } else { v.abs() * 0.1 };
            (v - d, v + d)
        }
        Some((v, w)) => {
            let d = (w - v) * frac;
            (v - d, w + d)
        }
    }
}

/// Where the legend goes: the corner (right?, upper?) with the fewest points near it.
fn legend_corner(p: &Panel, a: &Axes) -> (bool, bool) {
    let norm = |(x, y): (f64, f64)| ((x - a.x.0) / (a.x.1 - a.x.0), (y - a.y.0) / (a.y.1 - a.y.0));
    let crowd = |(right, upper): (bool, bool)| {
        finite_points(p)
            .map(norm)
            .filter(|&(x, y)| (x > 0.5) == right && (if upper { y > 0.55 } else { y < 0.45 }))
            .count()
    };
    [(true, true), (true, false), (false, true), (false, false)]
        .into_iter()
        .min_by_key(|&c| crowd(c))
        .unwrap_or((true, true))
}

/// Draws one panel into `cell` of `root`: caption, axes with tick labels and descriptions,
/// the series, and a legend.
fn draw_panel(root: &Area, cell: &Area, p: &Panel, a: &Axes) -> DrawResult<()> {
    let (w, h) = cell.dim_in_pixel();
    let (left, top) = cell.get_base_pixel();
    let labels = |(ticks, step): &(Vec<f64>, f64)| -> Vec<(f64, String)> {
        ticks.iter().map(|&v| (v, tick_label(v, *step))).collect()
    };
    let (x_labels, y_labels) = (labels(&a.x_ticks), labels(&a.y_ticks));
    let widest_y = y_labels
        .iter()
        .map(|l| text_width(&l.1, TICK_PX))
        .max()
        .unwrap_or(0);
    let desc = |s: &str| if s.is_empty() { 0 } else { DESC_PX + 12 };
    let mut chart = ChartBuilder::on(cell)
        .margin_top(if p.title.is_empty() { 12 } else { CAPTION_PX + 22 })
        .margin_bottom(10)
        .margin_left(14)
        .margin_right(26)
        .x_label_area_size(TICK_GAP as u32 + TICK_PX + 8 + desc(&p.x_label))
        .y_label_area_size(TICK_GAP as u32 + widest_y + 8 + desc(&p.y_label))
        .build_cartesian_2d(
            ticked(a.x.0..a.x.1, a.x_ticks.0.clone()),
            ticked(a.y.0..a.y.1, a.y_ticks.0.clone()),
        )?;
    draw_mesh(&mut chart, true)?;
    tick_labels(root, &chart, Side::Bottom, &x_labels, Text::new(TICK_PX))?;
    tick_labels(root, &chart, Side::Left, &y_labels, Text::new(TICK_PX))?;
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let mid = ((cols.start + cols.end) / 2, (rows.start + rows.end) / 2);
    let caption = Text::new(CAPTION_PX).anchor(HPos::Center, VPos::Top);
    caption.draw(
        root,
        &fit_text(&p.title, CAPTION_PX, cols.len() as u32 + 40),
        (mid.0, top + 10),
    )?;
    let x_desc = Text::new(DESC_PX).anchor(HPos::Center, VPos::Bottom);
    x_desc.draw(
        root,
        &fit_text(&p.x_label, DESC_PX, cols.len() as u32),
        (mid.0, top + h as i32 - 10),
    )?;
    let y_desc = Text::new(DESC_PX).upwards().anchor(HPos::Center, VPos::Top);
    y_desc.draw(
        root,
        &fit_text(&p.y_label, DESC_PX, rows.len() as u32),
        (left + 14, mid.1),
    )?;
    if a.empty {
        let note = Text::new(DESC_PX)
            .colour(MUTED)
            .anchor(HPos::Center, VPos::Center);
        note.draw(root, "no data", mid)?;
    }
    let mut legend = Vec::new();
    for (k, s) in p.series.iter().enumerate() {
        let color = palette(k);
        let runs: Vec<&[(f64, f64)]> = s
            .points
            .split(|q| !(q.0.is_finite() && q.1.is_finite()))
            .filter(|r| !r.is_empty())
            .collect();
        let n: usize = runs.iter().map(|r| r.len()).sum();
        for run in &runs {
            chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?;
        }
        // Dots on short series, and always on points standing alone.
        let dots = runs
            .iter()
            .filter(|r| n <= MAX_DOTS || r.len() == 1)
            .flat_map(|r| r.iter().copied());
        chart.draw_series(dots.map(|q| Circle::new(q, 3, color.filled())))?;
        if !s.label.is_empty() {
            let label = if n == 0 {
                format!("{} (no data)", s.label)
            } else {
                s.label.clone()
            };
            legend.push((fit_text(&label, TICK_PX, w / 3), color));
        }
    }
    draw_legend(root, (cols, rows), &legend, legend_corner(p, a))
}

/// The legend: a framed box in a corner of the plot `(cols, rows)` with a line and a name for
/// each series.
fn draw_legend(
    root: &Area,
    (cols, rows): (std::ops::Range<i32>, std::ops::Range<i32>),
    entries: &[(String, RGBColor)],
    (right, upper): (bool, bool),
) -> DrawResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    const PAD: i32 = 9;
    const LINE: i32 = 26;
    let row_h = TICK_PX as i32 + 8;
    let text_w = entries
        .iter()
        .map(|e| text_width(&e.0, TICK_PX))
        .max()
        .unwrap_or(0) as i32;
    let (w, h) = (
        PAD + LINE + 8 + text_w + PAD,
        2 * PAD + entries.len() as i32 * row_h - 8,
    );
    let x0 = if right { cols.end - 12 - w } else { cols.start + 12 };
    let y0 = if upper { rows.start + 12 } else { rows.end - 12 - h };
    let frame = [(x0, y0), (x0 + w, y0 + h)];
    root.draw(&Rectangle::new(frame, WHITE.mix(0.92).filled()))?;
    root.draw(&Rectangle::new(frame, RGBColor(200, 200, 200)))?;
    for (i, (label, color)) in entries.iter().enumerate() {
        let cy = y0 + PAD + i as i32 * row_h + TICK_PX as i32 / 2;
        root.draw(&PathElement::new(
            vec![(x0 + PAD, cy), (x0 + PAD + LINE, cy)],
            color.stroke_width(3),
        ))?;
        let style = Text::new(TICK_PX).anchor(HPos::Left, VPos::Center);
        style.draw(root, label, (x0 + PAD + LINE + 8, cy))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::{drawn, px};
    use crate::PlotError;

    fn training_panels(epochs: usize) -> Vec<Panel> {
        let e = |f: &dyn Fn(f64) -> f64| (1..=epochs).map(|i| (i as f64, f(i as f64))).collect::<Vec<_>>();
        vec![
            Panel {
                title: "Loss".into(),
                x_label: "epoch".into(),
                y_label: "loss".into(),
                series: vec![
                    Series::new("train", e(&|i| 2.3 / i.sqrt())),
                    Series::new(
                        "val",
                        e(&|i| {
                            if (i as usize).is_multiple_of(3) {
                                f64::NAN
                            } else {
                                2.5 / i.sqrt() + 0.1
                            }
                        }),
                    ),
                ],
                y_range: None,
            },
            Panel {
                title: "Accuracy".into(),
                x_label: "epoch".into(),
                y_label: "accuracy".into(),
                series: vec![
                    Series::new("train top-1", e(&|i| 1.0 - 0.9 / i)),
                    Series::new("val top-1", e(&|i| 0.9 - 0.85 / i)),
                    Series::new("val top-5", e(&|i| 0.98 - 0.6 / i)),
                ],
                y_range: Some((0.0, 1.0)),
            },
        ]
    }

    #[test]
    fn training_curves_have_the_size_colours_and_text() {
        let panels = training_panels(30);
        let ((), pic) = drawn("curves.png", |path| {
            curves_png(path, "Training curves: i3d_resnet50", &panels)
        });
        assert_eq!((pic.w, pic.h), (2 * PANEL.0, TITLE_H + PANEL.1));
        assert!(pic.colours() > 20);
        // The title row holds text.
        assert!(pic.inked((0, pic.w as i32), (0, TITLE_H as i32)) > 200);
        // Each series' colour is drawn in its panel (train loss left, val top-5 right).
        let count = |c: [u8; 3], x0: u32, x1: u32| {
            (0..pic.h as i32)
                .flat_map(|y| (x0 as i32..x1 as i32).map(move |x| (x, y)))
                .filter(|&(x, y)| pic.at(x, y) == c)
                .count()
        };
        assert!(count(px(palette(0)), 0, PANEL.0) > 100);
        assert!(count(px(palette(1)), 0, PANEL.0) > 100);
        assert!(count(px(palette(2)), PANEL.0, 2 * PANEL.0) > 100);
        assert_eq!(count(px(palette(2)), 0, PANEL.0), 0);
    }

    #[test]
    fn odd_series_still_give_a_picture() {
        let panels = vec![
            // A single epoch, an all-NaN series, an empty series.
            Panel {
                title: "one epoch".into(),
                series: vec![
                    Series::new("train", vec![(1.0, 0.5)]),
                    Series::new("val", vec![(1.0, f64::NAN)]),
                    Series::new("", vec![]),
                ],
                ..Panel::default()
            },
            Panel::default(),
            Panel {
                title: "huge and tiny".into(),
                series: vec![Series::new(
                    "x",
                    vec![(0.0, 1e-12), (1.0, 3e9), (f64::INFINITY, 1.0)],
                )],
                ..Panel::default()
            },
            Panel {
                title: "a title far too long to fit above a panel of six hundred pixels, it goes on and on"
                    .into(),
                series: training_panels(1).remove(1).series,
                y_range: Some((0.2, 0.4)),
                ..Panel::default()
            },
        ];
        let ((), pic) = drawn("curves-odd.png", |path| curves_png(path, "odd", &panels));
        assert_eq!((pic.w, pic.h), (3 * PANEL.0, TITLE_H + 2 * PANEL.1));
        // The lone train point is drawn as a dot.
        assert!(pic
            .rgb
            .chunks(3)
            .take(pic.w as usize * (TITLE_H + PANEL.1) as usize)
            .any(|c| c == px(palette(0))));
    }

    #[test]
    fn bad_panels_are_input_errors() {
        let path = Path::new("/nonexistent/curves.png");
        let err = curves_png(path, "t", &[]).unwrap_err();
        assert!(matches!(err, PlotError::Input { .. }), "{err}");
        let bad = Panel {
            title: "acc".into(),
            y_range: Some((1.0, f64::NAN)),
            ..Panel::default()
        };
        let err = curves_png(path, "t", &[bad]).unwrap_err();
        assert!(matches!(err, PlotError::Input { .. }), "{err}");
        assert!(
            err.to_string().contains("curves.png") && err.to_string().contains("y_range"),
            "{err}"
        );
        let far = Panel {
            series: vec![Series::new("x", vec![(0.0, -1e308), (1.0, 1e308)])],
            ..Panel::default()
        };
        assert!(matches!(
            curves_png(path, "t", &[far]),
            Err(PlotError::Input { .. })
        ));
        // Good panels, unwritable path: an I/O error naming the file.
        let err = curves_png(path, "t", &training_panels(3)).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
    }
}
