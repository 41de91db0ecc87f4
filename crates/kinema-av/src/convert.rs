//! Colour conversion (and optional resize) to packed RGB24 in one libswscale pass, set up
//! exactly as the ffmpeg CLI sets it up for `-pix_fmt rgb24` (and `-vf scale=W:H`): a libavfilter
//! graph `buffer -> [scale] -> format=rgb24 -> buffersink` whose scalers get `flags=bicubic`
//! (the CLI's default; `Interpolation` picks another, e.g. decord's bilinear), so the bytes equal
//! the CLI's on the same FFmpeg. `fast_resize` scales in the source format first.

use std::ffi::CString;

use ffmpeg::{filter, format::Pixel, frame, Rational};
use ffmpeg_next as ffmpeg;

use crate::error::AvError;
use crate::options::ReaderOptions;

/// The input a graph was configured for; a frame that differs needs a new graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InputKey {
    pub width: u32,
    pub height: u32,
    pub format: Pixel,
}

impl InputKey {
    pub fn of(frame: &frame::Video) -> InputKey {
        InputKey {
            width: frame.width(),
            height: frame.height(),
            format: frame.format(),
        }
    }
}

/// How the display matrix turns a picture, as the ffmpeg CLI's autorotate (5.x) reads it:
/// `theta = -rotation` brought into [0, 360), then a quarter turn, a half turn (hflip + vflip)
/// or, for other angles, the `rotate` filter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Turn {
    /// Shown as stored.
    #[default]
    None,
    /// 90 degrees clockwise (`transpose=clock`).
    Clock,
    /// 180 degrees (`hflip,vflip`).
    Half,
    /// 90 degrees counter-clockwise (`transpose=cclock`).
    Cclock,
    /// Any other angle, degrees (`rotate`).
    Odd(f64),
}

impl Turn {
    /// From the display rotation (`av_display_rotation_get`'s degrees, `VideoInfo::rotation`).
    pub fn of(rotation: f64) -> Turn {
        if !rotation.is_finite() {
            return Turn::None;
        }
        let mut theta = -rotation;
        theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
        if (theta - 90.0).abs() < 1.0 {
            Turn::Clock
        } else if (theta - 180.0).abs() < 1.0 {
            Turn::Half
        } else if (theta - 270.0).abs() < 1.0 {
            Turn::Cclock
        } else if theta.abs() > 1.0 {
            Turn::Odd(theta)
        } else {
            Turn::None
        }
    }

    /// The filters the CLI inserts before its own, if any.
    fn filters(self) -> Option<String> {
        match self {
            Turn::None => None,
            Turn::Clock => Some("transpose=clock".into()),
            Turn::Half => Some("hflip,vflip".into()),
            Turn::Cclock => Some("transpose=cclock".into()),
            Turn::Odd(theta) => Some(format!("rotate={theta:.6}*PI/180")),
        }
    }
}

/// Requested output size. `None` keeps the native size; one side `None` keeps the aspect
/// ratio (the scale filter's `-1`). The size applies to the turned picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Target {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The display turn applied before the resize.
    pub turn: Turn,
    /// Resize in the source format, then convert (`ReaderOptions::fast_resize`).
    pub fast: bool,
    /// libswscale interpolation flag.
    pub flags: &'static str,
}

impl Target {
    pub fn of(o: &ReaderOptions) -> Target {
        Target {
            width: o.width,
            height: o.height,
            turn: Turn::None,
            fast: o.fast_resize,
            flags: o.interpolation.sws_name(),
        }
    }

    /// This target for a stream with display rotation `rotation`, turned when `autorotate`.
    pub fn turned(mut self, rotation: f64, autorotate: bool) -> Target {
        self.turn = if autorotate {
            Turn::of(rotation)
        } else {
            Turn::None
        };
        self
    }

    pub fn is_native(&self) -> bool {
        self.width.is_none() && self.height.is_none()
    }
}

/// The scaler flags of the ffmpeg CLI (5.x) for the conversions it inserts itself.
const CLI_SWS_FLAGS: &str = "bicubic";

pub(crate) struct Converter {
    graph: filter::Graph,
    input: InputKey,
    out_w: u32,
    out_h: u32,
    out: frame::Video,
}

// SAFETY: the graph is only used through &mut self; libavfilter graphs are not tied to a thread.
unsafe impl Send for Converter {}

impl Converter {
    pub fn new(input: InputKey, sar: Rational, target: Target) -> Result<Converter, String> {
        if input.format == Pixel::None || input.width == 0 || input.height == 0 {
            return Err(format!(
                "unknown input frame layout {}x{} {:?}",
                input.width, input.height, input.format
            ));
        }
        let mut graph = filter::Graph::new();
        let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
            sar
        } else {
            Rational::new(1, 1)
        };
        let pix: ffmpeg::ffi::AVPixelFormat = input.format.into();
        let args = format!(
            "video_size={}x{}:pix_fmt={}:time_base=1/1000:pixel_aspect={}/{}",
            input.width,
            input.height,
            pix as i32,
            sar.numerator(),
            sar.denominator()
        );
        let buffer = filter::find("buffer").ok_or("libavfilter has no buffer source")?;
        let sink = filter::find("buffersink").ok_or("libavfilter has no buffersink")?;
        graph
            .add(&buffer, "in", &args)
            .map_err(|e| format!("buffer source: {e}"))?;
        graph
            .add(&sink, "out", "")
            .map_err(|e| format!("buffer sink: {e}"))?;
        // SAFETY: the graph pointer is valid for the graph's lifetime; av_strdup's copy is owned
        // and freed by avfilter_graph_free. One thread keeps graph creation cheap.
        unsafe {
            let g = graph.as_mut_ptr();
            // Without a resize, the conversion is the CLI's own (its default scaler flags):
            // the interpolation only picks how to resize. Formats that swscale cannot convert
            // in one step (10-bit, 4:1:0, odd sizes) go through its scaler, where the flags
            // change the chroma upsampling.
            let flags = if target.is_native() {
                CLI_SWS_FLAGS
            } else {
                target.flags
            };
            let opts = CString::new(format!("flags={flags}")).expect("no NUL");
            (*g).scale_sws_opts = ffmpeg::ffi::av_strdup(opts.as_ptr());
            (*g).nb_threads = 1;
        }
        let resize = if target.is_native() {
            "format=rgb24".to_string()
        } else {
            let side = |v: Option<u32>| v.map(|x| x as i64).unwrap_or(-1);
            let (w, h) = (side(target.width), side(target.height));
            match input.format.descriptor().map(|d| d.name()) {
                // Scaling planar YUV takes libswscale's SIMD paths, and the YUV -> RGB24 step
                // after it its fast unscaled converter: ~3x cheaper than the one-pass scale
                // into packed RGB, at ~1 level of difference on average.
                Some(name) if target.fast => format!("scale={w}:{h},format={name},format=rgb24"),
                _ => format!("scale={w}:{h},format=rgb24"),
            }
        };
        // The turn comes first, as the CLI inserts it before the user's filters: the size asked
        // for is the turned picture's.
        let spec = match target.turn.filters() {
            Some(turn) => format!("{turn},{resize}"),
            None => resize,
        };
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&spec))
            .map_err(|e| format!("filter graph '{spec}': {e}"))?;
        graph
            .validate()
            .map_err(|e| format!("filter graph '{spec}': {e}"))?;
        let (out_w, out_h) = {
            let ctx = graph.get("out").ok_or("buffersink missing")?;
            // SAFETY: "out" is a configured buffersink context.
            unsafe {
                let p = ctx.as_ptr() as *mut ffmpeg::ffi::AVFilterContext;
                (
                    ffmpeg::ffi::av_buffersink_get_w(p) as u32,
                    ffmpeg::ffi::av_buffersink_get_h(p) as u32,
                )
            }
        };
        Ok(Converter {
            graph,
            input,
            out_w,
            out_h,
            out: frame::Video::empty(),
        })
    }

    pub fn input(&self) -> InputKey {
        self.input
    }

    pub fn out_size(&self) -> (u32, u32) {
        (self.out_w, self.out_h)
    }

    /// Converts `frame` into `dst` (exactly `out_h * out_w * 3` bytes, rows packed).
    pub fn convert_into(&mut self, frame: &frame::Video, dst: &mut [u8]) -> Result<(), String> {
        let row = self.out_w as usize * 3;
        if dst.len() != row * self.out_h as usize {
            return Err(format!(
                "output buffer of {} bytes for {}x{} RGB",
                dst.len(),
                self.out_w,
                self.out_h
            ));
        }
        {
            let mut src = self.graph.get("in").ok_or("buffer source missing")?;
            // SAFETY: `frame` is a valid decoded frame; av_buffersrc_write_frame takes a new
            // reference and leaves the caller's frame untouched (it may live in the cache).
            let r = unsafe { ffmpeg::ffi::av_buffersrc_write_frame(src.as_mut_ptr(), frame.as_ptr()) };
            if r < 0 {
                return Err(format!("buffer source: {}", ffmpeg::Error::from(r)));
            }
        }
        let mut sink = self.graph.get("out").ok_or("buffersink missing")?;
        sink.sink()
            .frame(&mut self.out)
            .map_err(|e| format!("buffersink: {e}"))?;
        let (w, h) = (self.out.width(), self.out.height());
        if (w, h) != (self.out_w, self.out_h) {
            return Err(format!(
                "converted frame is {w}x{h}, expected {}x{}",
                self.out_w, self.out_h
            ));
        }
        let stride = self.out.stride(0);
        let data = self.out.data(0);
        for (y, out_row) in dst.chunks_exact_mut(row).enumerate() {
            out_row.copy_from_slice(&data[y * stride..y * stride + row]);
        }
        // SAFETY: drops our reference to the converted frame's buffers.
        unsafe { ffmpeg::ffi::av_frame_unref(self.out.as_mut_ptr()) };
        Ok(())
    }
}

/// Why a frame could not be converted.
#[derive(Debug)]
pub(crate) enum ConvertError {
    /// The frame's size differs from the stream's and no output size was fixed.
    SizeChanged {
        width: u32,
        height: u32,
        want: (u32, u32),
    },
    Failed(String),
}

impl ConvertError {
    pub fn into_av(self, path: &std::path::Path) -> AvError {
        match self {
            ConvertError::SizeChanged { width, height, want } => AvError::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "a frame is {width}x{height} where the others are {}x{} (open with a fixed width and height)",
                    want.0, want.1
                ),
            },
            ConvertError::Failed(reason) => AvError::Convert { path: path.to_path_buf(), reason },
        }
    }
}

/// Frames of one source to RGB24 of one fixed output size; rebuilds its graph when the input
/// layout changes and refuses frames that would come out at another size.
pub(crate) struct RgbOutput {
    conv: Converter,
    sar: Rational,
    target: Target,
}

impl RgbOutput {
    pub fn new(input: InputKey, sar: Rational, target: Target) -> Result<RgbOutput, String> {
        Ok(RgbOutput {
            conv: Converter::new(input, sar, target)?,
            sar,
            target,
        })
    }

    /// `(width, height)` of every converted frame.
    pub fn size(&self) -> (u32, u32) {
        self.conv.out_size()
    }

    pub fn convert(&mut self, frame: &frame::Video, dst: &mut [u8]) -> Result<(), ConvertError> {
        let key = InputKey::of(frame);
        if key != self.conv.input() {
            let c = Converter::new(key, self.sar, self.target).map_err(ConvertError::Failed)?;
            if c.out_size() != self.conv.out_size() {
                return Err(ConvertError::SizeChanged {
                    width: key.width,
                    height: key.height,
                    want: self.size(),
                });
            }
            self.conv = c;
        }
        self.conv.convert_into(frame, dst).map_err(ConvertError::Failed)
    }
}

/// Bytes a decoded frame of this layout holds (for cache accounting).
pub(crate) fn frame_bytes(frame: &frame::Video) -> usize {
    let pix: ffmpeg::ffi::AVPixelFormat = frame.format().into();
    let (width, height) = (frame.width() as i32, frame.height() as i32);
    // SAFETY: pure computation on integers.
    let n = unsafe { ffmpeg::ffi::av_image_get_buffer_size(pix, width, height, 1) };
    n.max(0) as usize + 256
}
