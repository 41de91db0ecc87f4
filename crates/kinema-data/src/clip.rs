//! [`ClipSpec`]: how clips are cut from a video and fed to a model, with GluonCV's names and
//! defaults — the one definition that the dataset options, the training config's `[data]`
//! section, a model's card, the CLI's flags and Python's keyword arguments all take.
//!
//! The fields are listed once, in the `clip_spec!` invocation below: it defines the struct,
//! its defaults, [`ClipOverrides`] (every field optional: what a user sets on top of a spec,
//! parsed from TOML, JSON, command-line flags or keyword arguments) and the field names.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// ImageNet's channel means (GluonCV's default normalization).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Defines [`ClipSpec`] and [`ClipOverrides`] from one list of fields: doc, name, type,
/// default, and the extra `clap` settings of its flag.
macro_rules! clip_spec {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty = $default:expr, [$($arg:tt)*];)*) => {
        /// How clips are cut from a video and fed to a model (GluonCV's `VideoClsCustom` and
        /// `train_recognizer.py` names and defaults). Deserializing fills what is missing
        /// with the defaults and takes `input_size` for a square crop (the training config's
        /// and GluonCV's scripts' name).
        #[derive(Debug, Clone, PartialEq)]
        pub struct ClipSpec {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for ClipSpec {
            fn default() -> Self {
                ClipSpec { $($field: $default,)* }
            }
        }

        /// The fields of a [`ClipSpec`] a user sets, each optional: command-line flags
        /// (`--new-length 32 --slowfast`), Python keyword arguments, a TOML or JSON table.
        /// `input_size` sets both crop sides.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "clap", derive(clap::Args))]
        #[serde(default)]
        pub struct ClipOverrides {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                #[cfg_attr(feature = "clap", arg(long $($arg)*))]
                pub $field: Option<$ty>,
            )*
            /// Square crop side: sets `target_width` and `target_height`.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[cfg_attr(feature = "clap", arg(long))]
            pub input_size: Option<u32>,
        }

        impl ClipOverrides {
            /// `spec` with every field set here replaced.
            pub fn apply(&self, spec: &mut ClipSpec) {
                if let Some(s) = self.input_size {
                    spec.target_width = s;
                    spec.target_height = s;
                }
                $(if let Some(v) = &self.$field {
                    spec.$field = v.clone();
                })*
            }
        }

        impl ClipSpec {
            /// Every field set (and `input_size` where the crop is square): what the spec
            /// serializes as, so that readers that know only `input_size` read it too.
            pub fn overrides(&self) -> ClipOverrides {
                ClipOverrides {
                    $($field: Some(self.$field.clone()),)*
                    input_size: self.input_size(),
                }
            }

            /// The names of the fields (and `input_size`), as keys and keyword arguments.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field),)* "input_size"];
        }
    };
}

clip_spec! {
    /// Segments the video is divided into (TSN); in test mode, the temporal views.
    num_segments: usize = 1, [];
    /// Frames per segment.
    new_length: usize = 1, [];
    /// Stride between those frames.
    new_step: usize = 1, [];
    /// Width frames are resized to when decoded (0 keeps the native size).
    new_width: u32 = 340, [];
    /// Height frames are resized to when decoded.
    new_height: u32 = 256, [];
    /// Width of the network input (crop).
    target_width: u32 = 224, [];
    /// Height of the network input.
    target_height: u32 = 224, [];
    /// Random extra offset `0..new_step` per frame (training).
    temporal_jitter: bool = false, [, num_args = 0..=1, require_equals = true, default_missing_value = "true"];
    /// SlowFast layout: fast frames then slow frames along T.
    slowfast: bool = false, [, num_args = 0..=1, require_equals = true, default_missing_value = "true"];
    /// Slow pathway stride (SlowFast).
    slow_temporal_stride: usize = 16, [];
    /// Fast pathway stride (SlowFast).
    fast_temporal_stride: usize = 2, [];
    /// Channel means (`R,G,B`).
    mean: [f32; 3] = IMAGENET_MEAN, [, value_parser = parse_triple];
    /// Channel standard deviations (`R,G,B`).
    std: [f32; 3] = IMAGENET_STD, [, value_parser = parse_triple];
}

impl Serialize for ClipSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.overrides().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ClipSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut spec = ClipSpec::default();
        ClipOverrides::deserialize(d)?.apply(&mut spec);
        Ok(spec)
    }
}

impl ClipSpec {
    /// The square crop side, when the crop is square.
    pub fn input_size(&self) -> Option<u32> {
        (self.target_width == self.target_height).then_some(self.target_width)
    }
}

/// `R,G,B` as three numbers.
pub fn parse_triple(s: &str) -> std::result::Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>().map_err(|e| format!("{x:?}: {e}")))
        .collect::<std::result::Result<_, _>>()?;
    v.try_into()
        .map_err(|v: Vec<f32>| format!("expected three comma-separated numbers, got {}", v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_the_defaults_and_input_size_sets_both_sides() {
        let s: ClipSpec = serde_json::from_str(r#"{"new_length": 32, "input_size": 112}"#).unwrap();
        assert_eq!(s.new_length, 32);
        assert_eq!((s.target_width, s.target_height), (112, 112));
        assert_eq!(s.new_width, 340);
        assert_eq!(s.mean, IMAGENET_MEAN);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["input_size"], 112, "{json}");
        assert_eq!(serde_json::from_value::<ClipSpec>(json).unwrap(), s);
        let wide = ClipSpec {
            target_width: 160,
            ..s.clone()
        };
        let json = serde_json::to_value(&wide).unwrap();
        assert!(json.get("input_size").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<ClipSpec>(json).unwrap(), wide);
        assert_eq!(ClipSpec::default().input_size(), Some(224));
        assert!(ClipSpec::FIELDS.contains(&"slowfast") && ClipSpec::FIELDS.contains(&"input_size"));
    }

    #[test]
    fn overrides_apply_only_what_is_set() {
        let mut s = ClipSpec::default();
        ClipOverrides {
            slowfast: Some(true),
            new_step: Some(4),
            ..Default::default()
        }
        .apply(&mut s);
        assert!(s.slowfast);
        assert_eq!(s.new_step, 4);
        assert_eq!(s.num_segments, 1);
        assert_eq!(parse_triple("0.5, 0.25,1").unwrap(), [0.5, 0.25, 1.0]);
        assert!(parse_triple("1,2").unwrap_err().contains("three"));
        assert!(parse_triple("1,x,2").is_err());
    }
}
