//! Black-box tests: a real mock on port 0, driven over HTTP with reqwest.

mod anthropic;
mod behaviour;
mod gemini;
mod helpers;
mod openai;
