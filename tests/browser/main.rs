//! Browser tests: Rust starts the real stack, then a Node script drives headless Chromium
//! through `playwright-core`; one module per walk.

mod taskpane;
