//! The newest PTX ISA version a CUDA driver loads.

use core::fmt;
use std::ffi::CString;

/// A PTX ISA version written as LLVM's NVPTX target feature writes it: 8.7 is `87`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PtxVersion(u32);

impl PtxVersion {
    /// The newest PTX version a driver loads, from the driver's version as
    /// `cuDriverGetVersion` reports it (CUDA 12.8 is `12080`); `None` before CUDA 10.0.
    pub fn for_driver(driver: i32) -> Option<Self> {
        FIRST_DRIVER
            .iter()
            .find(|&&(first, _)| driver >= first)
            .map(|&(_, ptx)| Self(ptx))
    }

    /// The NVPTX target feature naming this version (`+ptx87`).
    pub fn target_feature(self) -> CString {
        CString::new(format!("+{self}")).unwrap_or_default()
    }
}

impl fmt::Display for PtxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ptx{}", self.0)
    }
}

/// For each PTX version, the first CUDA release whose driver loads it, newest first (NVIDIA's PTX
/// ISA release notes).
const FIRST_DRIVER: &[(i32, u32)] = &[
    (13030, 93),
    (13020, 92),
    (13010, 91),
    (13000, 90),
    (12090, 88),
    (12080, 87),
    (12050, 85),
    (12040, 84),
    (12030, 83),
    (12020, 82),
    (12010, 81),
    (12000, 80),
    (11080, 78),
    (11070, 77),
    (11060, 76),
    (11050, 75),
    (11040, 74),
    (11030, 73),
    (11020, 72),
    (11010, 71),
    (11000, 70),
    (10020, 65),
    (10010, 64),
    (10000, 63),
];

#[cfg(test)]
mod tests {
    use super::PtxVersion;

    #[test]
    fn a_driver_gets_the_newest_version_it_loads() {
        assert_eq!(PtxVersion::for_driver(12080), Some(PtxVersion(87)));
        assert_eq!(PtxVersion::for_driver(12060), Some(PtxVersion(85)));
        assert_eq!(PtxVersion::for_driver(9020), None);
        assert_eq!(PtxVersion(87).target_feature().as_c_str(), c"+ptx87");
    }
}
