//! A tagged video's timeline: labelled segments, window scores and frame thumbnails along a
//! time axis.

use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::common::{
    draw_mesh, draw_title, fit_text, input, nice_ticks, palette, render, text_color_on, text_width,
    tick_label, tick_labels, ticked, Area, Chart, DrawResult, Side, Text, DESC_PX, INK, MUTED, TICK_GAP,
    TICK_PX, TITLE_H,
};
use crate::Result;

/// A stretch of the video with one label: a coloured bar from `start_s` to `end_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineSegment {
    /// Start in seconds.
    pub start_s: f64,
    /// End in seconds.
    pub end_s: f64,
    /// Class number: its name is `classes[label]` (`class N` past the end of `classes`).
    pub label: usize,
    /// The label's score (0 to 1), written after the name where it fits; NaN: not written.
    pub score: f64,
}

/// One analysis window of `timeline_png`: its time span, top label and that label's score,
/// drawn as a bar as high as the score at the window's centre.
pub type TimelineWindow = TimelineSegment;

/// A video frame to show under the timeline at `time_s`, as 8-bit RGB rows (`rgb.len()` =
/// `width * height * 3`). It is scaled to the strip's height; the caller decodes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thumbnail {
    /// The frame's time in seconds.
    pub time_s: f64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixels, row by row, 3 bytes (R, G, B) each.
    pub rgb: Vec<u8>,
}

const W: u32 = 1280;
const TITLE: &str = "Timeline (top label per segment)";
/// Height of a plot's caption row.
const CAPTION_H: u32 = 28;
/// Left of the plots (the score axis' ticks) and right of them.
const LEFT: u32 = 64;
const RIGHT: u32 = 36;
/// Heights of the plots: segment band, window scores, frame strip.
const BAND_H: u32 = 44;
const SCORES_H: u32 = 110;
const THUMB_H: u32 = 90;
const STRIP_H: u32 = THUMB_H + 18;
/// A thumbnail is at most this wide after scaling.
const THUMB_MAX_W: u32 = 320;
/// The time axis' tick labels and description under the lowest plot.
const AXIS_H: u32 = TICK_GAP as u32 + TICK_PX + 12 + DESC_PX + 8;
const LEGEND_ROW: u32 = 26;

/// Where the plots are in the picture, in pixels (for tests).
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Layout {
    /// The segment band's rows.
    pub band: Range<i32>,
    /// The frame strip's rows (empty without thumbnails).
    pub strip: Range<i32>,
    /// Pixel column of a time in seconds.
    pub x_of: Vec<(f64, i32)>,
}

/// Draws a tagged video's timeline and writes the PNG to `path`.
///
/// Along a time axis from 0 to `duration_s` seconds: the `segments` as bars coloured by label
/// (named inside where the name fits), then, if any, each of the `windows`' top score as a bar
/// at its centre, then, if any, the `thumbnails`, scaled to a 90-pixel strip, each placed at
/// its time (a tick under it marks the exact time), and a legend of the labels that occur.
/// Class names come from `classes`. Segments with non-finite times are left out, times are
/// clamped to the axis. Errors: a duration that is not a positive number, a thumbnail with no
/// pixels, a non-finite time or an `rgb` whose length is not `width * height * 3`, or writing
/// the file.
pub fn timeline_png(
    path: &Path,
    duration_s: f64,
    segments: &[TimelineSegment],
    windows: &[TimelineWindow],
    classes: &[String],
    thumbnails: &[Thumbnail],
) -> Result<()> {
    let args = Timeline {
        duration_s,
        segments,
        windows,
        classes,
        thumbnails,
    };
    draw_timeline(path, args).map(drop)
}

/// The arguments of [`timeline_png`].
#[derive(Clone, Copy)]
pub(crate) struct Timeline<'a> {
    pub duration_s: f64,
    pub segments: &'a [TimelineSegment],
    pub windows: &'a [TimelineWindow],
    pub classes: &'a [String],
    pub thumbnails: &'a [Thumbnail],
}

/// Draws the timeline and says where its plots are.
pub(crate) fn draw_timeline(path: &Path, args: Timeline) -> Result<Layout> {
    let Timeline {
        duration_s,
        segments,
        windows,
        classes,
        thumbnails,
    } = args;
    if !(duration_s.is_finite() && duration_s > 0.0) {
        return Err(input(
            path,
            format!("duration {duration_s} s is not a positive number of seconds"),
        ));
    }
    let mut thumbs = thumbnails
        .iter()
        .enumerate()
        .map(|(i, t)| scaled(t).map_err(|r| input(path, format!("thumbnail {i}: {r}"))))
        .collect::<Result<Vec<_>>>()?;
    let d = duration_s;
    let spans = |s: &[TimelineSegment]| -> Vec<TimelineSegment> {
        s.iter()
            .filter(|s| s.start_s.is_finite() && s.end_s.is_finite())
            .map(|s| TimelineSegment {
                start_s: s.start_s.min(s.end_s).clamp(0.0, d),
                end_s: s.start_s.max(s.end_s).clamp(0.0, d),
                ..*s
            })
            .collect()
    };
    let (segments, windows) = (spans(segments), spans(windows));
    // Colours in order of first appearance, so the band reads blue, orange, green, ...
    let mut used: Vec<usize> = Vec::new();
    for s in segments.iter().chain(&windows) {
        if !used.contains(&s.label) {
            used.push(s.label);
        }
    }
    let names: Vec<String> = used
        .iter()
        .map(|&k| {
            classes
                .get(k)
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("class {k}"))
        })
        .collect();
    let legend = legend_rows(&names);
    let panel_h = |h: u32, on: bool| if on { CAPTION_H + h } else { 0 };
    let heights = [
        CAPTION_H + BAND_H,
        panel_h(SCORES_H, !windows.is_empty()),
        panel_h(STRIP_H, !thumbs.is_empty()),
    ];
    let plots_h: u32 = heights.iter().sum();
    let legend_h = if names.is_empty() {
        0
    } else {
        legend.len() as u32 * LEGEND_ROW + 16
    };
    let h = TITLE_H + plots_h + AXIS_H + legend_h;
    let ctx = Ctx {
        d,
        ticks: time_ticks(d),
        colour: |label: usize| palette(used.iter().position(|&k| k == label).unwrap_or(0)),
        name: |label: usize| names[used.iter().position(|&k| k == label).unwrap_or(0)].clone(),
    };
    render(path, (W, h), |root| {
        draw_title(root, TITLE, TITLE_H)?;
        let last = heights.iter().rposition(|&x| x > 0).unwrap_or(0);
        let mut y = TITLE_H;
        let mut layout = Layout {
            band: 0..0,
            strip: 0..0,
            x_of: Vec::new(),
        };
        for (i, &ph) in heights.iter().enumerate() {
            if ph == 0 {
                continue;
            }
            let axis = if i == last { AXIS_H } else { 0 };
            let area = root.clone().shrink((0, y), (W, ph + axis));
            y += ph;
            let caption = ["Segments", "Window scores (top label)", "Frames"][i];
            Text::new(DESC_PX).draw(root, caption, (LEFT as i32, y as i32 - ph as i32 + 6))?;
            let plot = area.margin(CAPTION_H, 0, 0, 0);
            let mut chart = ctx.chart(root, &plot, i == 1, i == last)?;
            let rows = chart.plotting_area().get_pixel_range().1;
            match i {
                0 => {
                    ctx.band(root, &mut chart, &segments)?;
                    layout.band = rows;
                    layout.x_of = [0.0, d / 2.0, d]
                        .iter()
                        .map(|&t| (t, chart.backend_coord(&(t, 0.0)).0))
                        .collect();
                }
                1 => ctx.scores(&mut chart, &windows)?,
                _ => {
                    strip(root, &chart, d, thumbnails, std::mem::take(&mut thumbs))?;
                    layout.strip = rows;
                }
            }
        }
        draw_legend(root, &legend, &used, TITLE_H + plots_h + AXIS_H + 8, &ctx.colour)?;
        Ok(layout)
    })
}

/// What the plots share: the duration, time ticks, colour and name of a label.
struct Ctx<C: Fn(usize) -> RGBColor, N: Fn(usize) -> String> {
    d: f64,
    ticks: (Vec<f64>, f64),
    colour: C,
    name: N,
}

impl<C: Fn(usize) -> RGBColor, N: Fn(usize) -> String> Ctx<C, N> {
    /// A plot over the time axis in `area` of `root`: vertical grid lines at the time ticks,
    /// score ticks 0 to 1 if `scores`, the time axis' labels and description if `last`.
    fn chart<'a, 'b>(
        &self,
        root: &Area,
        area: &'a Area<'b>,
        scores: bool,
        last: bool,
    ) -> DrawResult<Chart<'a, 'b>> {
        let y_ticks = if scores { vec![0.0, 0.5, 1.0] } else { vec![] };
        let mut chart = ChartBuilder::on(area)
            .margin_left(0)
            .margin_right(RIGHT)
            .margin_bottom(2)
            .y_label_area_size(LEFT)
            .x_label_area_size(if last { AXIS_H } else { 0 })
            .build_cartesian_2d(
                ticked(0.0..self.d, self.ticks.0.clone()),
                ticked(0.0..1.0, y_ticks.clone()),
            )?;
        draw_mesh(&mut chart, true)?;
        let score_labels: Vec<(f64, String)> = y_ticks.iter().map(|&v| (v, tick_label(v, 0.5))).collect();
        tick_labels(root, &chart, Side::Left, &score_labels, Text::new(TICK_PX))?;
        if last {
            let (step, long) = (self.ticks.1, self.d >= 120.0);
            let time = |v: f64| if long { clock(v) } else { tick_label(v, step) };
            let labels: Vec<(f64, String)> = self.ticks.0.iter().map(|&v| (v, time(v))).collect();
            tick_labels(root, &chart, Side::Bottom, &labels, Text::new(TICK_PX))?;
            let cols = chart.plotting_area().get_pixel_range().0;
            let bottom = area.get_base_pixel().1 + area.dim_in_pixel().1 as i32 - 8;
            let desc = Text::new(DESC_PX).anchor(HPos::Center, VPos::Bottom);
            desc.draw(
                root,
                if long { "time (m:ss)" } else { "time (s)" },
                ((cols.start + cols.end) / 2, bottom),
            )?;
        }
        Ok(chart)
    }

    /// The segments as bars filling the band, named inside where the name fits.
    fn band(&self, root: &Area, chart: &mut Chart, segments: &[TimelineSegment]) -> DrawResult<()> {
        if segments.is_empty() {
            let style = Text::new(TICK_PX)
                .colour(MUTED)
                .anchor(HPos::Center, VPos::Center);
            return style.draw(root, "no segments", chart.backend_coord(&(self.d / 2.0, 0.5)));
        }
        let bars = segments.iter().map(|s| {
            let fill = (self.colour)(s.label).filled();
            let mut bar = Rectangle::new([(s.start_s, 0.0), (s.end_s, 1.0)], fill);
            bar.set_margin(0, 0, 0, 1);
            bar
        });
        chart.draw_series(bars)?;
        for s in segments {
            let (x0, x1) = (
                chart.backend_coord(&(s.start_s, 0.5)),
                chart.backend_coord(&(s.end_s, 0.5)),
            );
            let room = (x1.0 - x0.0 - 12).max(0) as u32;
            let full = match s.score {
                v if v.is_finite() => format!("{} {v:.2}", (self.name)(s.label)),
                _ => (self.name)(s.label),
            };
            let text = if text_width(&full, TICK_PX) <= room {
                full
            } else {
                fit_text(&(self.name)(s.label), TICK_PX, room)
            };
            if text.chars().count() < 4 {
                continue;
            }
            let colour = text_color_on((self.colour)(s.label));
            let style = Text::new(TICK_PX).colour(colour).anchor(HPos::Left, VPos::Center);
            style.draw(root, &text, (x0.0 + 6, x0.1))?;
        }
        Ok(())
    }

    /// Each window's top score as a bar at its centre, half the window wide.
    fn scores(&self, chart: &mut Chart, windows: &[TimelineWindow]) -> DrawResult<()> {
        let bars = windows.iter().filter(|w| w.score.is_finite()).map(|w| {
            let (c, q) = ((w.start_s + w.end_s) / 2.0, (w.end_s - w.start_s) / 4.0);
            let fill = (self.colour)(w.label).filled();
            Rectangle::new([(c - q, 0.0), (c + q, w.score.clamp(0.0, 1.0))], fill)
        });
        chart.draw_series(bars)?;
        Ok(())
    }
}

/// Ticks for a video of `d` seconds: round seconds below two minutes, else steps that read
/// well as m:ss (15 s, 30 s, 1 min, 2 min, 5 min, ...).
fn time_ticks(d: f64) -> (Vec<f64>, f64) {
    if d < 120.0 {
        return nice_ticks(0.0, d, 12, false);
    }
    const STEPS: [f64; 9] = [15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];
    let raw = d / 12.0;
    let step = STEPS
        .into_iter()
        .find(|&s| s >= raw)
        .unwrap_or((raw / 3600.0).ceil() * 3600.0);
    let ticks = (0..)
        .map(|k| k as f64 * step)
        .take_while(|&t| t <= d + 1e-9)
        .take(64)
        .collect();
    (ticks, step)
}

/// `t` seconds as m:ss, or h:mm:ss from an hour.
fn clock(t: f64) -> String {
    let s = t.round().max(0.0) as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// A thumbnail scaled to the strip: its size and RGB pixels.
type Scaled = ((u32, u32), Vec<u8>);

/// Checks `t` and scales it to [`THUMB_H`] pixels high (at most [`THUMB_MAX_W`] wide).
fn scaled(t: &Thumbnail) -> std::result::Result<Scaled, String> {
    if !t.time_s.is_finite() {
        return Err(format!("time {} s is not a number", t.time_s));
    }
    if t.width == 0 || t.height == 0 {
        return Err(format!("{}x{} pixels is empty", t.width, t.height));
    }
    let want = (t.width as usize)
        .checked_mul(t.height as usize)
        .and_then(|p| p.checked_mul(3));
    if want != Some(t.rgb.len()) {
        return Err(format!(
            "rgb has {} bytes, a {}x{} RGB picture has {}",
            t.rgb.len(),
            t.width,
            t.height,
            want.map_or("too many".into(), |b| b.to_string())
        ));
    }
    let scale = (f64::from(THUMB_H) / f64::from(t.height)).min(f64::from(THUMB_MAX_W) / f64::from(t.width));
    let size = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    let (w, h) = (size(t.width), size(t.height));
    Ok(((w, h), resize(t, w, h)))
}

/// `t` resized to `w x h`: each output pixel is the mean of the input pixels it covers
/// (at least the nearest one), so shrinking does not alias and growing repeats pixels.
fn resize(t: &Thumbnail, w: u32, h: u32) -> Vec<u8> {
    let span = |o: u32, out: u32, inp: u32| {
        let (a, b) = (
            o as usize * inp as usize / out as usize,
            (o as usize + 1) * inp as usize / out as usize,
        );
        a..b.max(a + 1).min(inp as usize)
    };
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for oy in 0..h {
        let rows = span(oy, h, t.height);
        for ox in 0..w {
            let cols = span(ox, w, t.width);
            let mut sum = [0u64; 3];
            for y in rows.clone() {
                let row =
                    &t.rgb[(y * t.width as usize + cols.start) * 3..(y * t.width as usize + cols.end) * 3];
                for p in row.chunks_exact(3) {
                    (0..3).for_each(|c| sum[c] += u64::from(p[c]));
                }
            }
            let n = (rows.len() * cols.len()) as u64;
            rgb.extend(sum.iter().map(|s| ((s + n / 2) / n) as u8));
        }
    }
    rgb
}

/// The thumbnails in the strip `chart`: each centred on its time (kept inside the strip) with
/// a thin frame, and a tick under it at the exact time.
fn strip(root: &Area, chart: &Chart, d: f64, thumbs: &[Thumbnail], images: Vec<Scaled>) -> DrawResult<()> {
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let top = rows.start + 4;
    for (t, ((w, h), rgb)) in thumbs.iter().zip(images) {
        let x = chart.backend_coord(&(t.time_s.clamp(0.0, d), 0.0)).0;
        let left = (x - w as i32 / 2).min(cols.end - w as i32).max(cols.start);
        let y = top + (THUMB_H - h) as i32 / 2;
        if let Some(img) = BitMapElement::with_owned_buffer((left, y), (w, h), rgb) {
            root.draw(&img)?;
        }
        let frame = [(left - 1, y - 1), (left + w as i32, y + h as i32)];
        root.draw(&Rectangle::new(frame, INK.mix(0.4)))?;
        root.draw(&PathElement::new(
            vec![(x, rows.end - 10), (x, rows.end - 1)],
            INK.stroke_width(2),
        ))?;
    }
    Ok(())
}

/// The legend's rows: indices into `names`, wrapped to the picture's width.
fn legend_rows(names: &[String]) -> Vec<Vec<(usize, String)>> {
    let mut rows: Vec<Vec<(usize, String)>> = vec![Vec::new()];
    let mut x = 0;
    for (i, name) in names.iter().enumerate() {
        let text = fit_text(name, TICK_PX, 300);
        let item = 16 + 6 + text_width(&text, TICK_PX) + 24;
        if x > 0 && x + item > W - LEFT - RIGHT {
            rows.push(Vec::new());
            x = 0;
        }
        x += item;
        if let Some(r) = rows.last_mut() {
            r.push((i, text));
        }
    }
    rows.retain(|r| !r.is_empty());
    rows
}

/// Draws the legend rows from `y`: a colour square and the name of each label.
fn draw_legend(
    root: &Area,
    rows: &[Vec<(usize, String)>],
    used: &[usize],
    y: u32,
    colour: &impl Fn(usize) -> RGBColor,
) -> DrawResult<()> {
    for (r, row) in rows.iter().enumerate() {
        let cy = (y + r as u32 * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        let mut x = LEFT as i32;
        for (i, text) in row {
            root.draw(&Rectangle::new(
                [(x, cy - 8), (x + 16, cy + 8)],
                colour(used[*i]).filled(),
            ))?;
            Text::new(TICK_PX)
                .anchor(HPos::Left, VPos::Center)
                .draw(root, text, (x + 22, cy))?;
            x += 22 + text_width(text, TICK_PX) as i32 + 24;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::{drawn, px};
    use crate::PlotError;

    fn solid(time_s: f64, (w, h): (u32, u32), c: [u8; 3]) -> Thumbnail {
        Thumbnail {
            time_s,
            width: w,
            height: h,
            rgb: c.repeat((w * h) as usize),
        }
    }

    fn seg(start_s: f64, end_s: f64, label: usize, score: f64) -> TimelineSegment {
        TimelineSegment {
            start_s,
            end_s,
            label,
            score,
        }
    }

    #[test]
    fn thumbnails_land_in_the_strip_at_their_times() {
        let classes: Vec<String> = ["walking the dog", "riding a bike", "juggling"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let segs = [
            seg(0.0, 4.0, 0, 0.91),
            seg(4.0, 7.5, 1, 0.78),
            seg(7.5, 10.0, 2, f64::NAN),
        ];
        let windows: Vec<TimelineWindow> = (0..9)
            .map(|k| {
                seg(
                    k as f64,
                    k as f64 + 2.0,
                    [0, 0, 0, 0, 1, 1, 1, 2, 2][k],
                    0.5 + 0.05 * k as f64,
                )
            })
            .collect();
        let red = [255, 0, 0];
        let green = [0, 255, 0];
        let thumbs = [solid(2.0, (64, 48), red), solid(9.0, (32, 24), green)];
        let args = Timeline {
            duration_s: 10.0,
            segments: &segs,
            windows: &windows,
            classes: &classes,
            thumbnails: &thumbs,
        };
        let (l, pic) = drawn("timeline.png", |path| draw_timeline(path, args));
        assert_eq!(pic.w, W);
        let where_is = |c: [u8; 3]| -> Vec<(i32, i32)> {
            (0..pic.h as i32)
                .flat_map(|y| (0..pic.w as i32).map(move |x| (x, y)))
                .filter(|&(x, y)| pic.at(x, y) == c)
                .collect()
        };
        let (reds, greens) = (where_is(red), where_is(green));
        // Scaled to the strip's height: 120x90 pixels, all inside the strip.
        assert_eq!(reds.len(), 120 * 90);
        assert_eq!(greens.len(), 120 * 90);
        assert!(reds.iter().chain(&greens).all(|p| l.strip.contains(&p.1)));
        assert!(l.band.end <= l.strip.start);
        // Centred on their times (2 s and 9 s).
        let x_of = |t: f64| {
            let (a, b) = (l.x_of[0], l.x_of[2]);
            a.1 as f64 + (t - a.0) / (b.0 - a.0) * (b.1 - a.1) as f64
        };
        let mean_x = |v: &[(i32, i32)]| v.iter().map(|p| p.0 as f64).sum::<f64>() / v.len() as f64;
        assert!(
            (mean_x(&reds) - x_of(2.0)).abs() < 2.0,
            "{} {}",
            mean_x(&reds),
            x_of(2.0)
        );
        assert!((mean_x(&greens) - x_of(9.0)).abs() < 2.0);
        // The band shows the segments' colours in order, with their names in them.
        let band_y = (l.band.start + l.band.end) / 2;
        for (t, k) in [(0.3, 0), (5.8, 1), (9.7, 2)] {
            assert_eq!(pic.at(x_of(t) as i32, band_y), px(palette(k)), "{t}");
        }
        let first = (x_of(0.0) as i32 + 4, x_of(3.0) as i32);
        let text = (first.0..first.1)
            .filter(|&x| pic.at(x, band_y) != px(palette(0)))
            .count();
        assert!(text > 10, "{text}");
        // The legend names the labels under the axis.
        assert!(pic.inked((0, pic.w as i32), (l.strip.end + 40, pic.h as i32)) > 500);
    }

    #[test]
    fn odd_input_still_gives_a_picture() {
        // Nothing at all: the band alone, saying so.
        let empty = Timeline {
            duration_s: 3.0,
            segments: &[],
            windows: &[],
            classes: &[],
            thumbnails: &[],
        };
        let (l, pic) = drawn("timeline-empty.png", |path| draw_timeline(path, empty));
        assert!(l.strip.is_empty());
        assert!(pic.inked((0, pic.w as i32), (l.band.start, l.band.end)) > 50);
        // Reversed, out-of-range and NaN times, labels without names, many short segments,
        // a tall thin and a wide flat thumbnail, a long video (m:ss axis).
        let mut segs: Vec<TimelineSegment> = (0..400)
            .map(|k| seg(k as f64 * 9.0, k as f64 * 9.0 + 9.0, k % 37, 0.5))
            .collect();
        segs.push(seg(50.0, 20.0, 999, 1.0));
        segs.push(seg(f64::NAN, 3.0, 1, 0.2));
        segs.push(seg(3500.0, 5000.0, 2, f64::INFINITY));
        let names = vec![
            "a name so long that it cannot possibly fit in the legend of this timeline, no way"
                .to_string();
            40
        ];
        let thumbs = [
            solid(-5.0, (1, 400), [9, 9, 9]),
            solid(1e9, (4000, 2), [200, 0, 200]),
        ];
        let windows = [seg(0.0, 10.0, 0, f64::NAN)];
        let (_, pic) = drawn("timeline-odd.png", |path| {
            timeline_png(path, 3600.0, &segs, &windows, &names, &thumbs)
        });
        assert!(pic.colours() > 30);
    }

    #[test]
    fn bad_input_is_an_input_error() {
        let path = Path::new("/nonexistent/t.png");
        let ok = [solid(1.0, (4, 3), [1, 2, 3])];
        for d in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = timeline_png(path, d, &[], &[], &[], &ok).unwrap_err();
            assert!(matches!(err, PlotError::Input { .. }), "{err}");
        }
        let mut short = solid(1.0, (4, 3), [1, 2, 3]);
        short.rgb.pop();
        let bad = [short, solid(1.0, (0, 3), [0; 3]), solid(f64::NAN, (4, 3), [0; 3])];
        for t in bad {
            let err = timeline_png(path, 5.0, &[], &[], &[], &[ok[0].clone(), t]).unwrap_err();
            assert!(matches!(err, PlotError::Input { .. }), "{err}");
            assert!(err.to_string().contains("thumbnail 1"), "{err}");
        }
        let err = timeline_png(path, 5.0, &[seg(0.0, 5.0, 0, 1.0)], &[], &[], &ok).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
    }

    #[test]
    fn resize_averages_when_shrinking_and_repeats_when_growing() {
        let t = Thumbnail {
            time_s: 0.0,
            width: 2,
            height: 1,
            rgb: vec![0, 0, 0, 200, 100, 50],
        };
        assert_eq!(resize(&t, 1, 1), vec![100, 50, 25]);
        assert_eq!(
            resize(&t, 4, 1),
            vec![0, 0, 0, 0, 0, 0, 200, 100, 50, 200, 100, 50]
        );
        assert_eq!(scaled(&solid(0.0, (640, 480), [7; 3])).unwrap().0, (120, 90));
        assert_eq!(scaled(&solid(0.0, (4000, 2), [7; 3])).unwrap().0, (320, 1));
    }
}
