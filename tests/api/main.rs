//! HTTP API tests against an in-process server on a loopback socket. One binary, one module per
//! area.

mod activities;
mod addin_manifest;
mod addin_tokens;
mod admin_auth;
mod admin_pages;
mod cli;
mod hot_path;
mod http_basics;
mod item_cache;
mod pane_files;
mod secrets_at_rest;
