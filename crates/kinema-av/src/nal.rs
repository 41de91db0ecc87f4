//! Which packets no other picture refers to (H.264 `nal_ref_idc == 0`, HEVC sub-layer
//! non-reference NAL types at the top temporal layer): a batch that does not ask for such a
//! frame need not decode it, and every other frame still decodes bit for bit the same. This is
//! what FFmpeg's `skip_frame=nonref` does, decided per packet here.

/// How NAL units are delimited in the stream's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// ISO/IEC 14496-15: each NAL preceded by its big-endian length of this many bytes.
    Length(usize),
    /// Annex B start codes.
    AnnexB,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NalCodec {
    H264,
    Hevc,
}

/// The NAL framing from the codec's extradata (`avcC` / `hvcC` start with version 1).
pub(crate) fn framing(codec: NalCodec, extradata: &[u8]) -> Framing {
    match codec {
        NalCodec::H264 if extradata.len() >= 7 && extradata[0] == 1 => {
            Framing::Length((extradata[4] & 3) as usize + 1)
        }
        NalCodec::Hevc if extradata.len() >= 23 && extradata[0] == 1 => {
            Framing::Length((extradata[21] & 3) as usize + 1)
        }
        _ => Framing::AnnexB,
    }
}

/// Calls `f` with each NAL unit's bytes (header first) until it returns false.
fn each_nal(data: &[u8], framing: Framing, mut f: impl FnMut(&[u8]) -> bool) {
    match framing {
        Framing::Length(n) => {
            let mut i = 0;
            while i + n <= data.len() {
                let len = data[i..i + n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
                i += n;
                if len == 0 || i + len > data.len() || !f(&data[i..i + len]) {
                    return;
                }
                i += len;
            }
        }
        Framing::AnnexB => {
            let mut starts = Vec::new();
            let mut i = 0;
            while i + 3 <= data.len() {
                if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                    starts.push(i + 3);
                    i += 3;
                } else {
                    i += 1;
                }
            }
            for (k, &s) in starts.iter().enumerate() {
                let end = starts.get(k + 1).map_or(data.len(), |&e| e - 3);
                if s < end && !f(&data[s..end]) {
                    return;
                }
            }
        }
    }
}

/// What one packet's slices say: `(has a slice, every slice is non-reference, top temporal id
/// seen)`. HEVC non-reference pictures are only droppable at the stream's highest temporal
/// layer (nothing above them can refer to them), which the caller checks with the returned id.
pub(crate) fn classify(codec: NalCodec, framing: Framing, data: &[u8]) -> (bool, bool, u8) {
    let (mut slice, mut nonref, mut tid) = (false, true, 0u8);
    each_nal(data, framing, |nal| {
        match codec {
            NalCodec::H264 => {
                let t = nal[0] & 0x1f;
                if t == 1 || t == 5 {
                    slice = true;
                    nonref &= t == 1 && (nal[0] >> 5) & 3 == 0;
                }
            }
            NalCodec::Hevc => {
                if nal.len() < 2 {
                    return true;
                }
                let t = (nal[0] >> 1) & 0x3f;
                if t < 32 {
                    slice = true;
                    nonref &= t <= 14 && t % 2 == 0;
                    tid = tid.max((nal[1] & 7).saturating_sub(1));
                }
            }
        }
        true
    });
    (slice, slice && nonref, tid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_prefixed(nals: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for n in nals {
            v.extend_from_slice(&(n.len() as u32).to_be_bytes());
            v.extend_from_slice(n);
        }
        v
    }

    #[test]
    fn h264_reference_flags() {
        let f = Framing::Length(4);
        // SEI (6) then a non-reference slice (nal_ref_idc 0, type 1).
        assert_eq!(
            classify(NalCodec::H264, f, &len_prefixed(&[&[0x06, 1, 2], &[0x01, 0x9a]])),
            (true, true, 0)
        );
        // Reference slice (nal_ref_idc 2).
        assert_eq!(
            classify(NalCodec::H264, f, &len_prefixed(&[&[0x41, 0x9a]])),
            (true, false, 0)
        );
        // IDR is always a reference.
        assert_eq!(
            classify(NalCodec::H264, f, &len_prefixed(&[&[0x05, 0x88]])),
            (true, false, 0)
        );
        // No slice at all.
        assert_eq!(
            classify(NalCodec::H264, f, &len_prefixed(&[&[0x09, 0x10]])),
            (false, false, 0)
        );
        // Annex B, two slices, one of them a reference: not droppable.
        let annexb = [0, 0, 0, 1, 0x01, 0x9a, 0, 0, 1, 0x21, 0x9a];
        assert_eq!(
            classify(NalCodec::H264, Framing::AnnexB, &annexb),
            (true, false, 0)
        );
        // Truncated length: parsing stops without panicking.
        assert_eq!(classify(NalCodec::H264, f, &[0, 0, 0, 9, 1]), (false, false, 0));
    }

    #[test]
    fn hevc_reference_types_and_layers() {
        let f = Framing::Length(4);
        // TRAIL_N (0), temporal id 0.
        assert_eq!(
            classify(NalCodec::Hevc, f, &len_prefixed(&[&[0x00, 0x01, 0xaf]])),
            (true, true, 0)
        );
        // TRAIL_R (1).
        assert_eq!(
            classify(NalCodec::Hevc, f, &len_prefixed(&[&[0x02, 0x01, 0xaf]])),
            (true, false, 0)
        );
        // RASL_N (8) at temporal id 2.
        assert_eq!(
            classify(NalCodec::Hevc, f, &len_prefixed(&[&[0x10, 0x03, 0xaf]])),
            (true, true, 2)
        );
        // CRA (21) is a reference.
        assert_eq!(
            classify(NalCodec::Hevc, f, &len_prefixed(&[&[0x2a, 0x01, 0xaf]])),
            (true, false, 0)
        );
    }

    #[test]
    fn framing_from_extradata() {
        assert_eq!(
            framing(NalCodec::H264, &[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0]),
            Framing::Length(4)
        );
        assert_eq!(framing(NalCodec::H264, &[0, 0, 0, 1, 0x67]), Framing::AnnexB);
        let mut hvcc = vec![0u8; 23];
        hvcc[0] = 1;
        hvcc[21] = 0x0f;
        assert_eq!(framing(NalCodec::Hevc, &hvcc), Framing::Length(4));
        assert_eq!(framing(NalCodec::Hevc, &[]), Framing::AnnexB);
    }
}
