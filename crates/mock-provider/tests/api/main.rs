//! Black-box tests: a real mock on port 0, driven over HTTP with reqwest.

// Helpers are test code too: a failed request or parse should fail the test on the spot.
#![allow(clippy::unwrap_used)]

mod anthropic;
mod behaviour;
mod cloud;
mod gemini;
mod helpers;
mod openai;
mod tls;
