//! Batches: frames in the order asked (duplicates allowed), each needed frame decoded once, in
//! sorted order, by random access (`random.rs`); larger batches convert on a second thread
//! while this one keeps decoding.

use std::collections::HashSet;

use ffmpeg::frame;
use ffmpeg_next as ffmpeg;

use super::random::IN_ORDER;
use super::{FileReader, SEQ_AHEAD};
use crate::convert::RgbOutput;
use crate::error::Result;
use crate::types::FrameBatch;

impl FileReader {
    /// Frames in the order asked; each needed frame decoded once, in sorted order.
    pub fn get_batch(&mut self, indices: &[usize]) -> Result<FrameBatch> {
        for &i in indices {
            self.check(i)?;
        }
        let mut order: Vec<(usize, usize)> = indices.iter().enumerate().map(|(slot, &i)| (i, slot)).collect();
        order.sort_unstable();
        // Allocated once the first frame has confirmed the layout.
        let mut out: Option<FrameBatch> = None;
        if order.is_empty() {
            return Ok(FrameBatch::zeros(
                0,
                self.info.out_height as usize,
                self.info.out_width as usize,
            ));
        }
        // A batch that starts right after the last read continues reading in order.
        self.note_read(order[0].0, order[order.len() - 1].0, IN_ORDER);
        let want: HashSet<usize> = indices.iter().copied().collect();
        self.fill_batch(indices.len(), &order, &want, &mut out)?;
        Ok(out.expect("at least one frame"))
    }

    fn fill_batch(
        &mut self,
        n: usize,
        order: &[(usize, usize)],
        want: &HashSet<usize>,
        out: &mut Option<FrameBatch>,
    ) -> Result<()> {
        // Unique indices, each with the output slots that want it.
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for &(t, slot) in order {
            match groups.last_mut() {
                Some((g, slots)) if *g == t => slots.push(slot),
                _ => groups.push((t, vec![slot])),
            }
        }
        // The first frame confirms the layout before the buffer is sized.
        let f = self.frame_at(groups[0].0, false, Some(want))?;
        self.confirm(&f)?;
        let fl = self.frame_len();
        let batch = out.insert(FrameBatch::zeros(
            n,
            self.info.out_height as usize,
            self.info.out_width as usize,
        ));
        let mut conv = self.output.take().expect("set by confirm");
        let path = self.path.clone();
        let write =
            move |conv: &mut RgbOutput, data: &mut [u8], f: &frame::Video, slots: &[usize]| -> Result<()> {
                let r = slots[0] * fl..(slots[0] + 1) * fl;
                conv.convert(f, &mut data[r.clone()])
                    .map_err(|e| e.into_av(&path))?;
                for &d in &slots[1..] {
                    data.copy_within(r.clone(), d * fl);
                }
                Ok(())
            };
        let first = write(&mut conv, &mut batch.data, &f, &groups[0].1);
        if first.is_err() || groups.len() < PIPELINE_MIN {
            let mut r = first;
            for (t, slots) in &groups[1..] {
                if r.is_err() {
                    break;
                }
                r = self
                    .frame_at(*t, false, Some(want))
                    .and_then(|f| write(&mut conv, &mut batch.data, &f, slots));
            }
            self.output = Some(conv);
            return r;
        }
        // Larger batches convert on a second thread while this one keeps decoding.
        let data = &mut batch.data;
        let (conv, r) = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(frame::Video, &[usize])>(SEQ_AHEAD);
            let worker = s.spawn(move || {
                let mut r = Ok(());
                for (f, slots) in rx {
                    r = write(&mut conv, data, &f, slots);
                    if r.is_err() {
                        break;
                    }
                }
                (conv, r)
            });
            let mut decoded = Ok(());
            for (t, slots) in &groups[1..] {
                match self.frame_at(*t, false, Some(want)) {
                    // A closed channel means the converter failed: its error is reported below.
                    Ok(f) => {
                        if tx.send((f, slots)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        decoded = Err(e);
                        break;
                    }
                }
            }
            drop(tx);
            let (conv, converted) = worker.join().expect("the converter thread does not panic");
            (conv, decoded.and(converted))
        });
        self.output = Some(conv);
        r
    }

    fn frame_len(&self) -> usize {
        self.info.out_width as usize * self.info.out_height as usize * 3
    }
}

/// Batches with at least this many distinct frames convert on a second thread.
const PIPELINE_MIN: usize = 8;
