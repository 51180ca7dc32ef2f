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
use crate::sealed::{Layout, SealError, Sealer, SegmentKey, OVERHEAD, TERMINAL_LEN};
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

/// Which data segments of an object hold `range` of its plaintext (not
/// empty, within the object), and the sealed bytes to fetch for them: the
/// terminal too, with `terminal`, when they reach the object's end (it
/// follows the last data segment).
pub(crate) fn covering(
    layout: &Layout,
    range: &Range<u64>,
    terminal: bool,
) -> Result<(Range<u64>, Range<u64>, bool), SealError> {
    let (segs, mut bytes) = layout.covering(range)?;
    let with_terminal = terminal && segs.end == layout.segments();
    if with_terminal {
        bytes.end += TERMINAL_LEN;
    }
    Ok((segs, bytes, with_terminal))
}

/// Opens the segments of a ranged GET as they arrive, yielding exactly the
/// plaintext `range`; with a terminal to check, the stream fails unless it
/// proves the object's length. Memory: one segment.
pub(crate) struct OpenedStream {
    pub inner: BoxStream<'static, io::Result<Bytes>>,
    pub key: SegmentKey,
    pub layout: Layout,
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
        let s = this.layout.segment as u64;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let seg = this.segs.start;
            let need = if seg < this.segs.end {
                let r = this.layout.segment_range(seg);
                (r.end - r.start) as usize
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
                    if !this.key.is_terminal(this.layout.len, &mut chunk) {
                        this.done = true;
                        return Poll::Ready(Some(Err(this.tampered(seg))));
                    }
                    continue;
                }
                this.segs.start += 1;
                let Some(plain) = this.key.open_data_segment(seg, &mut chunk) else {
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
