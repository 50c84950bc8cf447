//! HTTP API tests against an in-process server on a loopback socket. One binary, one module per
//! area.

mod http_basics;
