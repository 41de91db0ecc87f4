//! What the pictures share: the embedded font and text drawing, colours, axes and their
//! labels, and rendering into memory followed by an atomic PNG write.

use std::error::Error;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef, Glyph, PxScale, ScaleFont as _};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::{PlotError, Result};

/// DejaVu Sans (licence: assets/LICENSE-DejaVu.txt).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The largest picture side drawn, in pixels.
pub(crate) const MAX_SIDE: u32 = 8192;

/// Near-black for text and axes.
pub(crate) const INK: RGBColor = RGBColor(33, 33, 33);
/// Grey for secondary text ("no data").
pub(crate) const MUTED: RGBColor = RGBColor(110, 110, 110);
/// Light grey for grid lines and frames.
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);

/// Text sizes (pixels from the font's ascent to its descent): titles, panel captions, axis
/// descriptions, tick labels and legends.
pub(crate) const TITLE_PX: u32 = 24;
pub(crate) const CAPTION_PX: u32 = 19;
pub(crate) const DESC_PX: u32 = 17;
pub(crate) const TICK_PX: u32 = 15;
/// Height of the title row at the top of every picture.
pub(crate) const TITLE_H: u32 = 50;
/// Gap between a plot's edge and its tick labels (plotters' tick marks are 5 pixels long).
pub(crate) const TICK_GAP: i32 = 9;

/// What drawing code returns: plotters' errors (and any other) become [`PlotError::Draw`].
pub(crate) type DrawResult<T> = std::result::Result<T, Box<dyn Error>>;

/// The drawing area of a picture being rendered.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// The embedded font, parsed once (None if it does not parse).
fn face() -> Option<&'static FontRef<'static>> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Registers the embedded font with plotters as its default family ("sans-serif", which the
/// axes it draws measure their labels with) once per process; false if the font did not load.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, FONT_BYTES).is_ok() && face().is_some()
    })
}

/// The glyphs of `text` at `size` laid out on a baseline at the font's ascent (the top of
/// the text at y = 0), with kerning, and the text's advance width.
fn layout(text: &str, size: u32) -> (Vec<Glyph>, f32) {
    let Some(face) = face() else {
        return (Vec::new(), (text.chars().count() * size as usize) as f32 * 0.55);
    };
    let font = face.as_scaled(PxScale::from(size as f32));
    let (mut caret, mut prev) = (0.0f32, None);
    let mut glyphs = Vec::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            caret += font.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(size as f32, ab_glyph::point(caret, font.ascent())));
        caret += font.h_advance(id);
        prev = Some(id);
    }
    (glyphs, caret)
}

/// Width of `text` in pixels at `size`.
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    layout(text, size).1.ceil() as u32
}

/// `text`, shortened with `…` so that it is at most `max_px` wide at `size` ("" if not even
/// `…` fits). Control characters are left out.
pub(crate) fn fit_text(text: &str, size: u32, max_px: u32) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if text_width(&clean, size) <= max_px {
        return clean;
    }
    let chars: Vec<char> = clean.chars().collect();
    // Longest prefix that fits with the ellipsis: widths grow with the prefix, so bisect.
    let with_ellipsis = |k: usize| chars[..k].iter().collect::<String>().trim_end().to_string() + "…";
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text_width(&with_ellipsis(mid), size) <= max_px {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let out = with_ellipsis(lo);
    if text_width(&out, size) <= max_px {
        out
    } else {
        String::new()
    }
}

/// How a text is drawn: its size, colour, which of its points the position names, and
/// whether it reads left to right or bottom to top.
#[derive(Clone, Copy)]
pub(crate) struct Text {
    size: u32,
    colour: RGBColor,
    h: HPos,
    v: VPos,
    up: bool,
}

impl Text {
    /// Ink-coloured text of `size` pixels, positioned by its top left corner.
    pub(crate) fn new(size: u32) -> Text {
        Text {
            size,
            colour: INK,
            h: HPos::Left,
            v: VPos::Top,
            up: false,
        }
    }

    /// In `colour`.
    pub(crate) fn colour(self, colour: RGBColor) -> Text {
        Text { colour, ..self }
    }

    /// Positioned by the point `(h, v)` of the text (in its own reading direction).
    pub(crate) fn anchor(self, h: HPos, v: VPos) -> Text {
        Text { h, v, ..self }
    }

    /// Reading bottom to top (turned a quarter left).
    pub(crate) fn upwards(self) -> Text {
        Text { up: true, ..self }
    }

    /// Draws `text` with its anchor at `at`, in picture (backend) pixels, blending the
    /// glyphs' coverage into what is there.
    pub(crate) fn draw(&self, area: &Area, text: &str, at: (i32, i32)) -> DrawResult<()> {
        let Some(face) = face() else {
            return Err("the embedded font did not load".into());
        };
        let (glyphs, width) = layout(text, self.size);
        let font = face.as_scaled(PxScale::from(self.size as f32));
        let dx = match self.h {
            HPos::Left => 0.0,
            HPos::Center => width / 2.0,
            HPos::Right => width,
        };
        let height = font.ascent() - font.descent();
        let dy = match self.v {
            VPos::Top => 0.0,
            VPos::Center => height / 2.0,
            VPos::Bottom => height,
        };
        // Whole-pixel offsets: rounding each pixel's own half-pixel position would skip a row.
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let base = area.get_base_pixel();
        let mut pixels = Vec::new();
        for g in glyphs {
            if let Some(outline) = face.outline_glyph(g) {
                let b = outline.px_bounds();
                outline.draw(|x, y, c| {
                    let lx = b.min.x as i32 + x as i32 - dx;
                    let ly = b.min.y as i32 + y as i32 - dy;
                    let (px, py) = if self.up {
                        (at.0 + ly, at.1 - lx)
                    } else {
                        (at.0 + lx, at.1 + ly)
                    };
                    pixels.push(((px - base.0, py - base.1), c.min(1.0)));
                });
            }
        }
        for (p, c) in pixels.into_iter().filter(|p| p.1 > 0.02) {
            area.draw_pixel(p, &self.colour.mix(f64::from(c)))?;
        }
        Ok(())
    }
}

/// Colour number `k`: the ten Tableau colours, then hues spread by the golden angle.
pub(crate) fn palette(k: usize) -> RGBColor {
    const TAB10: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    if let Some(c) = TAB10.get(k) {
        return *c;
    }
    let hue = (k as f64 * 0.618_033_988_75).fract();
    let light = [0.42, 0.55, 0.35][k % 3];
    let (r, g, b) = HSLColor(hue, 0.62, light).rgb();
    RGBColor(r, g, b)
}

/// Black or white, whichever reads better on `bg`.
pub(crate) fn text_color_on(bg: RGBColor) -> RGBColor {
    let luma = 0.299 * f64::from(bg.0) + 0.587 * f64::from(bg.1) + 0.114 * f64::from(bg.2);
    if luma > 150.0 {
        INK
    } else {
        WHITE
    }
}

/// Draws `text` centred in the top `row_h` pixels of `root` (shortened to fit).
pub(crate) fn draw_title(root: &Area, text: &str, row_h: u32) -> DrawResult<()> {
    let (w, _) = root.dim_in_pixel();
    let text = fit_text(text, TITLE_PX, w.saturating_sub(40));
    let style = Text::new(TITLE_PX).anchor(HPos::Center, VPos::Center);
    style.draw(root, &text, (w as i32 / 2, row_h as i32 / 2))
}

/// Width `text` needs as a title, margins included.
pub(crate) fn title_width(text: &str) -> u32 {
    text_width(text, TITLE_PX) + 40
}

/// Tick positions for an axis over `lo..=hi`: at most about `max_ticks` multiples of a round
/// step (1, 2 or 5 times a power of ten; whole numbers only if `whole`), and that step.
pub(crate) fn nice_ticks(lo: f64, hi: f64, max_ticks: usize, whole: bool) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return (vec![lo], 1.0);
    }
    let raw = span / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    if whole {
        step = step.max(1.0).round();
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let ticks = (first..=last).take(64).map(|k| k as f64 * step).collect();
    (ticks, step)
}

/// A tick label for `v` on an axis whose ticks are `step` apart: as many decimals as the
/// step needs, or scientific notation on an axis of very large or very small steps (so all
/// labels of an axis are written alike).
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 || v.abs() < step * 1e-6 {
        return "0".into();
    }
    if !(1e-3..1e6).contains(&step) {
        return format!("{v:.1e}");
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil().clamp(0.0, 8.0) as usize
    };
    format!("{v:.decimals$}")
}

/// A linear f64 axis with the ticks given (plotters' own `with_key_points` has no label
/// formatter for f64 axes).
pub(crate) struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

/// The axis over `range` with tick marks (and grid lines) at `ticks`.
pub(crate) fn ticked(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
    Ticked {
        linear: range.into(),
        ticks,
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// A chart over two [`Ticked`] axes.
pub(crate) type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// Draws the chart's axes and tick marks, and grid lines at the ticks if `grid`. The tick
/// labels are left to [`tick_labels`].
pub(crate) fn draw_mesh(chart: &mut Chart, grid: bool) -> DrawResult<()> {
    let blank = |_: &f64| String::new();
    let mut mesh = chart.configure_mesh();
    mesh.axis_style(INK.mix(0.5))
        .bold_line_style(GRID)
        .x_label_formatter(&blank)
        .y_label_formatter(&blank);
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    Ok(())
}

/// A side of a chart's plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Bottom,
    Left,
    Right,
}

/// Writes `labels` (value, text) beside the plot of `chart` on `side` at `size`; bottom
/// labels read upwards (ending at the axis) if `up`.
pub(crate) fn tick_labels(
    area: &Area,
    chart: &Chart,
    side: Side,
    labels: &[(f64, String)],
    style: Text,
) -> DrawResult<()> {
    let (cols, rows) = chart.plotting_area().get_pixel_range();
    let style = match (side, style.up) {
        (Side::Bottom, false) => style.anchor(HPos::Center, VPos::Top),
        (Side::Bottom, true) | (Side::Left, _) => style.anchor(HPos::Right, VPos::Center),
        (Side::Right, _) => style.anchor(HPos::Left, VPos::Center),
    };
    for (v, text) in labels {
        let at = match side {
            Side::Bottom => (chart.backend_coord(&(*v, 0.0)).0, rows.end + TICK_GAP),
            Side::Left => (cols.start - TICK_GAP, chart.backend_coord(&(0.0, *v)).1),
            Side::Right => (cols.end + TICK_GAP, chart.backend_coord(&(0.0, *v)).1),
        };
        style.draw(area, text, at)?;
    }
    Ok(())
}

/// Renders a `size` picture with `draw` on a white background, encodes it as PNG and writes
/// it to `path` atomically. Returns what `draw` returns.
pub(crate) fn render<T>(
    path: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(&Area) -> DrawResult<T>,
) -> Result<T> {
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(input(
            path,
            format!("a picture of {w}x{h} pixels is too large to draw"),
        ));
    }
    let draw_err = |e: Box<dyn Error>| PlotError::Draw {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if !font_ready() {
        return Err(draw_err("the embedded font did not load".into()));
    }
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    let out = {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        let out = draw(&root).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(e.into()))?;
        out
    };
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let encode_err = |source| PlotError::Encode {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = enc.write_header().map_err(encode_err)?;
        writer.write_image_data(&rgb).map_err(encode_err)?;
        writer.finish().map_err(encode_err)?;
    }
    write_atomic(path, &bytes)?;
    Ok(out)
}

/// An [`PlotError::Input`] for `path`.
pub(crate) fn input(path: &Path, reason: impl Into<String>) -> PlotError {
    PlotError::Input {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| input(path, "not a file name"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let io_err = |p: &Path, source| PlotError::Io {
        path: p.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A decoded RGB picture.
    pub(crate) struct Picture {
        pub w: u32,
        pub h: u32,
        pub rgb: Vec<u8>,
    }

    impl Picture {
        /// Decodes the PNG at `path` (8-bit RGB, as [`render`] writes it).
        pub(crate) fn read(path: &Path) -> Picture {
            let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
            let mut reader = dec.read_info().unwrap();
            let mut rgb = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut rgb).unwrap();
            assert_eq!(info.color_type, png::ColorType::Rgb);
            rgb.truncate(info.buffer_size());
            Picture {
                w: info.width,
                h: info.height,
                rgb,
            }
        }

        /// The pixel at `(x, y)`.
        pub(crate) fn at(&self, x: i32, y: i32) -> [u8; 3] {
            let i = (y as usize * self.w as usize + x as usize) * 3;
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        }

        /// Pixels in `x0..x1, y0..y1` that are not white.
        pub(crate) fn inked(&self, (x0, x1): (i32, i32), (y0, y1): (i32, i32)) -> usize {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| self.at(x, y) != [255; 3])
                .count()
        }

        /// Number of distinct colours.
        pub(crate) fn colours(&self) -> usize {
            let mut c: Vec<&[u8]> = self.rgb.chunks(3).collect();
            c.sort_unstable();
            c.dedup();
            c.len()
        }
    }

    /// Runs `draw` on the path `name` in a fresh temporary folder and reads the picture back.
    /// When `KINEMA_PLOT_SAMPLES` names a folder, the picture is copied there to look at.
    pub(crate) fn drawn<T>(name: &str, draw: impl FnOnce(&Path) -> Result<T>) -> (T, Picture) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let out = draw(&path).unwrap();
        if let Some(samples) = std::env::var_os("KINEMA_PLOT_SAMPLES") {
            let samples = Path::new(&samples);
            std::fs::create_dir_all(samples).unwrap();
            std::fs::copy(&path, samples.join(name)).unwrap();
        }
        (out, Picture::read(&path))
    }

    /// `c` as the bytes of a pixel.
    pub(crate) fn px(c: RGBColor) -> [u8; 3] {
        [c.0, c.1, c.2]
    }

    #[test]
    fn ticks_are_round_and_labels_have_the_decimals_the_step_needs() {
        let (t, step) = nice_ticks(0.0, 1.0, 5, false);
        assert_eq!(step, 0.2);
        assert_eq!(t.len(), 6);
        assert_eq!(tick_label(t[1], step), "0.2");
        let (t, step) = nice_ticks(0.5, 1.5, 8, true);
        assert_eq!((t, step), (vec![1.0], 1.0));
        assert_eq!(tick_label(0.05, 0.05), "0.05");
        assert_eq!(tick_label(120.0, 20.0), "120");
        assert_eq!(tick_label(3e7, 1e7), "3.0e7");
        assert_eq!(tick_label(1e-4, 2e-5), "1.0e-4");
        assert_eq!(tick_label(8e-5, 2e-5), "8.0e-5");
        assert_eq!(tick_label(0.002, 0.001), "0.002");
        let (t, _) = nice_ticks(1.0, 1.0, 5, false);
        assert_eq!(t, vec![1.0]);
    }

    #[test]
    fn long_text_is_shortened_to_fit() {
        let long = "a very long class name that goes on and on and on";
        let short = fit_text(long, 14, 120);
        assert!(short.ends_with('…'), "{short}");
        assert!(text_width(&short, 14) <= 120);
        assert!(text_width(long, 14) > 120);
        assert_eq!(fit_text("abc", 14, 200), "abc");
        assert_eq!(fit_text(long, 14, 2), "");
    }

    #[test]
    fn text_is_drawn_whole_where_it_is_anchored_and_turned() {
        let ((), pic) = drawn("text.png", |path| {
            render(path, (120, 120), |root| {
                // 15 pixels: the anchor's offset is a half pixel (7.5), where rounding once
                // skipped a row.
                Text::new(15)
                    .anchor(HPos::Center, VPos::Center)
                    .draw(root, "I", (30, 60))?;
                Text::new(40)
                    .upwards()
                    .anchor(HPos::Left, VPos::Top)
                    .draw(root, "I", (80, 110))
            })
        });
        let dark = |x: i32, y: i32| pic.at(x, y).iter().map(|&c| u32::from(c)).sum::<u32>() < 300;
        // "I" is an upright bar: every row from its top to its bottom is inked (none skipped),
        // about 9 pixels (the cap height at 15), centred on y = 60, left of x = 60.
        let rows: Vec<i32> = (0..120).filter(|&y| (0..60).any(|x| dark(x, y))).collect();
        assert!(rows.windows(2).all(|w| w[1] == w[0] + 1), "{rows:?}");
        assert!((8..12).contains(&rows.len()), "{rows:?}");
        assert!(((rows[0] + rows[rows.len() - 1]) / 2 - 60).abs() <= 2, "{rows:?}");
        let cols: Vec<i32> = (0..60).filter(|&x| (0..120).any(|y| dark(x, y))).collect();
        assert!(((cols[0] + cols[cols.len() - 1]) / 2 - 30).abs() <= 2, "{cols:?}");
        // Turned upwards, the bar lies flat, right of x = 80 and above y = 110, reading up
        // from the anchor: its top (now its left side) at the anchor's x.
        let turned: Vec<(i32, i32)> = (60..120)
            .flat_map(|x| (0..120).map(move |y| (x, y)))
            .filter(|&(x, y)| dark(x, y))
            .collect();
        assert!(turned.iter().all(|&(x, y)| x >= 80 && y <= 110), "{turned:?}");
        let (xs, ys) = (turned.iter().map(|p| p.0), turned.iter().map(|p| p.1));
        let (w, h) = (
            xs.clone().max().unwrap() - xs.min().unwrap(),
            ys.clone().max().unwrap() - ys.min().unwrap(),
        );
        assert!(w > 20 && h < 10, "{w} {h}");
    }

    #[test]
    fn palette_colours_differ() {
        let mut c: Vec<[u8; 3]> = (0..40).map(|k| px(palette(k))).collect();
        c.sort_unstable();
        c.dedup();
        assert_eq!(c.len(), 40);
    }

    #[test]
    fn unwritable_path_is_an_io_error_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("x.png");
        let err = render(&path, (10, 10), |_| Ok(())).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing-folder"), "{err}");
        // A folder where the file should be: the rename fails, the temporary file goes.
        let path = dir.path().join("taken.png");
        std::fs::create_dir(&path).unwrap();
        let err = render(&path, (10, 10), |_| Ok(())).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = render(Path::new("/"), (10, 10), |_| Ok(())).unwrap_err();
        assert!(matches!(err, PlotError::Input { .. }), "{err}");
    }
}
