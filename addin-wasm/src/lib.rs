//! Task pane logic.
