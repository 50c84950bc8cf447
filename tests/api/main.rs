//! HTTP API tests against an in-process server on a loopback socket. One binary, one module per
//! area.

mod activities;
mod addin_manifest;
mod addin_tokens;
mod admin_auth;
mod admin_pages;
mod admin_rules_pages;
mod admin_settings_api;
mod admin_sync_pages;
mod calendar_notifications;
mod calendar_outlook;
mod calendar_rules;
mod calendar_sync;
mod cli;
mod hardening;
mod hot_path;
mod http_basics;
mod item_cache;
mod job_runtime;
mod ledger_follows;
mod pane_files;
mod secrets_at_rest;
mod signin_attack;
mod signin_policy;
