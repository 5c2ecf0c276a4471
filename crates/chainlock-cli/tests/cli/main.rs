//! Integration tests of the `chainlock` binary: one module per topic, shared helpers in `util`.

mod artifact;
mod attest;
mod request;
mod diff;
mod tx;
mod key;
mod sign;
mod util;
