//! The sequential pass (`VideoReader::frames`, and `next_frame` going forward from frame 0):
//! one forward decode, no cache, no seeks, on a decoder thread that runs a few frames ahead of
//! the caller.

use std::sync::Arc;

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

use super::{no_picture, FileReader, SEQ_AHEAD};
use crate::decoder::share;
use crate::error::{AvError, Result};

impl FileReader {
    /// A sequential pass: a decoder thread runs ahead of the caller (a few frames, bounded),
    /// so decoding goes on while the caller converts, instead of the decoder's frame threads
    /// waiting for their next packet. The first frame is decoded here: it confirms the layout,
    /// so `width`/`height` are final when the caller sizes its buffers.
    pub fn sequential(&mut self) -> Result<SeqState> {
        let mut cursor = self.new_cursor(self.opts.num_threads)?;
        let f0 = self.index.frames[0];
        cursor.seek(&self.packets, f0.start_pkt, f0.pts, f0.start_pkt);
        let first = cursor.next_frame(&self.packets, &self.index);
        let pending = match first {
            Some(i) => {
                let f = share(cursor.frame());
                self.confirm(&f)?;
                Some(Decoded::Frame(i, f, cursor.last_error.clone()))
            }
            None => Some(Decoded::End(cursor.last_error.clone())),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(SEQ_AHEAD);
        let mut handle = None;
        if first.is_some() {
            let (packets, index) = (Arc::clone(&self.packets), Arc::clone(&self.index));
            let h = std::thread::Builder::new()
                .name("kinema-seq-decode".into())
                .spawn(move || loop {
                    let msg = match cursor.next_frame(&packets, &index) {
                        Some(i) => Decoded::Frame(i, share(cursor.frame()), cursor.last_error.clone()),
                        None => Decoded::End(cursor.last_error.clone()),
                    };
                    let end = matches!(msg, Decoded::End(_));
                    // The receiver is gone when the caller dropped the pass: stop.
                    if tx.send(msg).is_err() || end {
                        return;
                    }
                })
                .map_err(|e| AvError::Io {
                    path: self.path.clone(),
                    source: e,
                })?;
            handle = Some(h);
        }
        Ok(SeqState {
            rx: Some(rx),
            handle,
            expect: 0,
            pending,
            last_error: None,
        })
    }

    /// Next frame of a sequential pass into `dst`; Ok(None) at the end. A frame that cannot be
    /// decoded is an error naming its index; the pass can go on after it.
    pub fn seq_next_into(&mut self, st: &mut SeqState, dst: &mut [u8]) -> Result<Option<usize>> {
        if st.expect >= self.len() {
            return Ok(None);
        }
        let got = match st.pending.take() {
            Some(m) => m,
            None => st
                .rx
                .as_ref()
                .and_then(|rx| rx.recv().ok())
                .unwrap_or(Decoded::End(None)),
        };
        let want = st.expect;
        match got {
            Decoded::Frame(i, f, err) if i == want => {
                st.last_error = err;
                st.expect += 1;
                self.convert(&f, dst)?;
                Ok(Some(i))
            }
            other => {
                let (Decoded::Frame(_, _, err) | Decoded::End(err)) = &other;
                if err.is_some() {
                    st.last_error = err.clone();
                }
                st.pending = Some(other);
                st.expect += 1;
                let why = st
                    .last_error
                    .clone()
                    .unwrap_or_else(|| no_picture(self.order_hint));
                Err(AvError::Decode {
                    path: self.path.clone(),
                    index: want,
                    reason: why,
                })
            }
        }
    }
}

/// What the sequential decoder thread hands over: a frame (with the decoder's last error, if
/// any), or the end of the stream.
enum Decoded {
    Frame(usize, frame::Video, Option<String>),
    End(Option<String>),
}

/// State of one sequential pass (`VideoReader::frames`).
pub(crate) struct SeqState {
    rx: Option<std::sync::mpsc::Receiver<Decoded>>,
    handle: Option<std::thread::JoinHandle<()>>,
    expect: usize,
    pending: Option<Decoded>,
    last_error: Option<String>,
}

impl Drop for SeqState {
    /// Closing the channel makes the decoder thread's next send fail; it is joined, so no
    /// thread outlives the pass (it finishes at most the frame it is decoding).
    fn drop(&mut self) {
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
