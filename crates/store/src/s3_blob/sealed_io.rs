//! The S3 store's sealed objects (format in `sealed.rs`): a writer that
//! seals what an upload segment or a blob receives, and a stream that
//! opens the segments a ranged GET returns.
//!
//! Each upload segment object (`<offset>.s`) is a sealed object of its
//! own, with its own data key wrapped for `<id>/<offset>`: S3 objects are
//! written once, so nothing is ever rewritten in place. A commit reads the
//! segments' plaintext and seals it once more into the blob's object (S3
//! cannot append a terminal or rewrite a header without copying anyway).

use crate::blob::UploadWriter;
use crate::sealed::{SealError, Sealer, SegmentKey, OVERHEAD, TERMINAL_LEN};
use crate::Result;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Seals what it is given into another writer: the header first, then
/// segments; `finish` ends an upload segment (its tail) or a blob (tail
/// and terminal). Returns the plaintext size, counted from `offset`.
pub(crate) struct SealingWriter {
    inner: Box<dyn UploadWriter>,
    sealer: Sealer,
    offset: u64,
    blob: bool,
}

impl SealingWriter {
    pub(crate) async fn new(
        mut inner: Box<dyn UploadWriter>,
        header: &crate::sealed::Header,
        key: SegmentKey,
        offset: u64,
        blob: bool,
    ) -> Result<SealingWriter> {
        inner
            .write(Bytes::copy_from_slice(&header.encode()))
            .await?;
        Ok(SealingWriter {
            inner,
            sealer: Sealer::new(key),
            offset,
            blob,
        })
    }
}

#[async_trait]
impl UploadWriter for SealingWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 1024 + OVERHEAD as usize);
        self.sealer.push(&chunk, &mut out);
        if out.is_empty() {
            return Ok(());
        }
        self.inner.write(out.into()).await
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        let SealingWriter {
            mut inner,
            sealer,
            offset,
            blob,
        } = *self;
        let mut out = Vec::new();
        let len = if blob {
            sealer.finish_blob(&mut out)
        } else {
            sealer.finish_upload(&mut out)
        };
        if !out.is_empty() {
            inner.write(out.into()).await?;
        }
        inner.finish().await?;
        Ok(offset + len)
    }
}

/// Which data segments of an object hold `range` of its plaintext, and
/// the sealed bytes to fetch for them (the terminal too, with `terminal`,
/// when they reach the object's end).
pub(crate) fn covering(
    segment: u32,
    plain_total: u64,
    range: &Range<u64>,
    terminal: bool,
) -> (Range<u64>, Range<u64>, bool) {
    let s = segment as u64;
    let stride = s + OVERHEAD;
    let segs = range.start / s..(range.end - 1) / s + 1;
    let start = crate::sealed::HEADER_LEN + segs.start * stride;
    let last = segs.end - 1;
    let mut end =
        crate::sealed::HEADER_LEN + last * stride + (plain_total - last * s).min(s) + OVERHEAD;
    let reaches_end = segs.end == plain_total.div_ceil(s);
    let with_terminal = terminal && reaches_end;
    if with_terminal {
        end += TERMINAL_LEN;
    }
    (segs, start..end, with_terminal)
}

/// Opens the segments of a ranged GET as they arrive, yielding exactly the
/// plaintext `range`; with a terminal to check, the stream fails unless it
/// proves the object's length. Memory: one segment.
pub(crate) struct OpenedStream {
    pub inner: BoxStream<'static, io::Result<Bytes>>,
    pub key: SegmentKey,
    pub plain_total: u64,
    pub segs: Range<u64>,
    pub range: Range<u64>,
    pub terminal: bool,
    pub what: String,
    pub buf: BytesMut,
    pub done: bool,
}

impl OpenedStream {
    fn tampered(&self, segment: u64) -> io::Error {
        SealError::Tampered {
            what: self.what.clone(),
            segment,
        }
        .into()
    }
}

impl Stream for OpenedStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let s = this.key.segment() as u64;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let seg = this.segs.start;
            let need = if seg < this.segs.end {
                ((this.plain_total - seg * s).min(s) + OVERHEAD) as usize
            } else if this.terminal {
                TERMINAL_LEN as usize
            } else {
                this.done = true;
                return Poll::Ready(None);
            };
            if this.buf.len() >= need {
                let mut chunk = this.buf.split_to(need);
                if seg >= this.segs.end {
                    this.terminal = false;
                    if !this.key.is_terminal(this.plain_total, &mut chunk) {
                        this.done = true;
                        return Poll::Ready(Some(Err(this.tampered(seg))));
                    }
                    continue;
                }
                this.segs.start += 1;
                let Some(plain) = this.key.open_upload_segment(seg, &mut chunk) else {
                    this.done = true;
                    return Poll::Ready(Some(Err(this.tampered(seg))));
                };
                let n = plain.len() as u64;
                let seg_start = seg * s;
                let from = this.range.start.max(seg_start) - seg_start;
                let to = this.range.end.min(seg_start + n).saturating_sub(seg_start);
                if from >= to {
                    continue;
                }
                let at = crate::sealed::NONCE_LEN as usize;
                let bytes = chunk.freeze().slice(at + from as usize..at + to as usize);
                return Poll::Ready(Some(Ok(bytes)));
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(b))) => this.buf.extend_from_slice(&b),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("sealed object {} ended early", this.what),
                    ))));
                }
            }
        }
    }
}
