//! HTTP API tests against an in-process server on a loopback socket. One binary, one module per
//! area.

mod cli;
mod http_basics;
