//! A response body that keeps its request counted on its release until
//! the last byte is sent (or the client goes away), so a drain waits for
//! streaming answers too.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::Lease;

pub(super) struct LeasedBody {
    inner: Incoming,
    lease: Option<Lease>,
}

impl LeasedBody {
    pub(super) fn new(inner: Incoming, lease: Lease) -> Self {
        LeasedBody {
            inner,
            lease: Some(lease),
        }
    }
}

impl Body for LeasedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.lease = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
