//! A response body sent in chunks of unknown total length.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};

/// The chunks of a body, sent one frame each; the size is never announced, so hyper uses
/// chunked transfer encoding.
#[derive(Debug)]
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
}

impl Chunks {
    pub(crate) fn new(mut body: Bytes, size: usize) -> Self {
        let mut chunks = VecDeque::new();
        while !body.is_empty() {
            chunks.push_back(body.split_to(size.min(body.len())));
        }
        Self { chunks }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_split_into_chunks_of_the_size_with_a_shorter_last_one() {
        let chunks = Chunks::new(Bytes::from_static(b"abcdefg"), 3);

        let sizes: Vec<_> = chunks.chunks.iter().map(Bytes::len).collect();

        assert_eq!(sizes, [3, 3, 1]);
    }
}
